/**
 * Events: append one or a batch (`POST events`, with `Idempotency-Key`), list and search
 * (`GET events`), one record with its proof (`GET events/{id}`), and the NDJSON export.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { GenerationEventSchema } from "../../core/event-schema.js";
import type { GenerationEventInput } from "../../genlog.js";
import type { Metrics } from "../metrics.js";
import { requestError } from "../http-errors.js";
import { PageQuery, TenantParams, defined, described, tenantOf } from "./common.js";
import { VALIDATED_BY_LIBRARY, typeboxCompiler } from "./validate.js";

const IdParams = Type.Object(
  {
    tenant: TenantParams.properties.tenant,
    id: Type.String({
      pattern:
        "^([0-9]{1,15}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
      description: "A record id (UUID) or seq.",
    }),
  },
  { additionalProperties: false },
);

const EventsQuery = Type.Object(
  {
    type: Type.Optional(Type.String({ maxLength: 64 })),
    actor: Type.Optional(Type.String({ maxLength: 64, description: "A pseudonym (sub_…)." })),
    sector: Type.Optional(Type.String({ maxLength: 64 })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The id an `Idempotency-Key` gives the `index`-th event of a request: a UUIDv8 of its hash. */
export function idempotentId(key: string, index: number): string {
  const b = createHash("sha256").update(`genlog idempotency\n${key}\n${index}`).digest();
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const eventRoutes: FastifyPluginAsync<{ maxBatch: number; metrics: Metrics }> = async (
  app,
  { maxBatch, metrics },
) => {
  app.setValidatorCompiler(typeboxCompiler());

  app.post(
    "/tenants/:tenant/events",
    {
      config: { permission: "events.append", operation: "append" },
      schema: {
        ...described(
          "events",
          "events.append",
          "Append one event, or a batch",
          `One event (an object) or a batch (an array of up to ${maxBatch}). Every event is validated before any is appended: one bad event fails the request, naming it (\`/3/type\`), and nothing is stored. An \`Idempotency-Key\` header makes a retried request return the first records (status 200) instead of logging twice; an event's \`tenant\`, when given, must be the path's.`,
        ),
        params: TenantParams,
        headers: Type.Object({
          "idempotency-key": Type.Optional(Type.String({ maxLength: 255 })),
        }),
        body: Type.Union(
          [
            GenerationEventSchema,
            Type.Array(GenerationEventSchema, { minItems: 1, maxItems: maxBatch }),
          ],
          VALIDATED_BY_LIBRARY,
        ),
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const body: unknown = request.body;
      const batch = Array.isArray(body);
      const items: unknown[] = batch ? body : [body];
      if (items.length === 0 || items.length > maxBatch) {
        throw requestError(
          "",
          "maxItems",
          `expected 1 to ${maxBatch} events in a batch, got ${items.length}`,
        );
      }
      const keyHeader = request.headers["idempotency-key"];
      if (
        keyHeader !== undefined &&
        (typeof keyHeader !== "string" || !IDEMPOTENCY_KEY.test(keyHeader))
      ) {
        throw requestError(
          "/headers/idempotency-key",
          "pattern",
          "Idempotency-Key: expected one header of 1 to 255 printable ASCII characters",
        );
      }
      // The tenant is the path's, and an Idempotency-Key names the events' ids; the library
      // checks every event before it appends the first.
      const events = items.map((item, i) => {
        const at = batch ? `/${i}` : "";
        if (typeof item !== "object" || item === null || Array.isArray(item)) return item;
        const fields = item as Record<string, unknown>;
        if (fields["tenant"] !== undefined && fields["tenant"] !== tenant) {
          throw requestError(
            `${at}/tenant`,
            "tenant",
            `${at}/tenant: the event names tenant ${JSON.stringify(fields["tenant"]).slice(0, 80)}, but the request is for ${tenant}: a request's tenant is the one in its path`,
          );
        }
        if (keyHeader === undefined) return { ...fields, tenant };
        if (fields["id"] !== undefined) {
          throw requestError(
            `${at}/id`,
            "exclusive",
            `${at}/id: give an Idempotency-Key header or event ids, not both`,
          );
        }
        return { ...fields, tenant, id: idempotentId(keyHeader, i) };
      }) as GenerationEventInput[];
      const started = process.hrtime.bigint();
      const results = batch
        ? await request.genlog.appendBatch(events)
        : [await request.genlog.appendWithStatus(events[0]!)];
      metrics.appendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      metrics.batchSize.observe(events.length);
      metrics.appended.inc(events.length);
      const repeated = results.every((r) => r.duplicate);
      void reply.code(repeated ? 200 : 201);
      if (!batch) return results[0]!.record;
      return {
        records: results.map((r) => r.record),
        duplicates: results.filter((r) => r.duplicate).length,
      };
    },
  );

  app.get(
    "/tenants/:tenant/events",
    {
      config: { permission: "events.read", operation: "query" },
      schema: {
        ...described(
          "events",
          "events.read",
          "List and search records",
          "Records matching every filter, in log order, a page at a time: pass the `nextCursor` of a page to get the next (null on the last). Actors are pseudonyms; a person is found by a DPO through the subject routes, so that no person's id travels in a URL.",
        ),
        params: TenantParams,
        querystring: EventsQuery,
      },
    },
    async (request) => {
      const q = request.query as Static<typeof EventsQuery>;
      return request.genlog.query(defined({ ...q, tenant: tenantOf(request) }));
    },
  );

  const ProofQuery = Type.Object(
    {
      proof: Type.Optional(
        Type.Boolean({ description: "Add the inclusion proof and checkpoint." }),
      ),
    },
    { additionalProperties: false },
  );
  app.get(
    "/tenants/:tenant/events/:id",
    {
      config: { permission: "events.read", operation: "get" },
      schema: {
        ...described(
          "events",
          "events.read",
          "One record",
          "A record by id or seq. With `?proof=true`, `{record, proof}`: its inclusion proof in the tree of the latest signed checkpoint (needs `proofs.read` too).",
        ),
        params: IdParams,
        querystring: ProofQuery,
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const tenant = tenantOf(request);
      if ((request.query as Static<typeof ProofQuery>).proof === true) {
        const { record, ...proof } = await request.genlog.inclusionProof(id, { tenant });
        return { record, proof };
      }
      return request.genlog.get(id, tenant);
    },
  );

  const ExportQuery = Type.Object(
    {
      anonymised: Type.Optional(
        Type.Boolean({
          description:
            "Pseudonyms and hash tokens replaced by ids drawn for this export, envelopes dropped (proves nothing).",
        }),
      ),
    },
    { additionalProperties: false },
  );
  app.get(
    "/tenants/:tenant/export",
    {
      config: { permission: "events.read", operation: "exportCanonical" },
      schema: {
        ...described(
          "events",
          "events.read",
          "Export the log as NDJSON",
          "Every record, one per line, exactly as committed (each line is the text its leaf hashes), streamed.",
        ),
        params: TenantParams,
        querystring: ExportQuery,
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const anonymised = (request.query as Static<typeof ExportQuery>).anonymised === true;
      const lines = anonymised
        ? request.genlog.exportAnonymised(tenant)
        : request.genlog.exportCanonical(tenant);
      // The first line is pulled before the answer starts: a refusal is still a 403, not a cut stream.
      const it = lines[Symbol.asyncIterator]();
      const first = await it.next();
      async function* ndjson() {
        if (first.done === true) return;
        yield `${first.value}\n`;
        for (let r = await it.next(); r.done !== true; r = await it.next()) yield `${r.value}\n`;
      }
      return reply.type("application/x-ndjson").send(Readable.from(ndjson()));
    },
  );
};
