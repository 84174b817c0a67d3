/**
 * `genlog serve`: the HTTP API over the data directory, until SIGTERM or SIGINT, which stop
 * it gracefully: no new connection is accepted, requests in flight finish (their appends are
 * committed and answered), then the store is closed.
 */
import { Option, type Command } from "commander";
import type { OidcOptions } from "../server/oidc.js";
import { GenlogError } from "../errors.js";
import { openLocalForWriting, stringOption, type Bind, type GlobalOptions } from "./context.js";
import { printLine, say } from "./terminal.js";
import { integerOption } from "./option-values.js";

/** Adds `serve` to the program. */
export function defineServeCommand(program: Command, bind: Bind): void {
  program
    .command("serve")
    .description(
      "serve the HTTP API (OpenAPI at /openapi.json, docs at /docs) until SIGTERM or SIGINT",
    )
    .addOption(new Option("--port <port>", "TCP port").env("GENLOG_PORT").default("8080"))
    .addOption(
      new Option("--host <host>", "address to listen on (put a TLS proxy in front for others)")
        .env("GENLOG_HOST")
        .default("127.0.0.1"),
    )
    .option("--rate-limit <n>", "requests a minute per token; 0 disables", "60000")
    .option("--max-batch <n>", "most events in one POST events", "1000")
    .option("--body-limit <bytes>", "largest request body", String(1024 * 1024))
    .option("--trust-proxy", "take the client address from X-Forwarded-For (behind a proxy)")
    .addOption(
      new Option("--oidc-issuer <url>", "accept JWTs of this OIDC issuer (iss)").env(
        "GENLOG_OIDC_ISSUER",
      ),
    )
    .addOption(
      new Option("--oidc-audience <aud>", "the audience (aud) those JWTs must carry").env(
        "GENLOG_OIDC_AUDIENCE",
      ),
    )
    .addOption(
      new Option(
        "--oidc-jwks <file|url>",
        "the issuer's signing keys: a JWKS file or https URL",
      ).env("GENLOG_OIDC_JWKS"),
    )
    .addOption(
      new Option("--oidc-tenant-claim <claim>", "the claim naming the tenant (or *)")
        .env("GENLOG_OIDC_TENANT_CLAIM")
        .default("genlog_tenant"),
    )
    .addOption(
      new Option("--oidc-role-claim <claim>", "the claim naming the role")
        .env("GENLOG_OIDC_ROLE_CLAIM")
        .default("genlog_role"),
    )
    .action(bind((_args, o) => serve(o)));
}

async function serve(o: GlobalOptions): Promise<number> {
  const port = integerOption(stringOption(o, "port")!, "--port", 0, 65535);
  const rate = integerOption(stringOption(o, "rateLimit")!, "--rate-limit", 0, 1e9);
  const maxBatch = integerOption(stringOption(o, "maxBatch")!, "--max-batch", 1, 4096);
  const bodyLimit = integerOption(stringOption(o, "bodyLimit")!, "--body-limit", 1024, 1 << 30);
  const oidc = oidcOptions(o);
  const log = await openLocalForWriting(o, { plugins: true });
  let app;
  let runner;
  try {
    runner = log.followerRunner();
    // The HTTP stack loads for `serve` only, not with every command.
    const { buildServer } = await import("../server/app.js");
    app = await buildServer({
      log,
      rateLimit: rate === 0 ? false : rate,
      maxBatch,
      bodyLimit,
      trustProxy: o.trustProxy === true,
      ...(oidc !== undefined ? { oidc } : {}),
      followers: runner,
    });
    const address = await app
      .listen({ port, host: stringOption(o, "host")! })
      .catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
          throw new GenlogError("GENLOG_E_IO", `port ${port} is taken: pick another with --port`, {
            cause: e,
            details: { port },
          });
        }
        throw e;
      });
    if (o.json) await printLine(JSON.stringify({ url: address }));
    else
      say(
        `genlog serving ${address} (API docs: ${address}/docs, OpenAPI: ${address}/openapi.json)`,
      );
  } catch (e) {
    await app?.close();
    await log.close();
    throw e;
  }
  const server = app;
  // The followers run beside the server: they read what it commits, never on its append path.
  const stopFollowers = new AbortController();
  const followers = runner.run(stopFollowers.signal);
  await untilStopped();
  // In-flight requests finish (their appends commit and are answered) before the store closes.
  await server.close();
  stopFollowers.abort();
  await followers;
  await log.close();
  say("genlog stopped");
  return 0;
}

/** Resolves on the first SIGTERM or SIGINT: how a server is told to stop. */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}

/**
 * The OIDC options, when any is given: issuer, audience and JWKS go together.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE` when one of the three is missing.
 */
function oidcOptions(o: GlobalOptions): OidcOptions | undefined {
  const issuer = stringOption(o, "oidcIssuer");
  const audience = stringOption(o, "oidcAudience");
  const jwks = stringOption(o, "oidcJwks");
  if (issuer === undefined && audience === undefined && jwks === undefined) return undefined;
  if (issuer === undefined || audience === undefined || jwks === undefined) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      "OIDC needs --oidc-issuer, --oidc-audience and --oidc-jwks together (or GENLOG_OIDC_ISSUER, GENLOG_OIDC_AUDIENCE, GENLOG_OIDC_JWKS)",
    );
  }
  return {
    issuer,
    audience,
    jwks,
    tenantClaim: stringOption(o, "oidcTenantClaim")!,
    roleClaim: stringOption(o, "oidcRoleClaim")!,
  };
}
