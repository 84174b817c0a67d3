/** A DPO's routes: subject export and erasure, legal holds. */
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { TenantParams, defined, described, tenantOf } from "./common.js";
import { typeboxCompiler } from "./validate.js";

const Selector = {
  subject: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description: "The person's id as the platform sent it.",
    }),
  ),
  pseudonym: Type.Optional(Type.String({ pattern: "^sub_[a-z2-7]{26}$" })),
};
const Reason = Type.String({
  minLength: 1,
  maxLength: 1000,
  description: 'Why (e.g. "GDPR Art. 17 request #1234"); recorded with the system event.',
});
const ExportBody = Type.Object(Selector, { additionalProperties: false });
const EraseBody = Type.Object({ ...Selector, reason: Reason }, { additionalProperties: false });
const HoldBody = Type.Object({ ...Selector, reason: Reason }, { additionalProperties: false });

export const subjectRoutes: FastifyPluginAsync = async (app) => {
  app.setValidatorCompiler(typeboxCompiler());

  app.post(
    "/tenants/:tenant/subjects/export",
    {
      config: { permission: "subjects.manage", operation: "exportSubject" },
      schema: {
        ...described(
          "subjects",
          "subjects.manage",
          "A subject's export (GDPR Art. 15 and 20)",
          "Every record of the person, decrypted, each with its inclusion proof, and the data keys that let a reader check the decrypted view against the committed envelopes (`genlog verify --export`). Give `subject` or `pseudonym`. The person's id travels in the body, never in the URL.",
        ),
        params: TenantParams,
        body: ExportBody,
      },
    },
    async (request) =>
      request.genlog.exportSubject(
        defined({ ...(request.body as Static<typeof ExportBody>), tenant: tenantOf(request) }),
      ),
  );

  app.post(
    "/tenants/:tenant/subjects/erase",
    {
      config: { permission: "subjects.manage", operation: "eraseSubject" },
      schema: {
        ...described(
          "subjects",
          "subjects.manage",
          "Erase a subject (GDPR Art. 17)",
          "Destroys the person's data key and lookup value with a `genlog.erasure` system event: their envelopes become noise, every proof still verifies. 409 `GENLOG_E_HELD` under a legal hold.",
        ),
        params: TenantParams,
        body: EraseBody,
      },
    },
    async (request) =>
      request.genlog.eraseSubject(
        defined({ ...(request.body as Static<typeof EraseBody>), tenant: tenantOf(request) }),
      ),
  );

  app.get(
    "/tenants/:tenant/holds",
    {
      config: { permission: "tenant.read", operation: "holds" },
      schema: {
        ...described("subjects", "tenant.read", "Legal holds in force"),
        params: TenantParams,
      },
    },
    async (request) => request.genlog.holds(tenantOf(request)),
  );

  app.post(
    "/tenants/:tenant/holds",
    {
      config: { permission: "subjects.manage", operation: "setHold" },
      schema: {
        ...described(
          "subjects",
          "subjects.manage",
          "Set a legal hold",
          "On a subject, or on the whole tenant when neither `subject` nor `pseudonym` is given: erasure and purge are refused until it is released.",
        ),
        params: TenantParams,
        body: HoldBody,
      },
    },
    async (request, reply) => {
      const record = await request.genlog.setHold(
        defined({ ...(request.body as Static<typeof HoldBody>), tenant: tenantOf(request) }),
      );
      return reply.code(201).send(record);
    },
  );

  app.post(
    "/tenants/:tenant/holds/release",
    {
      config: { permission: "subjects.manage", operation: "releaseHold" },
      schema: {
        ...described("subjects", "subjects.manage", "Release a legal hold"),
        params: TenantParams,
        body: HoldBody,
      },
    },
    async (request) =>
      request.genlog.releaseHold(
        defined({ ...(request.body as Static<typeof HoldBody>), tenant: tenantOf(request) }),
      ),
  );
};
