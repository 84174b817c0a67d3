/**
 * A typed client of genlog's HTTP API (`genlog/client`), built on `fetch`: it runs in Node
 * 20+ and in browsers, with no dependency. Errors are {@link GenlogError}s with the server's
 * code, message and details (and the HTTP status in `details.status`).
 *
 * @example
 * import { GenlogClient } from "genlog/client";
 * const client = new GenlogClient({ url: "http://127.0.0.1:8080", token: process.env.GENLOG_TOKEN! });
 * await client.append("acme", { type: "backend", user: "alice", meta: { stack: "Flask" } });
 */
import { GenlogError, type ErrorCode } from "../errors.js";
import type {
  GenerationEventInput,
  QueryPage,
  TenantInfo,
  TenantPolicies,
  Retention,
  PurgeResult,
  LegalHold,
  ErasureResult,
  FollowerInfo,
  AddFollowerOptions,
} from "../genlog.js";
import type { GenerationRecord } from "../core/record.js";
import type { InclusionProof, ConsistencyProof } from "../core/proofs.js";
import type { VerifyReport } from "../log/verify.js";
import type { AccessReport } from "../log/access-log.js";
import type { GdprReport } from "../log/gdpr-report.js";
import type { GenerationReport } from "../log/generation-report.js";
import type { SubjectExport } from "../core/subject-export.js";
import type { NewToken, TokenInfo } from "../log/tokens.js";
import type { Role } from "../core/access.js";
import type { KeyInfo, KeyRotationResult } from "../log/key-rotation.js";

/** Options of {@link GenlogClient}. */
export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API token (`glt_…`). */
  token: string;
  /** Sent as `X-Genlog-Purpose` with every request: why you access the log. */
  purpose?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

/** Query filters of {@link GenlogClient.query}. */
export interface EventFilters {
  type?: string;
  actor?: string;
  sector?: string;
  status?: "started" | "succeeded" | "failed";
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

type Selector = { subject: string } | { pseudonym: string };

export class GenlogClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.#base = options.url.replace(/\/+$/, "");
    this.#headers = { authorization: `Bearer ${options.token}` };
    if (options.purpose !== undefined) this.#headers["x-genlog-purpose"] = options.purpose;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Appends one event; resolves once it is durable. */
  append(
    tenant: string,
    event: GenerationEventInput | Omit<GenerationEventInput, "tenant">,
    options: { idempotencyKey?: string } = {},
  ): Promise<GenerationRecord> {
    return this.#json("POST", `${t(tenant)}/events`, event, idempotency(options));
  }

  /** Appends a batch (up to the server's limit); every event is checked before any is stored. */
  appendBatch(
    tenant: string,
    events: readonly (GenerationEventInput | Omit<GenerationEventInput, "tenant">)[],
    options: { idempotencyKey?: string } = {},
  ): Promise<{ records: GenerationRecord[]; duplicates: number }> {
    return this.#json("POST", `${t(tenant)}/events`, events, idempotency(options));
  }

  /** The seed API over HTTP: `logGenerationEvent(tenant, "backend", { user, meta })`. */
  logGenerationEvent(
    tenant: string,
    type: string,
    fields: Omit<GenerationEventInput, "type" | "tenant"> = {},
  ): Promise<GenerationRecord> {
    return this.append(tenant, { ...fields, type });
  }

  query(tenant: string, filters: EventFilters = {}): Promise<QueryPage> {
    return this.#json("GET", `${t(tenant)}/events${qs(filters)}`);
  }

