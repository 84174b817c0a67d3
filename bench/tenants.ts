/**
 * (h) Mixed-tenant ingest: a platform serving many tenants from one process. One handle,
 * `tenants` tenants, `n` appends issued all at once, round-robin over the tenants through the
 * event's `tenant` field; events/s from the first append to the last ack.
 *
 * Creating a tenant (its signing key file, its log) and opening its writer happen once per
 * tenant in a service's life, so they are kept out of the clock: {@link setUpTenants} opens
 * every tenant and appends one untimed event to each (which opens its writer), and every
 * round then times `n` more appends on the same handle. After each round, every tenant's log
 * is checked to hold exactly what was acknowledged, covered by its latest signed checkpoint.
 */
import type { Genlog } from "../src/index.js";
import { makeEvent, now, windowed } from "./common.js";
import { checkNothingLost } from "./ingest.js";

/** The name of tenant `i`. */
export function tenantName(i: number): string {
  return `tenant-${String(i).padStart(4, "0")}`;
}

/** The tenants of a handle, set up by {@link setUpTenants}, and what each log should hold. */
export interface TenantSet {
  tenants: number;
  /** Records each tenant's log should hold, by tenant index. */
  expected: number[];
  /** Wall time of `openTenant` for every tenant (key file and log created), one at a time. */
  openSeconds: number;
  /** Wall time of the untimed first append to every tenant, all at once (opens each writer). */
  warmUpSeconds: number;
}

/** Opens `tenants` tenants on `log` and appends one untimed event to each. */
export async function setUpTenants(log: Genlog, tenants: number): Promise<TenantSet> {
  let start = now();
  for (let t = 0; t < tenants; t++) await log.openTenant(tenantName(t));
  const openSeconds = (now() - start) / 1000;
  start = now();
  const acked = await windowed(tenants, tenants, (t) => log.append(makeEvent(t, tenantName(t))));
  const warmUpSeconds = (now() - start) / 1000;
  if (acked !== tenants) throw new Error(`(h) warm-up: ${acked} of ${tenants} appends resolved`);
  return { tenants, expected: new Array<number>(tenants).fill(1), openSeconds, warmUpSeconds };
}

/** The result of {@link measureMixedIngest}. */
export interface MixedResult {
  events: number;
  tenants: number;
  seconds: number;
  eventsPerSec: number;
  /** Checkpoints signed during the run (one per batch of one tenant's log). */
  checkpoints: number;
  /** Seconds spent afterwards checking every tenant's size and latest checkpoint. */
  checkSeconds: number;
}

/**
 * Appends `n` events all at once, event `i` to tenant `i mod tenants`, then checks every
 * tenant's log. `firstIndex` numbers the first event (varies the payloads across rounds).
 */
export async function measureMixedIngest(
  log: Genlog,
  set: TenantSet,
  n: number,
  firstIndex = 0,
): Promise<MixedResult> {
  let checkpoints = 0;
  const onCheckpoint = () => void checkpoints++;
  log.on("checkpoint", onCheckpoint);
  let seconds: number;
  let acked: number;
  try {
    const start = now();
    acked = await windowed(n, n, (i) =>
      log.append(makeEvent(firstIndex + i, tenantName(i % set.tenants))),
    );
    seconds = (now() - start) / 1000;
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    log.off("checkpoint", onCheckpoint);
  }
  const what = `(h) mixed-tenant ingest of ${n} events over ${set.tenants} tenants`;
  if (acked !== n) throw new Error(`${what}: ${acked} appends resolved`);
  for (let i = 0; i < n; i++) set.expected[i % set.tenants]!++;
  const start = now();
  for (let t = 0; t < set.tenants; t++) {
    await checkNothingLost(log, set.expected[t]!, `${what}, ${tenantName(t)}`, tenantName(t));
  }
  return {
    events: n,
    tenants: set.tenants,
    seconds,
    eventsPerSec: n / seconds,
    checkpoints,
    checkSeconds: (now() - start) / 1000,
  };
}
