/** Administration: tenants, tokens, retention and purge. */
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { ROLES } from "../../core/access.js";
import { SLUG_PATTERN } from "../../core/event-schema.js";
import { TenantParams, defined, described, tenantOf } from "./common.js";
import { typeboxCompiler } from "./validate.js";

const TenantBody = Type.Object(
  {
    tenant: Type.String({ pattern: SLUG_PATTERN }),
    region: Type.Optional(
      Type.String({ pattern: SLUG_PATTERN, description: "Where its data lives (residency)." }),
    ),
  },
  { additionalProperties: false },
);
const TokenBody = Type.Object(
  {
    role: Type.Union(ROLES.map((r) => Type.Literal(r))),
    expires: Type.Optional(
      Type.String({ maxLength: 64, description: "RFC 3339 date-time or date." }),
    ),
    label: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
const TokenParams = Type.Object(
  { tenant: TenantParams.properties.tenant, id: Type.String({ pattern: "^tok_[a-z2-7]{26}$" }) },
  { additionalProperties: false },
);
const RetentionBody = Type.Object(
  {
    days: Type.Integer({ minimum: 1, maximum: 36500 }),
    reason: Type.String({ minLength: 1, maxLength: 1000 }),
  },
  { additionalProperties: false },
);
const PurposeBody = Type.Object(
  { required: Type.Boolean(), reason: Type.String({ minLength: 1, maxLength: 1000 }) },
  { additionalProperties: false },
);
const RotateKeyBody = Type.Object(
  {
    reason: Type.String({
      minLength: 1,
      maxLength: 1000,
      description:
        "Why (routine, a suspected leak, an operator leaving): recorded with the rotation.",
    }),
  },
  { additionalProperties: false },
);
const PurgeBody = Type.Object(
  {
    before: Type.Optional(
      Type.String({ maxLength: 64, description: "Default: now minus the retention." }),
    ),
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const adminRoutes: FastifyPluginAsync = async (app) => {
  app.setValidatorCompiler(typeboxCompiler());

  app.get(
    "/tenants",
    {
      config: { permission: "tenant.read", operation: "tenants" },
      schema: described(
        "admin",
        "tenant.read",
        "Tenants",
        "Every tenant the token's scope covers, with its region, database and size.",
      ),
    },
    async (request) => request.genlog.tenants(),
  );

  app.post(
    "/tenants",
    {
      config: { permission: "instance.admin", operation: "createTenant" },
      schema: {
        ...described(
          "admin",
          "instance.admin",
          "Create a tenant",
          "Its signing key and log, in a region when `region` is given (its records then live only in that region's database). A tenant's region never changes.",
        ),
        body: TenantBody,
      },
    },
    async (request, reply) => {
      const { tenant, region } = request.body as Static<typeof TenantBody>;
      return reply.code(201).send(await request.genlog.createTenant(tenant, defined({ region })));
    },
  );

  app.get(
    "/tenants/:tenant",
    {
      config: { permission: "tenant.read", operation: "tenantInfo" },
      schema: { ...described("admin", "tenant.read", "One tenant"), params: TenantParams },
    },
    async (request) => request.genlog.tenantInfo(tenantOf(request)),
  );

  app.get(
    "/tenants/:tenant/tokens",
    {
      config: { permission: "tenant.admin", operation: "tokens" },
      schema: {
        ...described(
          "admin",
          "tenant.admin",
          "The tenant's API tokens",
          "Never the tokens themselves: id, role, expiry, revocation.",
        ),
        params: TenantParams,
      },
    },
    async (request) => request.genlog.tokens(tenantOf(request)),
  );

  app.post(
    "/tenants/:tenant/tokens",
    {
      config: { permission: "tenant.admin", operation: "createToken" },
      schema: {
        ...described(
          "admin",
          "tenant.admin",
          "Create an API token for the tenant",
          "256 random bits, in the answer only (the server keeps its SHA-256). A `superadmin` token covers every tenant: create it with `genlog token create --tenant '*'`.",
        ),
        params: TenantParams,
        body: TokenBody,
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof TokenBody>;
      const created = await request.genlog.createToken(
        defined({ ...body, scope: tenantOf(request) }),
      );
      return reply.code(201).header("cache-control", "no-store").send(created);
    },
  );

  app.delete(
    "/tenants/:tenant/tokens/:id",
    {
      config: { permission: "tenant.admin", operation: "revokeToken" },
      schema: { ...described("admin", "tenant.admin", "Revoke a token"), params: TokenParams },
    },
    async (request) => {
      const { id } = request.params as Static<typeof TokenParams>;
      return request.genlog.revokeToken(id, { scope: tenantOf(request) });
    },
  );

  app.get(
    "/tenants/:tenant/retention",
    {
      config: { permission: "tenant.read", operation: "retention" },
      schema: {
        ...described("admin", "tenant.read", "The tenant's retention"),
        params: TenantParams,
      },
    },
    async (request) => request.genlog.retention(tenantOf(request)),
  );

  app.get(
    "/tenants/:tenant/policies",
    {
      config: { permission: "tenant.read", operation: "policies" },
      schema: {
        ...described(
          "admin",
          "tenant.read",
          "Every policy the tenant is under",
          "`{tenant, privacy, privacySource, purposeRequired, retention}`: the privacy policy in force as the server was configured (`privacySource`: `tenant`, `default` or `built-in`, the strict preset, with `privacy` null), whether accesses must declare a purpose, and the retention. The privacy policy is configuration (a policy file read at start-up), never changed by an API call, so that no token can weaken what is redacted; the purpose policy and the retention have their own `PUT` routes.",
        ),
        params: TenantParams,
      },
    },
    async (request) => request.genlog.policies(tenantOf(request)),
  );

  app.put(
    "/tenants/:tenant/retention",
    {
      config: { permission: "tenant.admin", operation: "setRetention" },
      schema: {
        ...described(
          "admin",
          "tenant.admin",
          "Set the tenant's retention",
          "Recorded as a `genlog.retention` event with the reason; `belowAiActMinimum` says when it is under the EU AI Act's six months.",
        ),
        params: TenantParams,
        body: RetentionBody,
      },
    },
    async (request) =>
      request.genlog.setRetention({
        ...(request.body as Static<typeof RetentionBody>),
        tenant: tenantOf(request),
      }),
  );

  app.get(
    "/tenants/:tenant/purpose-policy",
    {
      config: { permission: "tenant.read", operation: "purposeRequired" },
      schema: {
        ...described(
          "admin",
          "tenant.read",
          "Whether the tenant requires a declared purpose",
          "`{tenant, required}`.",
        ),
        params: TenantParams,
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      return { tenant, required: await request.genlog.purposeRequired(tenant) };
    },
  );

  app.put(
    "/tenants/:tenant/purpose-policy",
    {
      config: { permission: "tenant.admin", operation: "setPurposeRequired" },
      schema: {
        ...described(
          "admin",
          "tenant.admin",
          "Require a declared purpose, or stop requiring it",
          "With `required: true`, every access to the tenant but reading its verifier key must send `X-Genlog-Purpose`; one without is denied (403) and recorded. Recorded as a `genlog.purpose-policy` event with the reason.",
        ),
        params: TenantParams,
        body: PurposeBody,
      },
    },
    async (request) =>
      request.genlog.setPurposeRequired({
        ...(request.body as Static<typeof PurposeBody>),
        tenant: tenantOf(request),
      }),
  );

  app.post(
    "/tenants/:tenant/keys/rotate",
    {
      config: { permission: "tenant.admin", operation: "rotateKey" },
      schema: {
        ...described(
          "admin",
          "tenant.admin",
          "Rotate the tenant's signing key",
          "A new key signs from the next checkpoint on. Each of the tenant's logs records a `genlog.key-rotation` event naming the old and the new verifier key, in a checkpoint both keys sign; the old key file is replaced and its private key is gone, while its verifier key stays valid for the checkpoints it signed (`GET .../key` lists both). `{tenant, previous, next, logs}`.",
        ),
        params: TenantParams,
        body: RotateKeyBody,
      },
    },
    async (request) =>
      request.genlog.rotateKey({
        ...(request.body as Static<typeof RotateKeyBody>),
        tenant: tenantOf(request),
      }),
  );

  app.post(
    "/tenants/:tenant/purge",
    {
      config: { permission: "tenant.admin", operation: "purge" },
      schema: {
        ...described(
          "admin",
          "tenant.admin",
          "Purge records past retention",
          "Deletes the bodies and envelopes of records older than the cutoff and keeps the tree: old checkpoints and the proofs of the remaining entries still verify.",
        ),
        params: TenantParams,
        body: Type.Optional(PurgeBody),
      },
    },
    async (request) =>
      request.genlog.purge(
        defined({
          ...((request.body ?? {}) as Static<typeof PurgeBody>),
          tenant: tenantOf(request),
        }),
      ),
  );
};
