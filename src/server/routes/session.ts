/** `GET /v1/session`: who the token is, so that a client (the console) shows what it may do. */
import type { FastifyPluginAsync } from "fastify";
import { PERMISSIONS, type Permission } from "../../core/access.js";

export const sessionRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    "/session",
    {
      config: { operation: "session" },
      schema: {
        tags: ["session"],
        summary: "The token's principal, role, scope and permissions",
        description:
          "`{principal, role, scope, permissions}`: who the bearer token is and what its role may do (`scope` is its tenant, or `*`). It reads nothing of a tenant, so it is not recorded in an access log; whatever a client does next is decided, and recorded, by each route. Any valid token may ask.\n\nPermission: `any`.",
      },
    },
    async (request) => {
      const { principal, role, scope } = request.genlog.context;
      const permissions = (Object.keys(PERMISSIONS) as Permission[]).filter((p) =>
        (PERMISSIONS[p] as readonly string[]).includes(role),
      );
      return { principal, role, scope, permissions };
    },
  );
};
