/**
 * API tokens: 256 random bits shown once to whoever creates them, stored only as their
 * SHA-256 (a hash of that much entropy needs no slow KDF), each scoped to one tenant or all,
 * with one role, an optional expiry, and revocable. {@link authenticate} turns a token into
 * the request context that {@link authorize} decides on.
 */
import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import { GenlogError } from "../errors.js";
import { base32 } from "../core/base32.js";
import { ALL_TENANTS, ROLES, isRole, type AccessContext, type Role } from "../core/access.js";
import { SLUG_PATTERN, describeValue } from "../core/event-schema.js";
import { rfc3339ToEpochMs } from "../core/rfc3339.js";
import type { LogStore, TokenRow } from "../store/log-store.js";

/** Every token starts with this, so that secret scanners (and genlog's redactor) can spot one. */
export const TOKEN_PREFIX = "glt_";
const TOKEN_FORM = /^glt_[A-Za-z0-9_-]{43}$/;
const ID_FORM = /^tok_[a-z2-7]{26}$/;

/** A token as listed: everything but its hash. */
export interface TokenInfo {
  id: string;
  scope: string;
  role: Role;
  label: string;
  created: string;
  expires: string | null;
  revoked: string | null;
}

/** A token just created: the only time `token` is ever shown. */
export interface NewToken extends TokenInfo {
  token: string;
}

/** What {@link createToken} takes. */
export interface TokenOptions {
  /** A tenant name, or `*` for every tenant (required for `superadmin`). */
  scope: string;
  role: Role;
  /** A note for humans (who holds it, what for); at most 100 characters. */
  label?: string;
  /** RFC 3339 date-time or date after which the token is refused. */
  expires?: string;
}

/**
 * Checks the options at the edge and makes a token and the row that stores its hash.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming `/scope`, `/role`, `/label` or `/expires`.
 */
export function newToken(
  options: TokenOptions,
  now = Date.now(),
): { row: TokenRow; token: string } {
  const bad = (pointer: string, message: string) =>
    new GenlogError("GENLOG_E_INVALID_INPUT", `${pointer}: ${message}`, {
      details: { pointer, rule: "token" },
    });
  if (!isRole(options.role)) {
    throw bad("/role", `expected one of ${ROLES.join(", ")}, got ${describeValue(options.role)}`);
  }
  const scope: unknown = options.scope;
  if (
    scope !== ALL_TENANTS &&
    (typeof scope !== "string" || !new RegExp(SLUG_PATTERN).test(scope))
  ) {
    throw bad("/scope", `expected a tenant name or *, got ${describeValue(scope)}`);
  }
  if (options.role === "superadmin" && scope !== ALL_TENANTS) {
    throw bad("/scope", "a superadmin token covers every tenant: give --tenant '*'");
  }
  const label = options.label ?? "";
  if (typeof label !== "string" || label.length > 100 || /\p{Cc}/u.test(label)) {
    throw bad("/label", "expected a text of at most 100 printable characters");
  }
  let expires: string | null = null;
  if (options.expires !== undefined) {
    const ms = typeof options.expires === "string" ? rfc3339ToEpochMs(options.expires) : undefined;
    if (ms === undefined) {
      throw bad(
        "/expires",
        `expected an RFC 3339 date-time or date, got ${describeValue(options.expires)}`,
      );
    }
    if (ms <= now) throw bad("/expires", `${options.expires} is already past`);
    expires = new Date(ms).toISOString();
  }
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const row: TokenRow = {
    id: `tok_${base32(randomBytes(16))}`,
    hash: hashToken(token),
    scope: scope as string,
    role: options.role,
    label,
    created: new Date(now).toISOString(),
    expires,
    revoked: null,
  };
  return { row, token };
}

/** SHA-256 of a token: what the store keeps and looks up. */
export function hashToken(token: string): Uint8Array {
  return hash("sha256", token, "buffer");
}

/** A stored token as listed (no hash). */
export function tokenInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    scope: row.scope,
    role: row.role as Role,
    label: row.label,
    created: row.created,
    expires: row.expires,
    revoked: row.revoked,
  };
}

/** True for a token id (`tok_…`). */
export function isTokenId(v: unknown): v is string {
  return typeof v === "string" && ID_FORM.test(v);
}

/** How long a checked token is trusted without reading the store again. */
export const TOKEN_RECHECK_MS = 1000;

type Principal = Pick<AccessContext, "principal" | "role" | "scope">;

/**
 * Checks bearer tokens against the store, keeping each answer for {@link TOKEN_RECHECK_MS}
 * so that a busy server does not read the store on every request: a token revoked by another
 * process is refused within a second, one revoked through this process at once
 * ({@link forget}); an expiry is checked on every request. Keys are the tokens' hashes: no
 * token is kept in memory longer than a request.
 */
export class TokenChecker {
  readonly #store: LogStore;
  readonly #known = new Map<
    string,
    { who: Principal; id: string; expires: number; checkedAt: number }
  >();

  constructor(store: LogStore) {
    this.#store = store;
  }

  /**
   * The principal a token stands for. Refuses, with one message that never repeats the
   * token, a malformed, unknown, revoked or expired token.
   *
   * @throws {GenlogError} `GENLOG_E_UNAUTHENTICATED`.
   */
  async check(token: string, now = Date.now()): Promise<Principal> {
    if (typeof token !== "string" || !TOKEN_FORM.test(token)) throw refuse("not a genlog token");
    // One-shot hashing: on a busy server this check runs on every request.
    const key = hash("sha256", token, "base64");
    const known = this.#known.get(key);
    if (known !== undefined && now - known.checkedAt < TOKEN_RECHECK_MS) {
      if (known.expires <= now) throw refuse(`token ${known.id} expired`);
      return known.who;
    }
    this.#known.delete(key);
    const digest = Buffer.from(key, "base64");
    const row = await this.#store.findToken(digest);
    // The lookup is by hash; comparing again in constant time costs nothing and guards a
    // store whose index would match loosely.
    if (row === undefined || !timingSafeEqual(Buffer.from(row.hash), digest)) {
      throw refuse("unknown token");
    }
    if (row.revoked !== null) throw refuse(`token ${row.id} was revoked`);
    const expires = row.expires === null ? Infinity : Date.parse(row.expires);
    if (expires <= now) throw refuse(`token ${row.id} expired at ${row.expires}`);
    if (!isRole(row.role)) throw refuse(`token ${row.id} has no known role`);
    const who = { principal: row.id, role: row.role, scope: row.scope };
    if (this.#known.size >= 10_000) this.#known.clear();
    this.#known.set(key, { who, id: row.id, expires, checkedAt: now });
    return who;
  }

  /** Forgets a token (revoked here): the next request reads the store. */
  forget(id: string): void {
    for (const [key, k] of this.#known) if (k.id === id) this.#known.delete(key);
  }
}

function refuse(why: string): GenlogError {
  return new GenlogError("GENLOG_E_UNAUTHENTICATED", `the token was refused: ${why}`);
}
