/**
 * OIDC/JWT bearer tokens: a JWT signed by the identity provider, checked with jose against
 * keys from a JWKS file or URL, its issuer and audience, and its expiry; the tenant and the
 * role come from claims (configurable names). The server turns what this returns into a
 * request context like an API token's.
 */
import { readFileSync } from "node:fs";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { GenlogError } from "../errors.js";
import { ALL_TENANTS, isRole, type AccessContext } from "../core/access.js";
import { SLUG_PATTERN } from "../core/event-schema.js";

/** How JWTs are checked. */
export interface OidcOptions {
  /** The `iss` every token must carry. */
  issuer: string;
  /** The `aud` every token must carry (one of, when it is a list). */
  audience: string;
  /** A JWKS file path, or an `https://` (or `http://` on loopback) URL of one. */
  jwks: string;
  /** The claim naming the tenant (or `*`); default `genlog_tenant`. */
  tenantClaim?: string;
  /** The claim naming the role; default `genlog_role`. */
  roleClaim?: string;
}

/** A JWT's compact form: three base64url parts. */
const JWT_FORM = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** True for a bearer value that is a JWT rather than an API token. */
export function looksLikeJwt(bearer: string): boolean {
  return bearer.length <= 16_384 && JWT_FORM.test(bearer);
}

/**
 * A checker of JWTs. Checks the options at start-up: a JWKS file that cannot be read or is
 * not a JWKS, or a URL that is not one, is a configuration error before the server listens.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming the option.
 */
export function oidcVerifier(
  options: OidcOptions,
): (jwt: string) => Promise<Pick<AccessContext, "principal" | "role" | "scope">> {
  const config = (option: string, message: string) =>
    new GenlogError("GENLOG_E_CONFIG", `${option}: ${message}`, {
      details: { pointer: `/${option}` },
    });
  if (typeof options.issuer !== "string" || options.issuer === "")
    throw config("oidcIssuer", "expected the issuer URL");
  if (typeof options.audience !== "string" || options.audience === "")
    throw config("oidcAudience", "expected the audience");
  let keys: JWTVerifyGetKey;
  if (/^https?:\/\//.test(options.jwks)) {
    const url = new URL(options.jwks);
    if (url.protocol === "http:" && !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
      throw config("oidcJwks", "a JWKS URL must be https (http only on loopback)");
    }
    keys = createRemoteJWKSet(url);
  } else {
    let jwks: unknown;
    try {
      jwks = JSON.parse(readFileSync(options.jwks, "utf8"));
    } catch (e) {
      throw config("oidcJwks", `cannot read a JWKS from ${options.jwks}: ${(e as Error).message}`);
    }
    if (
      typeof jwks !== "object" ||
      jwks === null ||
      !Array.isArray((jwks as { keys?: unknown }).keys)
    ) {
      throw config("oidcJwks", `${options.jwks} is not a JWKS ({"keys": [...]})`);
    }
    keys = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
  }
  const tenantClaim = options.tenantClaim ?? "genlog_tenant";
  const roleClaim = options.roleClaim ?? "genlog_role";
  const slug = new RegExp(SLUG_PATTERN);
  return async (jwt) => {
    const refuse = (why: string) =>
      new GenlogError("GENLOG_E_UNAUTHENTICATED", `the bearer JWT was refused: ${why}`);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(jwt, keys, {
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ["sub", "exp"],
        // Asymmetric signatures only: a JWKS holds public keys.
        algorithms: [
          "RS256",
          "RS384",
          "RS512",
          "PS256",
          "PS384",
          "PS512",
          "ES256",
          "ES384",
          "ES512",
          "EdDSA",
        ],
        clockTolerance: 30,
      }));
    } catch (e) {
      // The issuer's keys could not be fetched: the server's trouble, not the caller's.
      if (
        !(e instanceof joseErrors.JOSEError) ||
        e.code === "ERR_JWKS_TIMEOUT" ||
        e.code === "ERR_JOSE_GENERIC"
      ) {
        throw new GenlogError(
          "GENLOG_E_BUSY",
          "the identity provider's keys could not be fetched: retry later",
          { cause: e },
        );
      }
      // jose's codes say what failed without repeating the token.
      const code = e.code;
      throw refuse(
        code === "ERR_JWT_EXPIRED"
          ? "expired"
          : code === "ERR_JWT_CLAIM_VALIDATION_FAILED"
            ? `claim ${(e as joseErrors.JWTClaimValidationFailed).claim} does not check`
            : code,
      );
    }
    const role = payload[roleClaim];
    const tenant = payload[tenantClaim];
    const sub = payload["sub"];
    if (!isRole(role)) throw refuse(`claim ${roleClaim} is not a genlog role`);
    if (typeof tenant !== "string" || (tenant !== ALL_TENANTS && !slug.test(tenant))) {
      throw refuse(`claim ${tenantClaim} is not a tenant name or *`);
    }
    if (role === "superadmin" && tenant !== ALL_TENANTS)
      throw refuse("a superadmin's tenant claim must be *");
    if (typeof sub !== "string" || !/^[\x21-\x7e]{1,180}$/.test(sub)) {
      throw refuse("claim sub is not a printable id of at most 180 characters");
    }
    return { principal: `oidc:${sub}`, role, scope: tenant };
  };
}
