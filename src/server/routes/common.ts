/** What the routes share: the tenant in the path, and a page's query parameters. */
import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { SLUG_PATTERN, STATUSES } from "../../core/event-schema.js";

/** `{tenant}`: a slug, so that no path trick (`..`, `%2F`) names anything else. */
export const TenantParams = Type.Object(
  { tenant: Type.String({ pattern: SLUG_PATTERN, description: "The tenant, a slug." }) },
  { additionalProperties: false },
);

/** The time window and paging of a list. */
export const PageQuery = {
  since: Type.Optional(
    Type.String({ description: "Inclusive lower bound on `ts` (RFC 3339 date-time or date)." }),
  ),
  until: Type.Optional(Type.String({ description: "Exclusive upper bound on `ts`." })),
  status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(
    Type.String({ maxLength: 64, description: "The `nextCursor` of the previous page." }),
  ),
};

/** The tenant of a request: the one in its path, never one its body names. */
export function tenantOf(request: FastifyRequest): string {
  return (request.params as { tenant: string }).tenant;
}

/** An object without its undefined members (the library refuses explicit undefined options). */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** A route's tag and permission, shown in the OpenAPI document. */
export function described(tag: string, permission: string, summary: string, description?: string) {
  return {
    tags: [tag],
    summary,
    description: `${description ?? summary}\n\nPermission: \`${permission}\`.`,
  };
}
