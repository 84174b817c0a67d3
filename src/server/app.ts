/**
 * The HTTP API: a Fastify app over one {@link Genlog} handle. The server only turns requests
 * into library calls: it authenticates the bearer token into a request context (a view made
 * by `Genlog.authenticate`), and the library decides with the one `authorize` function and
 * records the access. Routes live under `/v1/tenants/{tenant}/`, and the tenant of a request
 * is always the one in its path.
 */
import Fastify, {
  type FastifyContextConfig,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
  type onRequestAsyncHookHandler,
  type onResponseHookHandler,
} from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import helmet from "helmet";
import rateLimit from "@fastify/rate-limit";
import underPressure from "@fastify/under-pressure";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { GenlogError, isGenlogError } from "../errors.js";
import type { Genlog } from "../genlog.js";
import type { Permission } from "../core/access.js";
import { isKeyChanged } from "../log/writer.js";
import { clientBody, httpStatusOf, isRetryable } from "./http-errors.js";
import { Metrics } from "./metrics.js";
import type { FollowerRunner } from "../log/followers.js";
import { eventRoutes } from "./routes/events.js";
import { proofRoutes } from "./routes/proofs.js";
import { subjectRoutes } from "./routes/subjects.js";
import { reportRoutes } from "./routes/reports.js";
import { adminRoutes } from "./routes/admin.js";
import { followerRoutes } from "./routes/followers.js";
import { sessionRoutes } from "./routes/session.js";
import { consoleRoutes } from "./console.js";
import { packageVersion } from "../version.js";
import { looksLikeJwt, oidcVerifier, type OidcOptions } from "./oidc.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The handle acting for the request's principal (set once the token is checked). */
    genlog: Genlog;
  }
  interface FastifyContextConfig {
    /** The permission the route needs: documented in OpenAPI, decided by the library. */
    permission?: Permission;
    /** The library call the route makes, as recorded when a request is refused before it. */
    operation?: string;
  }
}

/** Options of {@link buildServer}. */
export interface ServerOptions {
  /** The handle the server serves; it stays the caller's to close after the server. */
  log: Genlog;
  /** Largest request body in bytes; default 1 MiB. */
  bodyLimit?: number;
  /** Most events in one `POST events`; default 1000. */
  maxBatch?: number;
  /** Requests a minute per token (per address without one); default 60,000; `false` disables. */
  rateLimit?: number | false;
  /** Fastify's logger (pino) options, or false; default warnings only, on stdout. */
  logger?: FastifyServerOptions["logger"];
  /** Trust `X-Forwarded-For` from a reverse proxy (see docs/guides/deployment.md); default false. */
  trustProxy?: boolean | string | string[];
  /** Answer 503 when the event loop lags past this many ms; default 1000; 0 turns it off. */
  maxEventLoopDelay?: number;
  /** Accept OIDC/JWT bearer tokens too, checked as these options say. */
  oidc?: OidcOptions;
  /** The followers' runner beside the server, whose figures `/metrics` gives. */
  followers?: FollowerRunner;
}

/** The header a caller declares the purpose of an access in. */
export const PURPOSE_HEADER = "x-genlog-purpose";

