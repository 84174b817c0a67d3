/**
 * Where CAR exports are published: a Kubo node (its RPC API imports the CAR and pins its root)
 * or an IPFS Pinning Service (https://ipfs.github.io/pinning-services-api-spec/: asked to pin
 * the root CID, which it fetches from the network, e.g. from `origins`).
 */
import { createReadStream } from "node:fs";
import type { NetworkPolicy } from "../log/followers.js";
import { checkUrl, post, Unreachable } from "./outbound.js";

/** A CAR file to publish: its path and the CID of its root. */
export interface CarToPublish {
  path: string;
  root: string;
  /** A name for the pin (`genlog <origin> <fromSeq>-<treeSize>`). */
  name: string;
  meta: Record<string, string>;
}

/** A publisher's outcome: published, or why not (`unreachable`: no answer at all). */
export type PublishOutcome = { ok: true } | { ok: false; error: string; unreachable?: boolean };

/** Something that makes a CAR available on IPFS. */
export interface Publisher {
  /** One line for `followers list`. */
  describe(): string;
  publish(car: CarToPublish, signal: AbortSignal): Promise<PublishOutcome>;
}

/** A Kubo node's RPC API (`http://127.0.0.1:5001`): `dag/import` with the roots pinned. */
export class KuboPublisher implements Publisher {
  readonly #url: string;
  readonly #network: NetworkPolicy;

  constructor(url: string, network: NetworkPolicy) {
    this.#url = url;
    this.#network = network;
  }

  describe(): string {
    return `Kubo ${this.#url}`;
  }

  async publish(car: CarToPublish, signal: AbortSignal): Promise<PublishOutcome> {
    // The URL is checked again here: the policy is the running process's.
    checkUrl(this.#url, "/config/kubo", this.#network);
    // Loaded when first used: the client is a large module graph every CLI start would pay for.
    const { create: kuboClient } = await import("kubo-rpc-client");
    const client = kuboClient({ url: new URL("api/v0", ensureSlash(this.#url)) });
    const roots: string[] = [];
    try {
      // One CAR: a list of one stream (a bare stream reads as a list of chunks).
      const source = [createReadStream(car.path) as AsyncIterable<Uint8Array>];
      for await (const r of client.dag.import(source, { pinRoots: true, signal })) {
        if (r.root.pinErrorMsg !== undefined && r.root.pinErrorMsg !== "") {
          return { ok: false, error: `Kubo could not pin ${car.root}: ${r.root.pinErrorMsg}` };
        }
        roots.push(r.root.cid.toString());
      }
    } catch (e) {
      // No answer (refused, reset, DNS) is the node's absence, not the CAR's fault.
      const code =
        (e as { cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code;
      if (code !== undefined && /^E[A-Z]+$/.test(code) && code !== "ERR_NOT_FOUND") {
        return { ok: false, unreachable: true, error: `Kubo at ${this.#url}: ${code}` };
      }
      return {
        ok: false,
        error: `Kubo at ${this.#url}: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
    if (!roots.includes(car.root)) {
      return {
        ok: false,
        error: `Kubo imported roots ${roots.join(", ") || "none"}, not ${car.root}`,
      };
    }
    return { ok: true };
  }
}

/** An IPFS Pinning Service (`https://pinning.example.com/psa`), with its access token. */
export class PinningServicePublisher implements Publisher {
  readonly #endpoint: string;
  readonly #token: string;
  readonly #origins: readonly string[];
  readonly #network: NetworkPolicy;

  constructor(endpoint: string, token: string, origins: readonly string[], network: NetworkPolicy) {
    this.#endpoint = endpoint;
    this.#token = token;
    this.#origins = origins;
    this.#network = network;
  }

  describe(): string {
    return `pinning service ${this.#endpoint}`;
  }

  async publish(car: CarToPublish, signal: AbortSignal): Promise<PublishOutcome> {
    const url = new URL("pins", ensureSlash(this.#endpoint));
    const body = JSON.stringify({
      cid: car.root,
      name: car.name,
      ...(this.#origins.length > 0 ? { origins: this.#origins } : {}),
      meta: car.meta,
    });
    let status: number;
    try {
      ({ status } = await post(
        url,
        {
          "content-type": "application/json",
          authorization: `Bearer ${this.#token}`,
          "user-agent": "genlog-ipfs",
        },
        body,
        signal,
        this.#network,
      ));
    } catch (e) {
      if (e instanceof Unreachable) return { ok: false, unreachable: true, error: e.message };
      throw e;
    }
    // 202 Accepted: queued, pinning or pinned. The service fetches the blocks itself.
    if (status >= 200 && status < 300) return { ok: true };
    const why = status === 401 || status === 403 ? " (the access token was refused)" : "";
    return { ok: false, error: `the pinning service answered HTTP ${status}${why}` };
  }
}

function ensureSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}
