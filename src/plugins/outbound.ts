/**
 * Outbound HTTP for followers: one POST, to an address the operator allows. A tenant admin
 * chooses a follower's URL, so without a check a webhook could reach what only the server can
 * (a cloud metadata service, an internal admin port, the loopback): loopback, private,
 * link-local and other special-purpose addresses are refused unless the operator allows
 * private networks, and the check is made on the address actually connected to (after DNS),
 * so a name that resolves differently later cannot slip past it.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { lookup as dnsLookup } from "node:dns";
import type { Delivery, DeliveryOutcome, NetworkPolicy } from "../log/followers.js";
import { invalidOption as invalid } from "./options.js";

/**
 * Special-purpose ranges (RFC 6890 and its successors) no public receiver lives in. Two lists:
 * one list checks an IPv4 address against its IPv6 rules too, as `::ffff:a.b.c.d`.
 */
const SPECIAL4 = new BlockList();
const SPECIAL6 = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 3],
] as const) {
  SPECIAL4.addSubnet(net, bits, "ipv4");
}
for (const [net, bits] of [
  ["::", 96], // unspecified, loopback, and IPv4-compatible (deprecated)
  ["::ffff:0:0", 96], // IPv4-mapped in hex, all refused (the dotted form is checked as IPv4)
  ["::ffff:0:0:0", 96], // IPv4-translated (RFC 2765)
  ["64:ff9b::", 96], // NAT64: reaches IPv4 addresses
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard
  ["2001::", 23], // IETF protocol assignments, Teredo among them
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4: embeds an IPv4 address
  ["3fff::", 20], // documentation (RFC 9637)
  ["5f00::", 16], // segment routing SIDs
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  SPECIAL6.addSubnet(net, bits, "ipv6");
}

/** Whether an IP address is special-purpose (an IPv4-mapped IPv6 address as its IPv4). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return SPECIAL4.check(mapped[1]!, "ipv4");
  const family = isIP(address);
  if (family === 0) return true; // not an address: refuse rather than guess
  return family === 4 ? SPECIAL4.check(address, "ipv4") : SPECIAL6.check(address, "ipv6");
}

/**
 * Checks a follower's URL against the policy when it is added: `https:`, or `http:` where
 * private networks are allowed; no credentials; no literal private address.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming `pointer`.
 */
export function checkUrl(input: unknown, pointer: string, policy: NetworkPolicy): URL {
  const want = policy.allowPrivate ? "an http or https URL" : "an https URL";
  if (typeof input !== "string") throw invalid(pointer, `expected ${want}`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw invalid(pointer, `expected ${want}`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowPrivate)) {
    throw invalid(
      pointer,
      url.protocol === "http:"
        ? "expected an https URL (plain http only where private networks are allowed: GENLOG_FOLLOWERS_ALLOW_PRIVATE=true)"
        : `expected ${want}`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(pointer, "no credentials in the URL");
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!policy.allowPrivate && (isIP(host) !== 0 ? isPrivateAddress(host) : host === "localhost")) {
    throw invalid(
      pointer,
      `${host} is a private or loopback address: allowed only with GENLOG_FOLLOWERS_ALLOW_PRIVATE=true`,
    );
  }
  return url;
}

/** The answer to one POST: its status (the body is read and dropped, up to a bound). */
export interface PostResult {
  status: number;
}

/** Why a POST did not get an answer; what the follower's state and errors show. */
export class Unreachable extends Error {}

/**
 * POSTs `body` to `url` with `headers`, connecting only to an address the policy allows. No
 * redirect is followed (a redirect is an answer like any other).
 *
 * @throws {Unreachable} when no answer came: refused address, DNS, connection, timeout
 * (`signal`).
 */
export function post(
  url: URL,
  headers: Record<string, string>,
  body: string | Uint8Array,
  signal: AbortSignal,
  policy: NetworkPolicy,
): Promise<PostResult> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!policy.allowPrivate && isIP(host) !== 0 && isPrivateAddress(host)) {
    return Promise.reject(new Unreachable("the endpoint's address is private: refused"));
  }
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err !== null) return callback(err, "", 4);
      const usable = policy.allowPrivate
        ? addresses
        : addresses.filter((a) => !isPrivateAddress(a.address));
      if (usable.length === 0) {
        const refused = Object.assign(
          new Error("the endpoint's name resolves only to private addresses: refused"),
          { code: "GENLOG_PRIVATE_ADDRESS" },
        );
        return callback(refused, "", 4);
      }
      if (options.all === true) callback(null, usable);
      else callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup,
        signal,
      },
      (res: IncomingMessage) => {
        // The answer's body is not used: read up to 64 KiB so the socket can be reused.
        let read = 0;
        res.on("data", (chunk: Buffer) => {
          read += chunk.length;
          if (read > 65_536) res.destroy();
        });
        res.on("close", () => resolve({ status: res.statusCode ?? 0 }));
        res.on("error", () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (signal.aborted) reject(new Unreachable("no answer before the timeout"));
      else if (e.code === "GENLOG_PRIVATE_ADDRESS") reject(new Unreachable(e.message));
      // The code only: a tenant admin reads this, and it must not map the operator's network.
      else reject(new Unreachable(`could not reach the endpoint (${e.code ?? "error"})`));
    });
    req.end(body);
  });
}

/**
 * POSTs one delivery's body and says what the answer means: any 2xx delivered, 410 gone for
 * good, any other answer a failure of this record, no answer at all the receiver unreachable.
 */
export async function deliverByPost(
  d: Pick<Delivery<{ url: string }>, "config" | "signal" | "network">,
  headers: Record<string, string>,
  body: string,
): Promise<DeliveryOutcome> {
  let status: number;
  try {
    ({ status } = await post(new URL(d.config.url), headers, body, d.signal, d.network));
  } catch (e) {
    if (e instanceof Unreachable) return { ok: false, unreachable: true, error: e.message };
    throw e;
  }
  if (status >= 200 && status < 300) return { ok: true };
  if (status === 410) return { ok: false, gone: true, error: "the endpoint answered 410 Gone" };
  return { ok: false, error: `the endpoint answered HTTP ${status}` };
}