/** Builds the app (not yet listening). */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { log } = options;
  if (log.readOnly) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      "a server needs a writable handle: it appends, and records every access",
    );
  }
  const jwt = options.oidc === undefined ? undefined : oidcVerifier(options.oidc);
  const anonymous =
    options.rateLimit === false ? undefined : new AddressLimiter(ANONYMOUS_PER_MINUTE);
  const app = Fastify({
    logger: options.logger ?? { level: "warn" },
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
    // Requests are checked by the routes' TypeBox schemas (routes/validate.ts), not ajv:
    // unknown query parameters are refused, and only plain numbers and booleans converted.
    // Tokens never reach the logs: Fastify's request serializer logs no headers, and requests
    // are logged at level info only.
    return503OnClosing: true,
  });
  const metrics = new Metrics(
    () => log.hookFailures,
    options.followers === undefined
      ? undefined
      : { runner: options.followers, summary: () => log.followerSummary() },
  );

  // helmet's security headers, computed once: none depends on the request here, and running
  // helmet on every request cost about as much CPU as the append's own work (measured).
  const secure = securityHeaders();
  app.addHook("onRequest", (_request, reply, done) => {
    void reply.headers(secure);
    done();
  });
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelay ?? 1000,
    retryAfter: 5,
    exposeStatusRoute: false,
    customError: class extends GenlogError {
      constructor() {
        super("GENLOG_E_BUSY", "the server is overloaded: retry after the Retry-After seconds");
      }
    },
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "genlog",
        version: packageVersion(),
        description:
          "A verifiable, privacy-first ledger of code-generation events. Every request needs `Authorization: Bearer <token>`; every read, export, proof, erasure and administrative call is recorded in the tenant's access log. Errors are `{code, message, details}` with the codes of docs/reference/errors.md.",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        schemas: {
          Error: {
            type: "object",
            required: ["code", "message", "details"],
            properties: {
              code: { type: ["string", "null"], description: "A stable GENLOG_E_ code." },
              message: { type: "string" },
              details: { type: "object", description: "`pointer` names a bad field." },
            },
          },
        },
      },
      security: [{ bearer: [] }],
    },
    // The document says what every route may answer; the routes' own serialisation is untouched.
    transform: ({ schema, url }) => ({ schema: { ...schema, response: responsesOf(url) }, url }),
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  app.setErrorHandler((error: FastifyError | GenlogError, request, reply) => {
    const e = toGenlogError(error);
    if (e === undefined) {
      request.log.error({ err: error }, "genlog: unexpected failure");
      return reply.code(500).send({ code: null, message: "unexpected failure", details: {} });
    }
    const status =
      "statusCode" in error && error.statusCode === 413
        ? 413
        : e.code === "GENLOG_E_INVALID_INPUT" && "statusCode" in error && error.statusCode === 415
          ? 415
          : // Another process rotated the key: nothing was stored, and this one loads the new
            // key for the next request.
            isKeyChanged(e)
            ? 503
            : httpStatusOf(e.code);
    if (status === 401) void reply.header("www-authenticate", 'Bearer realm="genlog"');
    if (isRetryable(e.code) || status === 503 || e.code === "GENLOG_E_RATE_LIMITED") {
      if (reply.getHeader("retry-after") === undefined) void reply.header("retry-after", "1");
    }
    if (e.code === "GENLOG_E_UNAUTHENTICATED" || e.code === "GENLOG_E_FORBIDDEN") {
      metrics.denials.inc({
        reason: e.code === "GENLOG_E_FORBIDDEN" ? "forbidden" : "unauthenticated",
      });
    }
    if (status >= 500) request.log.error({ err: e }, "genlog: request failed");
    const body = clientBody(e.toJSON(), log);
    // The first record is the library's to give its caller; over HTTP a writer (who may not
    // read records) would read one by reusing its id: only its id and seq are said.
    if (e.code === "GENLOG_E_ID_REUSED") {
      const { record: _record, ...details } = body.details;
      void _record;
      return reply.code(status).send({ ...body, details });
    }
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        new GenlogError(
          "GENLOG_E_NOT_FOUND",
          `no route ${request.method} ${request.url.split("?")[0]}`,
        ).toJSON(),
      ),
  );

  app.get("/healthz", { schema: { hide: true } }, async () => ({ ok: true }));
  app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
    try {
      await log.ping();
      return { ok: true };
    } catch (e) {
      return reply.code(503).send({ ok: false, code: isGenlogError(e) ? e.code : null });
    }
  });
  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.text()),
  );
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  consoleRoutes(app);

  await app.register(
    async (v1) => {
      if (options.rateLimit !== false) {
        await v1.register(rateLimit, {
          max: options.rateLimit ?? 60_000,
          timeWindow: 60_000,
          // Per principal: the limiter's hook runs after authentication (see onRoute below), so
          // every request it sees has one. Requests refused before any principal is known are
          // limited per address by `anonymous` instead.
          keyGenerator: (request) => request.genlog.context.principal,
          errorResponseBuilder: (_request, context) =>
            new GenlogError(
              "GENLOG_E_RATE_LIMITED",
              `rate limit of ${context.max} requests a minute reached: retry in ${Math.ceil(context.ttl / 1000)} s`,
            ),
        });
      }
      // Each route gets its own authentication and metrics hooks, which know the route without
      // Fastify's per-request `routeOptions` (an object built on every access). Authentication
      // goes first of the route's hooks, so the rate limiter's finds the principal.
      v1.addHook("onRoute", (route) => {
        const config: FastifyContextConfig = route.config ?? {};
        const authenticate: onRequestAsyncHookHandler = async (request) => {
          request.genlog = await authenticateRequest(
            log,
            request,
            route.url,
            config,
            jwt,
            anonymous,
          );
        };
        const outcomes = new Map<string, { inc(): void }>();
        const count: onResponseHookHandler = (request, reply, done) => {
          const key = `${request.method} ${reply.statusCode}`;
          let counter = outcomes.get(key);
          if (counter === undefined) {
            counter = metrics.requests.labels(route.url, request.method, String(reply.statusCode));
            outcomes.set(key, counter);
          }
          counter.inc();
          done();
        };
        route.onRequest = [authenticate, ...hooksOf(route.onRequest)];
        route.onResponse = [...hooksOf(route.onResponse), count];
      });
      await v1.register(eventRoutes, { maxBatch: options.maxBatch ?? 1000, metrics });
      await v1.register(proofRoutes, { metrics });
      await v1.register(subjectRoutes);
      await v1.register(reportRoutes);
      await v1.register(adminRoutes);
      await v1.register(followerRoutes);
      await v1.register(sessionRoutes);
    },
    { prefix: "/v1" },
  );
  return app;
}

