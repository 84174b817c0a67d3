/**
 * The CLI's remote mode: with `--url` (or `GENLOG_URL`) and `--token` (or `GENLOG_TOKEN`),
 * commands call a genlog server instead of opening a data directory. {@link RemoteLog} has
 * the methods of `Genlog` that those commands use, each one HTTP call through the typed
 * client, so a command runs the same code either way; the server decides and records every
 * access under the token's principal.
 */
import { GenlogError } from "../errors.js";
import { GenlogClient } from "../client/index.js";
import { canonicalize } from "../core/jcs.js";
import type { Genlog, GenerationEventInput, QueryOptions } from "../genlog.js";
import type { TokenOptions } from "../log/tokens.js";

/** What a command may call on a log, local or remote. */
export type CliLog = Pick<
  Genlog,
  | "tenant"
  | "instance"
  | "origin"
  | "verifierKey"
  | "query"
  | "get"
  | "reveal"
  | "size"
  | "exportCanonical"
  | "exportAnonymised"
  | "checkpoint"
  | "checkpointAt"
  | "inclusionProof"
  | "consistencyProof"
  | "verify"
  | "appendWithStatus"
  | "tenants"
  | "tenantInfo"
  | "createTenant"
  | "createToken"
  | "tokens"
  | "revokeToken"
  | "retention"
  | "setRetention"
  | "purge"
  | "purposeRequired"
  | "setPurposeRequired"
  | "rotateKey"
  | "policies"
  | "keyInfo"
  | "holds"
  | "setHold"
  | "releaseHold"
  | "exportSubject"
  | "eraseSubject"
  | "gdprReport"
  | "accessReport"
  | "generationReport"
  | "close"
>;

function notRemote(what: string): GenlogError {
  return new GenlogError(
    "GENLOG_E_USAGE",
    `${what} is not available over HTTP: run it on the server's data directory (without --url)`,
  );
}

/** A log on a genlog server, for one tenant (`--tenant`). */
export class RemoteLog implements CliLog {
  readonly tenant: string;
  readonly instance: string;
  readonly #origin: string;
  readonly #verifierKey: string;
  readonly #client: GenlogClient;

  private constructor(
    client: GenlogClient,
    key: { tenant: string; origin: string; verifierKey: string },
  ) {
    this.#client = client;
    this.tenant = key.tenant;
    this.#origin = key.origin;
    this.#verifierKey = key.verifierKey;
    this.instance = key.origin.slice(0, key.origin.length - `/${key.tenant}/events`.length);
  }

  /**
   * Connects to the server and reads the tenant's origin and verifier key (which checks the
   * token at once).
   */
  static async open(options: {
    url: string;
    token: string;
    tenant: string;
    purpose?: string;
  }): Promise<RemoteLog> {
    const client = new GenlogClient({
      url: options.url,
      token: options.token,
      ...(options.purpose !== undefined ? { purpose: options.purpose } : {}),
    });
    return new RemoteLog(client, await client.keyInfo(options.tenant));
  }

