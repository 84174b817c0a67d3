/**
 * The `siem` follower: POSTs each committed record to a SIEM's HTTP collector as an OCSF or
 * ECS document in a CloudEvents 1.0 envelope (structured mode, `application/cloudevents+json`),
 * with an optional bearer token. Answers mean what they mean for a webhook (see
 * {@link deliverByPost}). For NDJSON files a SIEM agent tails, see the `file-sink` kind.
 */
import { HTTP } from "cloudevents";
import type { Delivery, DeliveryOutcome, FollowerKind } from "../log/followers.js";
import { checkUrl, deliverByPost } from "./outbound.js";
import {
  describeFilter,
  enumOption,
  FILTER_OPTIONS,
  invalidOption,
  optionsObject,
  parseFilter,
  passes,
  type RecordFilter,
} from "./options.js";
import { SIEM_FORMATS, cloudEvent, type SiemFormat } from "./siem-formats.js";

/** A SIEM stream's options. */
export interface SiemConfig extends RecordFilter {
  /** The collector: https, or http where private networks are allowed. */
  url: string;
  /** The documents' schema; default `ocsf`. */
  format: SiemFormat;
}

/** A bearer token: printable ASCII, no spaces (RFC 6750's b64token, loosely). */
const TOKEN = /^[\x21-\x7e]{16,4096}$/;

export const siemFollower: FollowerKind<SiemConfig> = {
  kind: "siem",
  secret: "optional",
  secretForm: "a bearer token the collector expects (16 to 4,096 printable characters)",

  describe(config) {
    return `POST ${config.format.toUpperCase()} CloudEvents to ${config.url}${describeFilter(config)}`;
  },

  parse(input, network) {
    const o = optionsObject(input, ["url", "format", ...FILTER_OPTIONS]);
    return {
      url: checkUrl(o.url, "/config/url", network).href,
      format: enumOption(o.format, "/config/format", SIEM_FORMATS, "ocsf"),
      ...parseFilter(o),
    };
  },

  checkSecret(secret) {
    if (!TOKEN.test(secret)) throw invalidOption("/secret", `expected ${siemFollower.secretForm!}`);
  },

  wants: passes,

  async deliver(d: Delivery<SiemConfig>): Promise<DeliveryOutcome> {
    const message = HTTP.structured(
      cloudEvent(d.config.format, { origin: d.origin, record: d.record, leafHash: d.leafHash }),
    );
    return deliverByPost(
      d,
      {
        ...(message.headers as Record<string, string>),
        "user-agent": "genlog-siem",
        ...(d.secret !== undefined ? { authorization: `Bearer ${d.secret}` } : {}),
      },
      String(message.body),
    );
  },
};
