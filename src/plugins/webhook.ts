/**
 * The `webhook` follower: POSTs each committed record to an endpoint, signed as the Standard
 * Webhooks specification says (https://www.standardwebhooks.com): `webhook-id` (the record's
 * id, the receiver's idempotency key), `webhook-timestamp` (Unix seconds) and
 * `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the
 * `whsec_` secret). Any 2xx is a delivery; 410 Gone stops the follower; anything else is
 * retried.
 */
import { createHmac } from "node:crypto";
import { GenlogError } from "../errors.js";
import type { GenerationRecord } from "../core/record.js";
import { SLUG_PATTERN } from "../core/event-schema.js";
import type { Delivery, DeliveryOutcome, FollowerKind } from "../log/followers.js";

/** A webhook follower's options. */
export interface WebhookConfig {
  /** The endpoint (http or https). */
  url: string;
  /** Only records of these types (all when absent). */
  types?: string[];
  /** Only records of these sectors (all when absent). */
  sectors?: string[];
}

/** The body of one delivery. */
export interface WebhookPayload {
  type: "genlog.appended";
  /** The record's `ts`. */
  timestamp: string;
  data: {
    tenant: string;
    seq: number;
    /** hex SHA-256(0x00 || canonical record): ask `GET …/events/{id}?proof=true` for its proof. */
    leafHash: string;
    record: GenerationRecord;
  };
}

const SLUG = new RegExp(SLUG_PATTERN);
const SECRET = /^whsec_([A-Za-z0-9+/]{32,88}={0,2})$/;

export const webhookFollower: FollowerKind<WebhookConfig> = {
  kind: "webhook",
  secret: "required",
  secretForm:
    "whsec_ and the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))",

  describe(config) {
    const filters = [
      config.types === undefined ? "" : ` types ${config.types.join(",")}`,
      config.sectors === undefined ? "" : ` sectors ${config.sectors.join(",")}`,
    ].join("");
    return `POST ${config.url}${filters}`;
  },

  parse(input) {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw invalid("/config", "expected an object with a url");
    }
    const { url, types, sectors, ...rest } = input as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw invalid(`/config/${extra}`, "unknown option");
    if (typeof url !== "string") throw invalid("/config/url", "expected an http or https URL");
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid("/config/url", "expected an http or https URL");
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw invalid("/config/url", "expected an http or https URL");
    }
    if (parsed.username !== "" || parsed.password !== "") {
      throw invalid("/config/url", "no credentials in the URL: the signature authenticates");
    }
    return {
      url: parsed.href,
      ...(types !== undefined ? { types: slugs(types, "/config/types") } : {}),
      ...(sectors !== undefined ? { sectors: slugs(sectors, "/config/sectors") } : {}),
    };
  },

  checkSecret(secret) {
    const m = SECRET.exec(secret);
    const bytes = m === null ? 0 : Buffer.from(m[1]!, "base64").length;
    if (bytes < 24 || bytes > 64) {
      throw invalid("/secret", `expected ${webhookFollower.secretForm!}`);
    }
  },

  wants(config, record) {
    return (
      (config.types === undefined || config.types.includes(record.type)) &&
      (config.sectors === undefined ||
        (record.sector !== null && config.sectors.includes(record.sector)))
    );
  },

  async deliver(d: Delivery<WebhookConfig>): Promise<DeliveryOutcome> {
    const payload: WebhookPayload = {
      type: "genlog.appended",
      timestamp: d.record.ts,
      data: { tenant: d.tenant, seq: d.record.seq, leafHash: d.leafHash, record: d.record },
    };
    const body = JSON.stringify(payload);
    const timestamp = Math.floor(Date.now() / 1000);
    let res: Response;
    try {
      res = await fetch(d.config.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "genlog-webhook",
          ...signatureHeaders(d.secret!, d.record.id, timestamp, body),
        },
        body,
        redirect: "manual",
        signal: d.signal,
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      return {
        ok: false,
        error: d.signal.aborted
          ? "no answer before the timeout"
          : `could not reach the endpoint${cause !== undefined ? ` (${cause})` : ""}`,
      };
    }
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { ok: true };
    if (res.status === 410)
      return { ok: false, gone: true, error: "the endpoint answered 410 Gone" };
    return { ok: false, error: `the endpoint answered HTTP ${res.status}` };
  },
};

/** The three Standard Webhooks headers of one message. */
export function signatureHeaders(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
): Record<string, string> {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const mac = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${mac}`,
  };
}

function slugs(v: unknown, pointer: string): string[] {
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    v.length > 64 ||
    !v.every((s) => typeof s === "string" && SLUG.test(s))
  ) {
    throw invalid(
      pointer,
      "expected 1 to 64 names (a lower-case letter, then letters, digits, . _ -)",
    );
  }
  return [...new Set(v as string[])];
}

function invalid(pointer: string, why: string): GenlogError {
  return new GenlogError("GENLOG_E_INVALID_INPUT", `${pointer}: ${why}`, {
    details: { pointer, rule: "follower" },
  });
}