/** The answers of a route as documented: its success, and the errors every route may give. */
function responsesOf(url: string): Record<string, unknown> {
  const error = (description: string) => ({
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  });
  return {
    "2xx": {
      description:
        "Success: the JSON (or text, for a checkpoint; NDJSON, for an export) the description says.",
    },
    400: error(
      "Bad input: `GENLOG_E_INVALID_INPUT` with `details.pointer` naming the field (413 past the body limit); nothing was stored.",
    ),
    ...(url.startsWith("/v1/")
      ? {
          401: error("`GENLOG_E_UNAUTHENTICATED`: no token, or one unknown, expired or revoked."),
          403: error(
            "`GENLOG_E_FORBIDDEN`: the token's role or tenant does not allow this; recorded in the access log.",
          ),
          429: error("`GENLOG_E_RATE_LIMITED`: retry after `Retry-After` seconds."),
        }
      : {}),
    404: error("`GENLOG_E_NOT_FOUND`: no such tenant, record or checkpoint."),
    409: error("`GENLOG_E_ID_REUSED`, `GENLOG_E_HELD` or `GENLOG_E_ALREADY_INITIALIZED`."),
    503: error(
      "`GENLOG_E_BUSY`, `GENLOG_E_CONFLICT` or `GENLOG_E_CLOSED`: nothing was stored; retry after `Retry-After`.",
    ),
  };
}

/**
 * The request's principal as a handle: the bearer token checked by the library, the purpose
 * header and the client's address added. A request refused here is recorded in the access
 * log of the tenant in its path (or the default one) as `anonymous`, and answered 401.
 */
