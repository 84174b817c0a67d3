/**
 * In-process CPU profiling through the inspector (the same V8 sampler as `node --cpu-prof`,
 * but around one measure only) and a self-time summary of the resulting profile. The
 * profile is written in the `.cpuprofile` format that Chrome DevTools and VS Code open.
 */
import type { Profiler } from "node:inspector";
import { Session } from "node:inspector/promises";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

/** Runs `fn` under the V8 sampling profiler (`intervalUs` between samples). */
export async function profile<T>(
  fn: () => Promise<T>,
  intervalUs = 250,
): Promise<{ result: T; profile: Profiler.Profile }> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: intervalUs });
    await session.post("Profiler.start");
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await session.post("Profiler.stop");
      throw e;
    }
    const { profile } = await session.post("Profiler.stop");
    return { result, profile };
  } finally {
    session.disconnect();
  }
}

/** One function (or file) and the time sampled inside it (for totals: or its callees). */
export interface HotSpot {
  name: string;
  /** Self time, or total time for {@link topInclusive}. */
  selfMs: number;
  percent: number;
}

/** Per-node sampled time in milliseconds (V8 convention: a sample lasts until the next). */
function selfTimes(p: Profiler.Profile): Map<number, number> {
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const self = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    const next = deltas[i + 1];
    const us = next !== undefined ? next : Math.max(0, p.endTime - t);
    const id = samples[i]!;
    self.set(id, (self.get(id) ?? 0) + us / 1000);
  }
  return self;
}

function where(url: string): string {
  if (url === "") return "";
  if (url.startsWith("file://")) {
    const path = relative(process.cwd(), fileURLToPath(url));
    return path.replace(/^node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, "");
  }
  return url;
}

function top(totals: Map<string, number>, limit: number): HotSpot[] {
  let all = 0;
  for (const ms of totals.values()) all += ms;
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, selfMs]) => ({ name, selfMs, percent: (100 * selfMs) / all }));
}

/**
 * `function file`. No line: under tsx the sampled positions are those of the transpiled
 * code, so they would mislead.
 */
function frameName(node: Profiler.ProfileNode): string {
  const { functionName, url } = node.callFrame;
  const file = where(url);
  return `${functionName || "(anonymous)"}${file === "" ? "" : ` ${file}`}`;
}

/** The `limit` functions with the most self time. */
export function topFunctions(p: Profiler.Profile, limit = 10): HotSpot[] {
  const self = selfTimes(p);
  const totals = new Map<string, number>();
  for (const node of p.nodes) {
    const ms = self.get(node.id);
    if (ms === undefined) continue;
    const name = frameName(node);
    totals.set(name, (totals.get(name) ?? 0) + ms);
  }
  return top(totals, limit);
}

/**
 * The `limit` functions of files whose path starts with `prefix` with the most total time
 * (self plus callees; a recursive function counts once per sample).
 */
export function topInclusive(p: Profiler.Profile, prefix: string, limit = 10): HotSpot[] {
  const self = selfTimes(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totals = new Map<string, number>();
  let all = 0;
  for (const [id, ms] of self) {
    all += ms;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      if (!where(node.callFrame.url).startsWith(prefix)) continue;
      const name = frameName(node);
      if (seen.has(name)) continue;
      seen.add(name);
      totals.set(name, (totals.get(name) ?? 0) + ms);
    }
  }
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, totalMs]) => ({ name, selfMs: totalMs, percent: (100 * totalMs) / all }));
}

/** The `limit` files (or V8 pseudo-frames such as `(garbage collector)`) with most self time. */
export function topFiles(p: Profiler.Profile, limit = 8): HotSpot[] {
  const self = selfTimes(p);
  const totals = new Map<string, number>();
  for (const node of p.nodes) {
    const ms = self.get(node.id);
    if (ms === undefined) continue;
    const file = where(node.callFrame.url);
    const name =
      file === ""
        ? node.callFrame.functionName.startsWith("(")
          ? node.callFrame.functionName
          : "(native)"
        : file;
    totals.set(name, (totals.get(name) ?? 0) + ms);
  }
  return top(totals, limit);
}
