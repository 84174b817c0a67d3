/**
 * The `ipfs` follower: once per period, a CAR export of what the tenant's events log committed
 * since the last one (from that export's checkpoint, with the consistency proof between them),
 * checked as a reader would check it, then published: imported and pinned on a Kubo node,
 * and/or pinned by an IPFS Pinning Service. Outsiders who keep the published checkpoints can
 * then detect a rewritten history (docs/guides/sovereignty.md).
 *
 * A CAR whose records hold personal data in clear (what the detectors find in `meta` and
 * artifact names, as a log written without them would hold) is refused unless the options
 * say `allowPersonalData: true`: what is published on IPFS can be copied by anyone who holds
 * its CID, and unpinning it deletes nothing.
 *
 * The exports are kept in `<followers directory>/<tenant>/<name>/`, named
 * `<fromSeq>-<treeSize>.car` (12 digits each), with `published.json`: the last one published
 * (its checkpoint is where the next one starts). Exports are deterministic, so one published
 * again after a crash is the same CAR, with the same root. Records purged (retention) before
 * an export could hold them are skipped: the export starts at the first checkpoint past them,
 * and `published.json` says which range no export holds.
 */
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { DeliveryOutcome, FollowerKind, PeriodDelivery } from "../log/followers.js";
import { syncPath, writeFileDurably } from "../log/sync-path.js";
import { checkUrl } from "./outbound.js";
import { enumOption, invalidOption, optionsObject } from "./options.js";
import { PERIOD_MS, REPORT_PERIODS, type ReportPeriod } from "./report.js";
import { KuboPublisher, PinningServicePublisher, type Publisher } from "./publishers.js";

/** An ipfs follower's options. */
export interface IpfsConfig {
  /** How often a CAR is exported and published; default `day`. */
  period: ReportPeriod;
  /** A Kubo node's RPC API (`http://127.0.0.1:5001`). */
  kubo?: string;
  /** An IPFS Pinning Service API endpoint; its access token is the follower's secret. */
  pinning?: string;
  /** Multiaddrs where the pinning service can fetch the blocks (the Kubo node's). */
  origins?: string[];
  /** Publish records that hold personal data in clear all the same; default false. */
  allowPersonalData: boolean;
}

/** What `published.json` holds. */
interface Published {
  treeSize: number;
  checkpoint: string;
  root: string;
  file: string;
  at: string;
  /** Records purged (retention) before this export could hold them: no export has them. */
  skipped?: { fromSeq: number; toSeq: number };
}

