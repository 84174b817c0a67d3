/**
 * Who may do what: the roles, the permission every operation needs, and the one function
 * that decides from a request context. The library, the CLI and the server all pass through
 * {@link authorize}, so they cannot disagree; the same context then writes the access event.
 * Pure: no I/O.
 */
import { GenlogError } from "../errors.js";

/** The roles, from least to most trusted. */
export const ROLES = ["writer", "auditor", "dpo", "admin", "superadmin"] as const;
export type Role = (typeof ROLES)[number];

/**
 * Every permission, with the roles that hold it. `superadmin` holds every permission in every
 * tenant; the others only in the tenant of their scope (or every tenant for a `*` scope).
 * `admin` administers but reads no records and no personal data; `auditor` reads records
 * (pseudonymised), proofs and reports; `dpo` is an auditor who may also read personal data,
 * export and erase subjects, and set legal holds.
 */
export const PERMISSIONS = {
  /** The tenant's origin and verifier key: public, but only to a principal of the tenant. */
  "keys.read": ["writer", "auditor", "dpo", "admin", "superadmin"],
  /** Append events. */
  "events.append": ["writer", "superadmin"],
  /** Read records (pseudonymised), query them, export the log. */
  "events.read": ["auditor", "dpo", "superadmin"],
  /** Checkpoints, inclusion and consistency proofs, verify. */
  "proofs.read": ["auditor", "dpo", "superadmin"],
  /** Reports (generation, GDPR) and the tenant's access log and access report. */
  "reports.read": ["auditor", "dpo", "superadmin"],
  /** Decrypted personal data (reveal). */
  "pii.read": ["dpo", "superadmin"],
  /** Subject access/portability export, erasure, legal holds. */
  "subjects.manage": ["dpo", "superadmin"],
  /** A tenant's info, size, retention and legal holds (no records). */
  "tenant.read": ["auditor", "dpo", "admin", "superadmin"],
  /** A tenant's settings: retention, purge, tokens, its followers (list, retry, skip, remove). */
  "tenant.admin": ["admin", "superadmin"],
  /**
   * Add a follower: it will hand every record of the tenant to a destination outside, so it
   * takes both administering and reading the records, which only `superadmin` holds (an
   * `admin` reads no record and must not be able to send them all out).
   */
  "followers.add": ["superadmin"],
  /** Instance-wide administration: create and list tenants, rotate the master key. */
  "instance.admin": ["superadmin"],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

/** The scope of a principal: one tenant, or every tenant (`*`). */
export const ALL_TENANTS = "*";

/** Who asks, in which role, over which tenants, why, and through what. */
export interface AccessContext {
  /** A stable id of the principal: `tok_…` for an API token, `oidc:<sub>`, `local:<user>`. */
  principal: string;
  role: Role;
  /** A tenant name, or {@link ALL_TENANTS}. */
  scope: string;
  /** The declared purpose of the access (`X-Genlog-Purpose`, `--purpose`). */
  purpose?: string;
  /** The surface: `library`, `cli` or `http`. */
  via: "library" | "cli" | "http";
  /** The client's address, for HTTP. */
  address?: string;
  /** The request, for HTTP: its method and route (`GET /v1/tenants/:tenant/events`). */
  route?: string;
}

/** A decision: allowed, or denied with the reason said to the caller and logged. */
export type Decision = { allowed: true } | { allowed: false; reason: string };

/**
 * Decides whether `context` may use `permission` on `tenant` (`*` for an instance-wide
 * operation). Deny by default: an unknown role or permission is denied.
 */
export function authorize(
  context: AccessContext,
  permission: Permission,
  tenant: string,
): Decision {
  const roles: readonly Role[] | undefined = Object.hasOwn(PERMISSIONS, permission)
    ? PERMISSIONS[permission]
    : undefined;
  if (roles === undefined || !roles.includes(context.role)) {
    return { allowed: false, reason: `role ${context.role} lacks ${permission}` };
  }
  if (context.role === "superadmin") return { allowed: true };
  if (context.scope !== ALL_TENANTS && context.scope !== tenant) {
    return {
      allowed: false,
      reason: `scope ${context.scope} does not cover tenant ${tenant}`,
    };
  }
  return { allowed: true };
}

/**
 * The roles a role may give a token: a token never holds what its maker does not. An
 * `admin` makes its tenant's ingest and administration tokens; reading roles (`auditor`,
 * `dpo`) are given by the operator (`superadmin`), so that administering a tenant never leads
 * to reading it.
 */
export const GRANTS: Readonly<Record<Role, readonly Role[]>> = {
  writer: [],
  auditor: [],
  dpo: [],
  admin: ["writer", "admin"],
  superadmin: ROLES,
};

/** Whether `context` may make (or revoke) a token of `role`; `authorize` decides the scope. */
export function mayGrant(context: AccessContext, role: Role): Decision {
  return GRANTS[context.role]?.includes(role) === true
    ? { allowed: true }
    : { allowed: false, reason: `role ${context.role} may not give or take a ${role} token` };
}

/** The error a denied call throws: the same text whatever surface it came through. */
export function forbidden(
  decision: { reason: string },
  permission: Permission,
  tenant: string,
): GenlogError {
  return new GenlogError("GENLOG_E_FORBIDDEN", `access denied: ${decision.reason}`, {
    details: { permission, tenant },
  });
}

/** True for a role name. */
export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** The longest purpose kept, in characters. */
export const MAX_PURPOSE = 200;

/**
 * A context checked at the edge: a known role, a principal id, a scope that is a tenant
 * name or `*` (superadmin: `*` only), a purpose of at most {@link MAX_PURPOSE} characters.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming the member.
 */
export function checkContext(context: AccessContext): AccessContext {
  const bad = (pointer: string, message: string) =>
    new GenlogError("GENLOG_E_INVALID_INPUT", `${pointer}: ${message}`, {
      details: { pointer, rule: "access" },
    });
  if (typeof context !== "object" || context === null) throw bad("", "expected a context");
  if (!isRole(context.role)) throw bad("/role", `expected one of ${ROLES.join(", ")}`);
  if (typeof context.principal !== "string" || !/^[\x21-\x7e]{1,200}$/.test(context.principal)) {
    throw bad("/principal", "expected a printable id of at most 200 characters");
  }
  if (typeof context.scope !== "string" || context.scope === "") {
    throw bad("/scope", "expected a tenant name or *");
  }
  if (context.role === "superadmin" && context.scope !== ALL_TENANTS) {
    throw bad("/scope", "a superadmin's scope is every tenant (*)");
  }
  if (
    context.purpose !== undefined &&
    (typeof context.purpose !== "string" ||
      context.purpose.length > MAX_PURPOSE ||
      !context.purpose.isWellFormed() ||
      /\p{Cc}/u.test(context.purpose))
  ) {
    throw bad("/purpose", `expected a text of at most ${MAX_PURPOSE} printable characters`);
  }
  for (const member of ["address", "route"] as const) {
    const v: unknown = context[member];
    if (v !== undefined && (typeof v !== "string" || !/^[\x20-\x7e]{1,300}$/.test(v))) {
      throw bad(`/${member}`, "expected printable ASCII of at most 300 characters");
    }
  }
  return context;
}