async function authenticateRequest(
  log: Genlog,
  request: FastifyRequest,
  url: string,
  config: FastifyContextConfig,
  jwt: ReturnType<typeof oidcVerifier> | undefined,
  anonymous: AddressLimiter | undefined,
): Promise<Genlog> {
  const tenant = (request.params as { tenant?: string } | undefined)?.tenant ?? "*";
  const route = `${request.method} ${url}`;
  const header = request.headers.authorization;
  const purpose = purposeOf(request);
  const bearer = typeof header === "string" ? /^Bearer +(\S+)$/i.exec(header) : null;
  try {
    if (bearer === null) {
      throw new GenlogError(
        "GENLOG_E_UNAUTHENTICATED",
        "no credentials: send Authorization: Bearer <token> (genlog token create, or a JWT of the configured OIDC issuer)",
      );
    }
    const context = {
      via: "http" as const,
      address: request.ip,
      route,
      ...(purpose !== undefined ? { purpose } : {}),
    };
    if (jwt !== undefined && looksLikeJwt(bearer[1]!)) {
      return log.as({ ...(await jwt(bearer[1]!)), ...context });
    }
    return await log.authenticate(bearer[1]!, context);
  } catch (e) {
    if (isGenlogError(e, "GENLOG_E_UNAUTHENTICATED")) {
      // Past its budget, an address is refused without a record: a flood of bad tokens must
      // not grow the access log without bound.
      if (anonymous !== undefined && !anonymous.take(request.ip)) {
        throw new GenlogError(
          "GENLOG_E_RATE_LIMITED",
          `too many unauthenticated requests from this address (${ANONYMOUS_PER_MINUTE} a minute): retry in a minute with a valid token`,
        );
      }
      await log.recordUnauthenticated(tenant, {
        operation: config.operation ?? route,
        permission: config.permission ?? "events.read",
        reason: e.message,
        address: request.ip,
        route,
      });
    }
    throw e;
  }
}

/**
 * The headers helmet sets, as one object: helmet's middleware run once on a response that
 * only records them. The docs UI needs its own scripts and styles; everything else is JSON.
 */
function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
      },
    },
  })({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err !== undefined) throw err;
  });
  return headers;
}

/** A route's hooks of one kind as a list (Fastify takes one function or an array). */
function hooksOf<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

/** Requests a minute an address may make without a valid token. */
export const ANONYMOUS_PER_MINUTE = 120;

/** A fixed-window counter per address, for requests that no principal can be charged for. */
class AddressLimiter {
  readonly #max: number;
  #window = 0;
  #counts = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Counts one request of `address`; false past the budget of the current minute. */
  take(address: string): boolean {
    const window = Math.floor(Date.now() / 60_000);
    if (window !== this.#window) {
      this.#window = window;
      this.#counts = new Map();
    }
    const n = (this.#counts.get(address) ?? 0) + 1;
    this.#counts.set(address, n);
    return n <= this.#max;
  }
}

/** `X-Genlog-Purpose`, checked: one header, printable, at most 200 characters. */
function purposeOf(request: FastifyRequest): string | undefined {
  const v = request.headers[PURPOSE_HEADER];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length > 200 || /\p{Cc}/u.test(v)) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      "X-Genlog-Purpose: expected one header of at most 200 printable characters",
      { details: { pointer: "/headers/x-genlog-purpose", rule: "purpose" } },
    );
  }
  return v;
}

/** Fastify's own errors (schema, body, content type) as GenlogErrors naming the field. */
function toGenlogError(error: FastifyError | GenlogError): GenlogError | undefined {
  if (error instanceof GenlogError) return error;
  const validation = (error as FastifyError).validation;
  if (validation !== undefined && validation.length > 0) {
    const v = validation[0]!;
    const where = (error as FastifyError).validationContext ?? "body";
    const missing =
      v.keyword === "required"
        ? `/${String((v.params as { missingProperty?: string }).missingProperty)}`
        : "";
    const extra =
      v.keyword === "additionalProperties"
        ? `/${String((v.params as { additionalProperty?: string }).additionalProperty)}`
        : "";
    const pointer = `/${where}${v.instancePath}${missing}${extra}`;
    return new GenlogError("GENLOG_E_INVALID_INPUT", `${pointer}: ${v.message ?? "invalid"}`, {
      details: { pointer, rule: v.keyword },
    });
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new GenlogError("GENLOG_E_INVALID_INPUT", error.message, {
      details: { pointer: "", rule: (error as FastifyError).code ?? "request" },
    });
  }
  return undefined;
}