export const ipfsFollower: FollowerKind<IpfsConfig> = {
  kind: "ipfs",
  secret: "optional",
  secretForm: "the pinning service's access token",

  describe(config) {
    const to = [
      config.kubo !== undefined ? `Kubo ${config.kubo}` : undefined,
      config.pinning !== undefined ? `pinning service ${config.pinning}` : undefined,
    ].filter(Boolean);
    return `a CAR export each ${config.period}, published to ${to.join(" and ")}${config.allowPersonalData ? " (personal data allowed)" : ""}`;
  },

  parse(input, network) {
    const o = optionsObject(input ?? {}, [
      "period",
      "kubo",
      "pinning",
      "origins",
      "allowPersonalData",
    ]);
    if (o.kubo === undefined && o.pinning === undefined) {
      throw invalidOption("/config", "expected kubo (a Kubo RPC API URL), pinning, or both");
    }
    if (
      o.origins !== undefined &&
      (!Array.isArray(o.origins) ||
        o.origins.length > 20 ||
        !o.origins.every((a) => typeof a === "string" && /^\/[!-~]{1,500}$/.test(a)))
    ) {
      throw invalidOption(
        "/config/origins",
        "expected up to 20 multiaddrs (/ip4/…/tcp/4001/p2p/…)",
      );
    }
    if (o.allowPersonalData !== undefined && typeof o.allowPersonalData !== "boolean") {
      throw invalidOption("/config/allowPersonalData", "expected true or false");
    }
    return {
      period: enumOption(o.period, "/config/period", REPORT_PERIODS, "day"),
      ...(o.kubo !== undefined ? { kubo: checkUrl(o.kubo, "/config/kubo", network).href } : {}),
      ...(o.pinning !== undefined
        ? { pinning: checkUrl(o.pinning, "/config/pinning", network).href }
        : {}),
      ...(o.origins !== undefined ? { origins: o.origins as string[] } : {}),
      allowPersonalData: o.allowPersonalData === true,
    };
  },

  needsSecret: (config) => config.pinning !== undefined,

  checkSecret(secret) {
    if (!/^[!-~]{16,4096}$/.test(secret)) {
      throw invalidOption("/secret", "expected the access token: 16 to 4,096 printable characters");
    }
  },

  periodMs: (config) => PERIOD_MS[config.period],
  wants: () => false,
  deliver: () => Promise.resolve({ ok: true }),

  async deliverPeriod(d: PeriodDelivery<IpfsConfig>): Promise<DeliveryOutcome> {
    const dir = join(d.filesDir, d.tenant, d.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const last = await readPublished(dir);
    const tmp = join(dir, "export.car.tmp");
    await rm(tmp, { force: true });
    const exported = await d.exportCar(tmp, last?.checkpoint);
    // Nothing committed since the last export: nothing to publish.
    if (exported === undefined) return { ok: true };
    const { root, manifest, checkpoint } = exported;
    if (!d.config.allowPersonalData) {
      const found = await d.clearPersonalData(manifest.fromSeq, manifest.treeSize);
      if (found.length > 0) {
        await rm(tmp, { force: true });
        return {
          ok: false,
          error: `records ${found.slice(0, 5).join(", ")}${found.length > 5 ? "…" : ""} hold personal data in clear: not published (once on IPFS it cannot be taken back); set allowPersonalData to publish them all the same`,
        };
      }
    }
    // Checked as a reader will check it, before anything leaves the machine.
    const { checkCar } = await import("../log/car-export.js");
    const check = await checkCar(createReadStream(tmp), {
      verifierKey: manifest.verifierKey,
      ...(last !== undefined && exported.skipped === undefined
        ? { previous: last.checkpoint }
        : {}),
    });
    if (!check.ok || check.root !== root) {
      await rm(tmp, { force: true });
      return {
        ok: false,
        error: `the export does not check: ${check.problems.map((p) => p.message).join("; ")}`,
      };
    }
    const file = `${pad(manifest.fromSeq)}-${pad(manifest.treeSize)}.car`;
    await rename(tmp, join(dir, file));
    await syncPath(dir);
    const car = {
      path: join(dir, file),
      root,
      name: `genlog ${manifest.origin} ${manifest.fromSeq}-${manifest.treeSize}`,
      meta: {
        origin: manifest.origin,
        fromSeq: String(manifest.fromSeq),
        treeSize: String(manifest.treeSize),
        rootHash: manifest.rootHash,
      },
    };
    for (const publisher of publishers(d)) {
      const outcome = await publisher.publish(car, d.signal);
      if (!outcome.ok) return outcome;
    }
    const published: Published = {
      treeSize: manifest.treeSize,
      checkpoint,
      root,
      file,
      at: new Date().toISOString(),
      ...(exported.skipped !== undefined ? { skipped: exported.skipped } : {}),
    };
    await writeFileDurably(dir, "published.json", `${JSON.stringify(published, null, 2)}\n`);
    return { ok: true };
  },
};

function publishers(d: PeriodDelivery<IpfsConfig>): Publisher[] {
  const out: Publisher[] = [];
  if (d.config.kubo !== undefined) out.push(new KuboPublisher(d.config.kubo, d.network));
  if (d.config.pinning !== undefined) {
    out.push(
      new PinningServicePublisher(d.config.pinning, d.secret!, d.config.origins ?? [], d.network),
    );
  }
  return out;
}

async function readPublished(dir: string): Promise<Published | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, "published.json"), "utf8")) as Published;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function pad(n: number): string {
  return String(n).padStart(12, "0");
}
