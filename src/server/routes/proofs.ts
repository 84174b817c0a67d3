/** Checkpoints, inclusion and consistency proofs, and verify. */
import { Type, type Static } from "@sinclair/typebox";
import { PassThrough } from "node:stream";
import type { FastifyPluginAsync } from "fastify";
import { isGenlogError } from "../../errors.js";
import { clientBody } from "../http-errors.js";
import type { Metrics } from "../metrics.js";
import { TenantParams, defined, described, tenantOf } from "./common.js";
import { typeboxCompiler } from "./validate.js";

const Size = (description: string) => Type.Integer({ minimum: 0, description });

export const proofRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.setValidatorCompiler(typeboxCompiler());

  app.get(
    "/tenants/:tenant/key",
    {
      config: { permission: "keys.read", operation: "keyInfo" },
      schema: {
        ...described(
          "proofs",
          "keys.read",
          "The tenant's origin and verifier key",
          "`{tenant, origin, verifierKey, keys}`: the signed-note verifier key that checks the tenant's checkpoints, and `keys`, every key that signed them with the sizes it signs (`{verifierKey, from, to}`, `to` null for the key in use; more than one once the key was rotated). Publish them where auditors can pin them.",
        ),
        params: TenantParams,
      },
    },
    async (request) => request.genlog.keyInfo(tenantOf(request)),
  );

  const CheckpointQuery = Type.Object(
    {
      size: Type.Optional(
        Size("The checkpoint issued at exactly this size (default: the latest)."),
      ),
    },
    { additionalProperties: false },
  );
  app.get(
    "/tenants/:tenant/checkpoint",
    {
      config: { permission: "proofs.read", operation: "checkpoint" },
      schema: {
        ...described(
          "proofs",
          "proofs.read",
          "The latest signed checkpoint",
          "The C2SP signed note (text/plain): origin, tree size, root hash, and the Ed25519 signature, checkable with the tenant's verifier key by any transparency-log tool.",
        ),
        params: TenantParams,
        querystring: CheckpointQuery,
        produces: ["text/plain"],
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const { size } = request.query as Static<typeof CheckpointQuery>;
      const note =
        size === undefined
          ? await request.genlog.checkpoint(tenant)
          : await request.genlog.checkpointAt(size, tenant);
      if (note === undefined) {
        return reply.code(404).send({
          code: "GENLOG_E_NOT_FOUND",
          message: `tenant ${tenant} has no checkpoint yet: append a record first`,
          details: {},
        });
      }
      return reply.type("text/plain; charset=utf-8").send(note);
    },
  );

  const InclusionParams = Type.Object(
    {
      tenant: TenantParams.properties.tenant,
      id: Type.String({ pattern: "^[0-9A-Za-z-]{1,36}$", description: "A record id or seq." }),
    },
    { additionalProperties: false },
  );
  const InclusionQuery = Type.Object(
    {
      treeSize: Type.Optional(Size("Prove in the tree of this checkpoint (default: the latest).")),
    },
    { additionalProperties: false },
  );
  app.get(
    "/tenants/:tenant/proofs/inclusion/:id",
    {
      config: { permission: "proofs.read", operation: "inclusionProof" },
      schema: {
        ...described(
          "proofs",
          "proofs.read",
          "Inclusion proof of a record",
          "RFC 9162 inclusion proof of the record in the tree of a signed checkpoint, with the checkpoint and the record. Check it with `checkInclusionProof` or `genlog verify`.",
        ),
        params: InclusionParams,
        querystring: InclusionQuery,
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof InclusionParams>;
      const q = request.query as Static<typeof InclusionQuery>;
      const stop = metrics.proofSeconds.startTimer({ kind: "inclusion" });
      const proof = await request.genlog.inclusionProof(
        id,
        defined({ tenant: tenantOf(request), treeSize: q.treeSize }),
      );
      stop();
      return proof;
    },
  );

  const ConsistencyQuery = Type.Object(
    {
      from: Size("Size of the older checkpoint."),
      to: Type.Optional(Size("Size of the newer checkpoint (default: the latest).")),
    },
    { additionalProperties: false },
  );
  app.get(
    "/tenants/:tenant/proofs/consistency",
    {
      config: { permission: "proofs.read", operation: "consistencyProof" },
      schema: {
        ...described(
          "proofs",
          "proofs.read",
          "Consistency proof between two checkpoints",
          "RFC 9162 consistency proof that the tree at `to` extends the tree at `from`.",
        ),
        params: TenantParams,
        querystring: ConsistencyQuery,
      },
    },
    async (request) => {
      const q = request.query as Static<typeof ConsistencyQuery>;
      const stop = metrics.proofSeconds.startTimer({ kind: "consistency" });
      const proof = await request.genlog.consistencyProof(
        q.from,
        defined({ tenant: tenantOf(request), to: q.to }),
      );
      stop();
      return proof;
    },
  );

  const VerifyBody = Type.Object(
    {
      stream: Type.Optional(Type.Union([Type.Literal("events"), Type.Literal("access")])),
      trusted: Type.Optional(
        Type.String({ maxLength: 8192, description: "A signed checkpoint the log must extend." }),
      ),
    },
    { additionalProperties: false },
  );
  app.post(
    "/tenants/:tenant/verify",
    {
      config: { permission: "proofs.read", operation: "verify" },
      schema: {
        ...described(
          "proofs",
          "proofs.read",
          "Verify a log end to end",
          'Recomputes every leaf, root and signature of the tenant\'s events (or access) log and checks every stored copy; the report names each entry changed, dropped, reordered or inserted. Reads the whole log. With `Accept: application/x-ndjson`, the answer streams a line `{"progress": {"done", "total"}}` every 4096 entries, then `{"report": …}` (or `{"error": …}` if it fails past the first line).',
        ),
        params: TenantParams,
        body: Type.Optional(VerifyBody),
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as Static<typeof VerifyBody>;
      const options = defined({ tenant: tenantOf(request), ...body });
      if (!/\bapplication\/x-ndjson\b/.test(request.headers.accept ?? "")) {
        return request.genlog.verify(options);
      }
      // Streamed: a line `{"progress": {done, total}}` every 4096 entries, then `{"report"}`.
      // The answer starts with the first progress, which comes after the access was
      // authorised: a refused request is still a plain error with its status.
      const out = new PassThrough();
      // `reply.sent` turns true only once the answer has ended: the stream keeps its own flag.
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        void reply.type("application/x-ndjson").header("cache-control", "no-store").send(out);
      };
      // A client gone stops the lines, not the verification (a read, bounded by the log).
      let gone = false;
      reply.raw.once("close", () => (gone = !reply.raw.writableFinished));
      const line = (value: unknown) => {
        if (!gone) out.write(`${JSON.stringify(value)}\n`);
      };
      try {
        const report = await request.genlog.verify({
          ...options,
          onProgress: (done, total) => {
            start();
            line({ progress: { done, total } });
          },
        });
        start();
        line({ report });
      } catch (e) {
        if (!started) throw e;
        // Past the status line: the failure is the stream's last line.
        const error = isGenlogError(e)
          ? clientBody(e.toJSON(), request.genlog)
          : { code: null, message: "unexpected failure", details: {} };
        if (!isGenlogError(e)) request.log.error({ err: e }, "genlog: verify failed");
        line({ error });
      }
      out.end();
      return reply;
    },
  );
};
