/**
 * The `webhook` follower: POSTs each committed record to an endpoint, signed as the Standard
 * Webhooks specification says (https://www.standardwebhooks.com): `webhook-id` (the record's
 * id, the receiver's idempotency key), `webhook-timestamp` (Unix seconds) and
 * `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the
 * `whsec_` secret). Any 2xx is a delivery; 410 Gone stops the follower; any other answer is
 * retried, then dead-lettered; no answer at all (the endpoint is unreachable) pauses the
 * follower until it answers, since the record is not at fault.
 */
import { createHmac } from "node:crypto";
import type { GenerationRecord } from "../core/record.js";
import type { Delivery, DeliveryOutcome, FollowerKind } from "../log/followers.js";
import { checkUrl, deliverByPost } from "./outbound.js";
import {
  describeFilter,
  FILTER_OPTIONS,
  invalidOption as invalid,
  optionsObject,
  parseFilter,
  passes,
  type RecordFilter,
} from "./options.js";

/** A webhook follower's options. */
export interface WebhookConfig extends RecordFilter {
  /** The endpoint: https, or http where private networks are allowed. */
  url: string;
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

const SECRET = /^whsec_([A-Za-z0-9+/]{32,88}={0,2})$/;

export const webhookFollower: FollowerKind<WebhookConfig> = {
  kind: "webhook",
  secret: "required",
  secretForm:
    "whsec_ and the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))",

  describe(config) {
    return `POST ${config.url}${describeFilter(config)}`;
  },

  parse(input, network) {
    const o = optionsObject(input, ["url", ...FILTER_OPTIONS]);
    return { url: checkUrl(o.url, "/config/url", network).href, ...parseFilter(o) };
  },

  checkSecret(secret) {
    const m = SECRET.exec(secret);
    const key = m === null ? Buffer.alloc(0) : Buffer.from(m[1]!, "base64");
    // Canonical base64 only: one secret, one spelling (Buffer.from skips what is not base64).
    if (key.length < 24 || key.length > 64 || key.toString("base64") !== m![1]) {
      throw invalid("/secret", `expected ${webhookFollower.secretForm!}`);
    }
  },

  wants: passes,

  async deliver(d: Delivery<WebhookConfig>): Promise<DeliveryOutcome> {
    const payload: WebhookPayload = {
      type: "genlog.appended",
      timestamp: d.record.ts,
      data: { tenant: d.tenant, seq: d.record.seq, leafHash: d.leafHash, record: d.record },
    };
    const body = JSON.stringify(payload);
    const timestamp = Math.floor(Date.now() / 1000);
    return deliverByPost(
      d,
      {
        "content-type": "application/json",
        "user-agent": "genlog-webhook",
        ...signatureHeaders(d.secret!, d.record.id, timestamp, body),
      },
      body,
    );
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