  /** Every record matching the filters, page after page. */
  async *records(
    tenant: string,
    filters: Omit<EventFilters, "cursor"> = {},
  ): AsyncIterable<GenerationRecord> {
    let cursor: string | null | undefined;
    do {
      const page: QueryPage = await this.query(tenant, {
        ...filters,
        ...(cursor ? { cursor } : {}),
      });
      yield* page.records;
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  get(tenant: string, idOrSeq: string | number): Promise<GenerationRecord> {
    return this.#json("GET", `${t(tenant)}/events/${encodeURIComponent(String(idOrSeq))}`);
  }

  /** A record with its inclusion proof and the signed checkpoint. */
  getWithProof(
    tenant: string,
    idOrSeq: string | number,
  ): Promise<{ record: GenerationRecord; proof: Omit<InclusionProof, "record"> }> {
    return this.#json(
      "GET",
      `${t(tenant)}/events/${encodeURIComponent(String(idOrSeq))}?proof=true`,
    );
  }

  /** The tenant's origin and verifier key, with every earlier key once it was rotated. */
  keyInfo(tenant: string): Promise<KeyInfo> {
    return this.#json("GET", `${t(tenant)}/key`);
  }

  /** Rotates the tenant's signing key (admin). */
  rotateKey(tenant: string, options: { reason: string }): Promise<KeyRotationResult> {
    return this.#json("POST", `${t(tenant)}/keys/rotate`, options);
  }

  /** Appends one event and says whether its id matched an earlier record (answer 200). */
  async appendWithStatus(
    tenant: string,
    event: GenerationEventInput | Omit<GenerationEventInput, "tenant">,
  ): Promise<{ record: GenerationRecord; duplicate: boolean }> {
    const r = await this.#request("POST", `${t(tenant)}/events`, event);
    return { record: (await r.json()) as GenerationRecord, duplicate: r.status === 200 };
  }

  /** The latest signed checkpoint note (or the one at `size`). */
  async checkpoint(tenant: string, size?: number): Promise<string> {
    const r = await this.#request("GET", `${t(tenant)}/checkpoint${qs({ size })}`);
    return r.text();
  }

  inclusionProof(
    tenant: string,
    idOrSeq: string | number,
    treeSize?: number,
  ): Promise<InclusionProof> {
    return this.#json(
      "GET",
      `${t(tenant)}/proofs/inclusion/${encodeURIComponent(String(idOrSeq))}${qs({ treeSize })}`,
    );
  }

  consistencyProof(tenant: string, from: number, to?: number): Promise<ConsistencyProof> {
    return this.#json("GET", `${t(tenant)}/proofs/consistency${qs({ from, to })}`);
  }

  verify(
    tenant: string,
    options: { stream?: "events" | "access"; trusted?: string } = {},
  ): Promise<VerifyReport> {
    return this.#json("POST", `${t(tenant)}/verify`, options);
  }