  #t(tenant: string | undefined): string {
    return tenant ?? this.tenant;
  }

  origin(tenant?: string): string {
    return tenant === undefined || tenant === this.tenant
      ? this.#origin
      : `${this.instance}/${tenant}/events`;
  }

  async verifierKey(tenant?: string): Promise<string> {
    return tenant === undefined || tenant === this.tenant
      ? this.#verifierKey
      : (await this.#client.keyInfo(tenant)).verifierKey;
  }

  query(options: QueryOptions = {}): ReturnType<Genlog["query"]> {
    const { tenant, user, ...filters } = options;
    if (user !== undefined) return Promise.reject(notRemote("a query by person (--user)"));
    return this.#client.query(this.#t(tenant), filters);
  }

  get(idOrSeq: string | number, tenant?: string): ReturnType<Genlog["get"]> {
    return this.#client.get(this.#t(tenant), idOrSeq);
  }

  reveal(): ReturnType<Genlog["reveal"]> {
    return Promise.reject(notRemote("--reveal"));
  }

  async size(tenant?: string): Promise<number> {
    return (await this.#client.tenant(this.#t(tenant))).size;
  }

  exportCanonical(tenant?: string): AsyncIterable<string> {
    return this.#client.exportLines(this.#t(tenant));
  }

  exportAnonymised(tenant?: string): AsyncIterable<string> {
    return this.#client.exportLines(this.#t(tenant), { anonymised: true });
  }

  checkpoint(tenant?: string): ReturnType<Genlog["checkpoint"]> {
    return this.#client.checkpoint(this.#t(tenant));
  }

  checkpointAt(size: number, tenant?: string): ReturnType<Genlog["checkpointAt"]> {
    return this.#client.checkpoint(this.#t(tenant), size);
  }

  inclusionProof(
    idOrSeq: string | number,
    options: { treeSize?: number; tenant?: string } = {},
  ): ReturnType<Genlog["inclusionProof"]> {
    return this.#client.inclusionProof(this.#t(options.tenant), idOrSeq, options.treeSize);
  }

  consistencyProof(
    from: number,
    options: { to?: number; tenant?: string } = {},
  ): ReturnType<Genlog["consistencyProof"]> {
    return this.#client.consistencyProof(this.#t(options.tenant), from, options.to);
  }

  verify(options: Parameters<Genlog["verify"]>[0] = {}): ReturnType<Genlog["verify"]> {
    if (options.verifierKey !== undefined) {
      return Promise.reject(
        notRemote(
          "--verifier-key (the server verifies with its own key; verify an export or a copy locally)",
        ),
      );
    }
    return this.#client.verify(this.#t(options.tenant), {
      ...(options.stream !== undefined ? { stream: options.stream } : {}),
      ...(options.trusted !== undefined ? { trusted: options.trusted } : {}),
    });
  }

  async appendWithStatus(event: GenerationEventInput): ReturnType<Genlog["appendWithStatus"]> {
    const { tenant, ...rest } = event;
    const { record, duplicate } = await this.#client.appendWithStatus(this.#t(tenant), rest);
    // The committed text is the record's RFC 8785 form, whatever order the answer used.
    return { record, duplicate, canonical: canonicalize(record) };
  }

  tenants(): ReturnType<Genlog["tenants"]> {
    return this.#client.tenants();
  }

  tenantInfo(tenant?: string): ReturnType<Genlog["tenantInfo"]> {
    return this.#client.tenant(this.#t(tenant));
  }

  createTenant(
    tenant: string,
    options: { region?: string; regionDir?: string } = {},
  ): ReturnType<Genlog["createTenant"]> {
    if (options.regionDir !== undefined) return Promise.reject(notRemote("--region-dir"));
    return this.#client.createTenant(
      tenant,
      options.region !== undefined ? { region: options.region } : {},
    );
  }

  createToken(options: TokenOptions): ReturnType<Genlog["createToken"]> {
    const { scope, ...rest } = options;
    if (scope === "*") return Promise.reject(notRemote("a token for every tenant"));
    return this.#client.createToken(scope, rest);
  }

  tokens(of?: string): ReturnType<Genlog["tokens"]> {
    return this.#client.tokens(of ?? this.tenant);
  }

  revokeToken(id: string, options: { scope?: string } = {}): ReturnType<Genlog["revokeToken"]> {
    return this.#client.revokeToken(options.scope ?? this.tenant, id);
  }

  retention(tenant?: string): ReturnType<Genlog["retention"]> {
    return this.#client.retention(this.#t(tenant));
  }

  policies(tenant?: string): ReturnType<Genlog["policies"]> {
    return this.#client.policies(this.#t(tenant));
  }

  setRetention(options: {
    days: number;
    reason: string;
    tenant?: string;
  }): ReturnType<Genlog["setRetention"]> {
    return this.#client.setRetention(this.#t(options.tenant), {
      days: options.days,
      reason: options.reason,
    });
  }

  purge(options: Parameters<Genlog["purge"]>[0] = {}): ReturnType<Genlog["purge"]> {
    const { tenant, ...rest } = options;
    return this.#client.purge(this.#t(tenant), rest);
  }

  async purposeRequired(tenant?: string): Promise<boolean> {
    return (await this.#client.purposeRequired(this.#t(tenant))).required;
  }

  setPurposeRequired(
    options: Parameters<Genlog["setPurposeRequired"]>[0],
  ): ReturnType<Genlog["setPurposeRequired"]> {
    const { tenant, ...rest } = options;
    return this.#client.setPurposeRequired(this.#t(tenant), rest);
  }

  keyInfo(tenant?: string): ReturnType<Genlog["keyInfo"]> {
    return this.#client.keyInfo(this.#t(tenant));
  }

  rotateKey(options: Parameters<Genlog["rotateKey"]>[0]): ReturnType<Genlog["rotateKey"]> {
    const { tenant, ...rest } = options;
    return this.#client.rotateKey(this.#t(tenant), rest);
  }

  holds(tenant?: string): ReturnType<Genlog["holds"]> {
    return this.#client.holds(this.#t(tenant));
  }

  setHold(options: Parameters<Genlog["setHold"]>[0]): ReturnType<Genlog["setHold"]> {
    const { tenant, ...rest } = options;
    return this.#client.setHold(this.#t(tenant), rest as { reason: string });
  }

  releaseHold(options: Parameters<Genlog["releaseHold"]>[0]): ReturnType<Genlog["releaseHold"]> {
    const { tenant, ...rest } = options;
    return this.#client.releaseHold(this.#t(tenant), rest as { reason: string });
  }

  exportSubject(
    options: Parameters<Genlog["exportSubject"]>[0],
  ): ReturnType<Genlog["exportSubject"]> {
    const { tenant, ...who } = options;
    return this.#client.exportSubject(this.#t(tenant), who as { subject: string });
  }

  eraseSubject(options: Parameters<Genlog["eraseSubject"]>[0]): ReturnType<Genlog["eraseSubject"]> {
    const { tenant, ...rest } = options;
    return this.#client.eraseSubject(this.#t(tenant), rest as { subject: string; reason: string });
  }

  gdprReport(tenant?: string): ReturnType<Genlog["gdprReport"]> {
    return this.#client.gdprReport(this.#t(tenant));
  }

  accessReport(
    options: Parameters<Genlog["accessReport"]>[0] = {},
  ): ReturnType<Genlog["accessReport"]> {
    const { tenant, ...window } = options;
    return this.#client.accessReport(this.#t(tenant), window);
  }

  generationReport(
    options: Parameters<Genlog["generationReport"]>[0] = {},
  ): ReturnType<Genlog["generationReport"]> {
    const { tenant, ...window } = options;
    return this.#client.generationReport(this.#t(tenant), window);
  }

  async close(): Promise<void> {
    // Nothing to close: each call was one request.
  }
}
