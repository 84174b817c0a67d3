/**
 * Followers over HTTP: list, add, retry, skip and remove a tenant's followers (admin). The
 * server also runs them (`genlog serve`); see docs/guides/plugins.md.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { TenantParams, described, tenantOf } from "./common.js";
import { typeboxCompiler } from "./validate.js";

const NAME = "^[a-z0-9][a-z0-9-]{0,62}$";

const FollowerParams = Type.Object(
  { tenant: TenantParams.properties.tenant, name: Type.String({ pattern: NAME }) },
  { additionalProperties: false },
);
const FollowerBody = Type.Object(
  {
    name: Type.String({ pattern: NAME, description: "Unique in the tenant." }),
    kind: Type.String({
      maxLength: 64,
      description: "`webhook`, `siem`, `file-sink`, `report` or `ipfs`.",
    }),
    config: Type.Unknown({
      description:
        "The kind's options: a webhook's `{url}`, a siem's `{url, format?}`, a file-sink's `{format?, maxBytes?, maxAgeSeconds?, keep?}`, each with the filters `types?`, `sectors?`, `statuses?`, `critical?`; a report's `{period?, url?}`; an ipfs follower's `{period?, kubo?, pinning?, origins?, allowPersonalData?}`.",
    }),
    secret: Type.Optional(
      Type.String({
        maxLength: 4096,
        description:
          "A webhook's `whsec_…` secret, or a siem's bearer token; stored sealed, never shown again.",
      }),
    ),
    fromStart: Type.Optional(
      Type.Boolean({ description: "Hand over the records already in the log too." }),
    ),
  },
  { additionalProperties: false },
);

export const followerRoutes: FastifyPluginAsync = async (app) => {
  app.setValidatorCompiler(typeboxCompiler());

  app.get(
    "/tenants/:tenant/followers",
    {
      config: { permission: "tenant.admin", operation: "followers" },
      schema: {
        ...described(
          "followers",
          "tenant.admin",
          "The tenant's followers",
          "Each follower's target, cursor (the seq of the next record it hands over), how far behind it is, its failures, next try and dead letters; never its secret.",
        ),
        params: TenantParams,
      },
    },
    async (request) => request.genlog.followers(tenantOf(request)),
  );

  app.post(
    "/tenants/:tenant/followers",
    {
      config: { permission: "followers.add", operation: "addFollower" },
      schema: {
        ...described(
          "followers",
          "followers.add",
          "Add a follower",
          "From the next committed record on (every record with `fromStart`), the server hands each record of the tenant's events log to the follower, in order: a webhook POSTs it signed as Standard Webhooks says. A follower sends every record out, so adding one takes `followers.add` (superadmin). The URL must be https, to a public address, unless the operator allows private networks. 201 with the follower; 409 when the name is taken.",
        ),
        params: TenantParams,
        body: FollowerBody,
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof FollowerBody>;
      const info = await request.genlog.addFollower({ ...body, tenant: tenantOf(request) });
      return reply.code(201).send(info);
    },
  );

  app.post(
    "/tenants/:tenant/followers/:name/retry",
    {
      config: { permission: "tenant.admin", operation: "retryFollower" },
      schema: {
        ...described(
          "followers",
          "tenant.admin",
          "Retry a follower now",
          "Its current record without waiting for the backoff, a follower stopped by a 410 restarted, and its dead letters handed over again.",
        ),
        params: FollowerParams,
      },
    },
    async (request) => {
      const { name } = request.params as Static<typeof FollowerParams>;
      return request.genlog.retryFollower({ name, tenant: tenantOf(request) });
    },
  );

  app.post(
    "/tenants/:tenant/followers/:name/skip",
    {
      config: { permission: "tenant.admin", operation: "skipFollower" },
      schema: {
        ...described(
          "followers",
          "tenant.admin",
          "Skip a follower's current record",
          "The record becomes a dead letter (retry hands it over later) and the follower goes on. 409 when it has caught up.",
        ),
        params: FollowerParams,
      },
    },
    async (request) => {
      const { name } = request.params as Static<typeof FollowerParams>;
      return request.genlog.skipFollower({ name, tenant: tenantOf(request) });
    },
  );

  app.delete(
    "/tenants/:tenant/followers/:name",
    {
      config: { permission: "tenant.admin", operation: "removeFollower" },
      schema: {
        ...described("followers", "tenant.admin", "Remove a follower and its dead letters"),
        params: FollowerParams,
      },
    },
    async (request, reply) => {
      const { name } = request.params as Static<typeof FollowerParams>;
      await request.genlog.removeFollower({ name, tenant: tenantOf(request) });
      return reply.code(204).send();
    },
  );
};