  /** The log as NDJSON lines (exactly as committed, or anonymised), streamed. */
  async *exportLines(
    tenant: string,
    options: { anonymised?: boolean } = {},
  ): AsyncIterable<string> {
    const r = await this.#request(
      "GET",
      `${t(tenant)}/export${qs({ anonymised: options.anonymised })}`,
    );
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += value;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      yield* lines;
    }
    if (rest !== "") yield rest;
  }

  exportSubject(tenant: string, who: Selector): Promise<SubjectExport> {
    return this.#json("POST", `${t(tenant)}/subjects/export`, who);
  }

  eraseSubject(tenant: string, who: Selector & { reason: string }): Promise<ErasureResult> {
    return this.#json("POST", `${t(tenant)}/subjects/erase`, who);
  }

  holds(tenant: string): Promise<LegalHold[]> {
    return this.#json("GET", `${t(tenant)}/holds`);
  }

  setHold(tenant: string, hold: Partial<Selector> & { reason: string }): Promise<GenerationRecord> {
    return this.#json("POST", `${t(tenant)}/holds`, hold);
  }

  releaseHold(
    tenant: string,
    hold: Partial<Selector> & { reason: string },
  ): Promise<GenerationRecord> {
    return this.#json("POST", `${t(tenant)}/holds/release`, hold);
  }

  accessLog(
    tenant: string,
    filters: Omit<EventFilters, "type" | "actor" | "sector"> = {},
  ): Promise<QueryPage> {
    return this.#json("GET", `${t(tenant)}/access${qs(filters)}`);
  }

  accessReport(
    tenant: string,
    window: { since?: string; until?: string } = {},
  ): Promise<AccessReport> {
    return this.#json("GET", `${t(tenant)}/reports/access${qs(window)}`);
  }

  generationReport(
    tenant: string,
    window: { since?: string; until?: string } = {},
  ): Promise<GenerationReport> {
    return this.#json("GET", `${t(tenant)}/reports/generation${qs(window)}`);
  }

  gdprReport(tenant: string): Promise<GdprReport> {
    return this.#json("GET", `${t(tenant)}/reports/gdpr`);
  }

  tenants(): Promise<TenantInfo[]> {
    return this.#json("GET", "/v1/tenants");
  }

  tenant(tenant: string): Promise<TenantInfo> {
    return this.#json("GET", t(tenant));
  }

  createTenant(tenant: string, options: { region?: string } = {}): Promise<TenantInfo> {
    return this.#json("POST", "/v1/tenants", { tenant, ...options });
  }

  tokens(tenant: string): Promise<TokenInfo[]> {
    return this.#json("GET", `${t(tenant)}/tokens`);
  }

  createToken(
    tenant: string,
    options: { role: Role; expires?: string; label?: string },
  ): Promise<NewToken> {
    return this.#json("POST", `${t(tenant)}/tokens`, options);
  }

  revokeToken(tenant: string, id: string): Promise<TokenInfo> {
    return this.#json("DELETE", `${t(tenant)}/tokens/${encodeURIComponent(id)}`);
  }

  retention(tenant: string): Promise<Retention> {
    return this.#json("GET", `${t(tenant)}/retention`);
  }

  /** Every policy the tenant is under: privacy, purpose, retention. */
  policies(tenant: string): Promise<TenantPolicies> {
    return this.#json("GET", `${t(tenant)}/policies`);
  }

  setRetention(
    tenant: string,
    options: { days: number; reason: string },
  ): Promise<{ record: GenerationRecord; belowAiActMinimum: boolean }> {
    return this.#json("PUT", `${t(tenant)}/retention`, options);
  }

  purposeRequired(tenant: string): Promise<{ tenant: string; required: boolean }> {
    return this.#json("GET", `${t(tenant)}/purpose-policy`);
  }

  setPurposeRequired(
    tenant: string,
    options: { required: boolean; reason: string },
  ): Promise<GenerationRecord> {
    return this.#json("PUT", `${t(tenant)}/purpose-policy`, options);
  }

  purge(tenant: string, options: { before?: string; dryRun?: boolean } = {}): Promise<PurgeResult> {
    return this.#json("POST", `${t(tenant)}/purge`, options);
  }

  /** The tenant's followers (admin); never their secrets. */
  followers(tenant: string): Promise<FollowerInfo[]> {
    return this.#json("GET", `${t(tenant)}/followers`);
  }

  /** Adds a follower (admin): a webhook with its `whsec_` secret. */
  addFollower(tenant: string, options: Omit<AddFollowerOptions, "tenant">): Promise<FollowerInfo> {
    return this.#json("POST", `${t(tenant)}/followers`, options);
  }

  /** Makes a follower try again now (admin). */
  retryFollower(tenant: string, name: string): Promise<FollowerInfo> {
    return this.#json("POST", `${t(tenant)}/followers/${encodeURIComponent(name)}/retry`);
  }

  /** Gives up on a follower's current record (admin). */
  skipFollower(tenant: string, name: string): Promise<FollowerInfo> {
    return this.#json("POST", `${t(tenant)}/followers/${encodeURIComponent(name)}/skip`);
  }

  /** Removes a follower and its dead letters (admin). */
  async removeFollower(tenant: string, name: string): Promise<void> {
    await this.#request("DELETE", `${t(tenant)}/followers/${encodeURIComponent(name)}`);
  }

  async #json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const r = await this.#request(method, path, body, headers);
    return (await r.json()) as T;
  }

  async #request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    let r: Response;
    try {
      r = await this.#fetch(`${this.#base}${path}`, {
        method,
        headers: {
          ...this.#headers,
          ...headers,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (cause) {
      throw new GenlogError(
        "GENLOG_E_IO",
        `cannot reach ${this.#base}: ${(cause as Error).message}`,
        {
          cause,
          details: { url: this.#base },
        },
      );
    }
    if (r.ok) return r;
    let payload: { code?: unknown; message?: unknown; details?: unknown } = {};
    try {
      payload = (await r.json()) as typeof payload;
    } catch {
      // Not one of genlog's answers (a proxy's error page, say): the status says enough.
    }
    const code = typeof payload.code === "string" ? (payload.code as ErrorCode) : "GENLOG_E_IO";
    const message =
      typeof payload.message === "string" ? payload.message : `HTTP ${r.status} from ${this.#base}`;
    const details =
      typeof payload.details === "object" && payload.details !== null ? payload.details : {};
    throw new GenlogError(code, message, {
      details: {
        ...details,
        status: r.status,
        ...(r.headers.get("retry-after") !== null
          ? { retryAfter: Number(r.headers.get("retry-after")) }
          : {}),
      },
    });
  }
}

function t(tenant: string): string {
  return `/v1/tenants/${encodeURIComponent(tenant)}`;
}

function idempotency(options: { idempotencyKey?: string }): Record<string, string> {
  return options.idempotencyKey !== undefined ? { "idempotency-key": options.idempotencyKey } : {};
}

function qs(params: object): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params) as [string, unknown][])
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean")
      q.set(k, String(v));
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

export { GenlogError };
