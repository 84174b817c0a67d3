/**
 * What each `genlog` command does, on top of the public library API only.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { SingleBar, Presets } from "cli-progress";
import { GenlogError } from "../errors.js";
import { openLog, type Genlog, type GenerationEventInput } from "../genlog.js";
import { defaultKeysDir, keyPath } from "../keys/file-keys.js";
import type { GenerationRecord } from "../core/record.js";
import { checkInclusionProof } from "../core/proofs.js";
import { parseCheckpoint } from "../core/checkpoint.js";
import type { VerifyReport } from "../log/verify.js";

/** Options every command accepts. */
export interface GlobalOptions {
  dataDir: string;
  tenant: string;
  json: boolean;
  [option: string]: unknown;
}

/** Runs one command; resolves to its exit status. */
export async function runCommand(name: string, args: unknown[], o: GlobalOptions): Promise<number> {
  switch (name) {
    case "init":
      return init(o);
    case "demo":
      return demo(o);
  }
  // Only `log` writes; every other command reads, and needs no signing key to do so (an
  // auditor's copy of genlog.db is enough for verify, given --verifier-key).
  const log = await openLog({
    dataDir: o.dataDir,
    tenant: o.tenant,
    ...keysDirOption(o),
    ...(name === "log" ? { create: false } : { readOnly: true }),
  });
  try {
    switch (name) {
      case "log":
        return await logEvent(log, String(args[0]), o);
      case "query":
        return await query(log, o);
      case "checkpoint":
        return await checkpoint(log, o);
      case "key":
        return await key(log, o);
      case "proof-inclusion":
        return await proofInclusion(log, String(args[0]), o);
      case "proof-consistency":
        return await proofConsistency(log, o);
      case "verify":
        return await verify(log, o);
      case "export":
        return await exportRecords(log, o);
      default:
        throw new GenlogError("GENLOG_E_USAGE", `unknown command ${name}`);
    }
  } finally {
    await log.close();
  }
}

function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** `--keys-dir` (or `GENLOG_KEYS_DIR`) as an `openLog` option, when given. */
function keysDirOption(o: GlobalOptions): { keysDir?: string } {
  return typeof o.keysDir === "string" ? { keysDir: o.keysDir } : {};
}

async function init(o: GlobalOptions): Promise<number> {
  const dataDir = resolve(o.dataDir);
  const keysDir = typeof o.keysDir === "string" ? resolve(o.keysDir) : defaultKeysDir(dataDir);
  const path = keyPath(keysDir, o.tenant);
  const created = !existsSync(path);
  const log = await openLog({
    dataDir,
    keysDir,
    tenant: o.tenant,
    ...(typeof o.instance === "string" ? { instance: o.instance } : {}),
  });
  try {
    const verifierKey = await log.verifierKey();
    if (o.json) {
      out(
        JSON.stringify({ dataDir, tenant: o.tenant, origin: log.origin(), verifierKey, created }),
      );
    } else {
      process.stderr.write(
        created
          ? `Initialised ${dataDir} (tenant ${o.tenant}, origin ${log.origin()}).\nSigning key: ${path} (keep it secret). Verifier key:\n`
          : `${dataDir} was already initialised; kept its signing key. Verifier key:\n`,
      );
      out(verifierKey);
    }
  } finally {
    await log.close();
  }
  return 0;
}

function parseMeta(o: GlobalOptions): Record<string, unknown> {
  let meta: Record<string, unknown> = {};
  if (typeof o.metaJson === "string") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(o.metaJson);
    } catch (cause) {
      throw new GenlogError(
        "GENLOG_E_INVALID_INPUT",
        `--meta-json: expected a JSON object, got invalid JSON (${(cause as Error).message})`,
        {
          cause,
          details: { pointer: "/meta", rule: "json" },
        },
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new GenlogError("GENLOG_E_INVALID_INPUT", "--meta-json: expected a JSON object", {
        details: { pointer: "/meta", rule: "type" },
      });
    }
    meta = parsed as Record<string, unknown>;
  }
  for (const kv of (o.meta as string[] | undefined) ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) {
      throw new GenlogError("GENLOG_E_INVALID_INPUT", `--meta: expected key=value, got "${kv}"`, {
        details: { pointer: "/meta", rule: "format" },
      });
    }
    meta[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return meta;
}

async function digestFile(file: string): Promise<{ name: string; digest: string; size: number }> {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `--artifact: expected a readable file, got "${file}"`,
      {
        details: { pointer: "/artifacts", rule: "file" },
      },
    );
  }
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { name: basename(file), digest: `sha256:${hash.digest("hex")}`, size };
}

async function logEvent(log: Genlog, type: string, o: GlobalOptions): Promise<number> {
  const event: GenerationEventInput = { type, tenant: o.tenant, meta: parseMeta(o) };
  if (typeof o.user === "string") event.user = o.user;
  if (typeof o.sector === "string") event.sector = o.sector;
  if (typeof o.status === "string") event.status = o.status as GenerationEventInput["status"];
  if (typeof o.occurredAt === "string") event.occurredAt = o.occurredAt;
  if (typeof o.id === "string") event.id = o.id;
  const files = (o.artifact as string[] | undefined) ?? [];
  if (files.length > 0) event.artifacts = await Promise.all(files.map(digestFile));
  const result = await log.appendWithStatus(event);
  if (o.json) out(result.canonical);
  else {
    process.stderr.write(
      result.duplicate
        ? `Already logged (same id); the first record is:\n`
        : `Logged ${result.record.type} #${result.record.seq} in ${log.origin()}:\n`,
    );
    out(JSON.stringify(forReading(result.record), null, 2));
  }
  return 0;
}

/** Members in the order a person reads a record (the stored text is in RFC 8785 order). */
const READING_ORDER = [
  "v",
  "id",
  "seq",
  "tenant",
  "type",
  "ts",
  "occurredAt",
  "actor",
  "sector",
  "status",
  "meta",
  "artifacts",
  "redactions",
  "pii",
] as const satisfies readonly (keyof GenerationRecord)[];

function forReading(record: GenerationRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of READING_ORDER) out[k] = record[k];
  // Members a later record version adds still show, after the known ones.
  for (const [k, v] of Object.entries(record)) if (!(k in out)) out[k] = v;
  return out;
}

async function query(log: Genlog, o: GlobalOptions): Promise<number> {
  const limit = Number(o.limit);
  const page = await log.query({
    limit,
    ...(typeof o.type === "string" ? { type: o.type } : {}),
    ...(typeof o.user === "string" ? { actor: o.user } : {}),
    ...(typeof o.sector === "string" ? { sector: o.sector } : {}),
    ...(typeof o.status === "string" ? { status: o.status as "failed" } : {}),
    ...(typeof o.since === "string" ? { since: o.since } : {}),
    ...(typeof o.until === "string" ? { until: o.until } : {}),
    ...(typeof o.cursor === "string" ? { cursor: o.cursor } : {}),
  });
  if (o.json || !process.stdout.isTTY) {
    out(JSON.stringify(page.records));
    if (page.nextCursor !== null && o.json)
      process.stderr.write(`next cursor: ${page.nextCursor}\n`);
    return 0;
  }
  out(formatTable(page.records));
  if (page.nextCursor !== null) process.stderr.write(`more: --cursor ${page.nextCursor}\n`);
  return 0;
}

/** A plain aligned table for terminals. */
export function formatTable(records: GenerationRecord[]): string {
  const header = ["SEQ", "TIME", "TYPE", "ACTOR", "SECTOR", "STATUS", "ID"];
  const rows = records.map((r) => [
    String(r.seq),
    r.ts,
    r.type,
    r.actor ?? "-",
    r.sector ?? "-",
    r.status,
    r.id,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  if (rows.length === 0) return "(no records)";
  return [line(header), ...rows.map(line)].join("\n");
}

async function checkpoint(log: Genlog, o: GlobalOptions): Promise<number> {
  const size = parseSize(o.size, "--size");
  const note = size === undefined ? await log.checkpoint() : await log.checkpointAt(size);
  if (note === undefined) {
    throw new GenlogError(
      "GENLOG_E_NOT_FOUND",
      `${log.origin()} has no checkpoint yet: log an event first`,
    );
  }
  if (o.json) {
    const cp = parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1));
    out(
      JSON.stringify({
        origin: cp.origin,
        size: cp.size,
        rootHash: Buffer.from(cp.rootHash).toString("base64"),
        note,
      }),
    );
  } else process.stdout.write(note);
  return 0;
}

async function key(log: Genlog, o: GlobalOptions): Promise<number> {
  const vkey = await log.verifierKey();
  out(o.json ? JSON.stringify({ verifierKey: vkey, origin: log.origin() }) : vkey);
  return 0;
}

function parseSize(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s)) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `${flag}: expected a tree size (a whole number), got "${s}"`,
    );
  }
  return Number(s);
}

async function proofInclusion(log: Genlog, idOrSeq: string, o: GlobalOptions): Promise<number> {
  const size = parseSize(o.size, "--size");
  const proof = await log.inclusionProof(idOrSeq, size === undefined ? {} : { treeSize: size });
  if (o.json) out(JSON.stringify(proof));
  else {
    out(
      `record ${proof.leafIndex} (${proof.record.id}) is in ${proof.origin} at size ${proof.treeSize}`,
    );
    out(`leaf hash: ${proof.leafHash}`);
    for (const h of proof.hashes) out(`  ${h}`);
    process.stdout.write(proof.checkpoint);
  }
  return 0;
}

async function proofConsistency(log: Genlog, o: GlobalOptions): Promise<number> {
  const from = parseSize(o.from, "--from")!;
  const to = parseSize(o.to, "--to");
  const proof = await log.consistencyProof(from, to === undefined ? {} : { to });
  if (o.json) out(JSON.stringify(proof));
  else {
    out(`${proof.origin}: size ${proof.from} is a prefix of size ${proof.to}`);
    for (const h of proof.hashes) out(`  ${h}`);
  }
  return 0;
}

async function verify(log: Genlog, o: GlobalOptions): Promise<number> {
  let trusted: string | undefined;
  if (typeof o.trusted === "string") {
    try {
      trusted = readFileSync(o.trusted, "utf8");
    } catch (cause) {
      throw new GenlogError("GENLOG_E_USAGE", `--trusted: cannot read ${o.trusted}`, { cause });
    }
  }
  const bar =
    !o.json && process.stderr.isTTY
      ? new SingleBar(
          { format: "verifying [{bar}] {value}/{total} entries", stream: process.stderr },
          Presets.shades_classic,
        )
      : undefined;
  let started = false;
  const report = await log.verify({
    ...(trusted !== undefined ? { trusted } : {}),
    ...(typeof o.verifierKey === "string" ? { verifierKey: readVerifierKey(o.verifierKey) } : {}),
    onProgress: (done, total) => {
      if (bar === undefined) return;
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
  });
  bar?.stop();
  if (o.json) out(JSON.stringify(report));
  else out(describeReport(report));
  return report.ok ? 0 : 1;
}

/** A verifier key given on the command line, or the first line of the file it names. */
function readVerifierKey(value: string): string {
  if (!existsSync(value)) return value;
  try {
    return readFileSync(value, "utf8").split("\n")[0]!.trim();
  } catch (cause) {
    throw new GenlogError("GENLOG_E_USAGE", `--verifier-key: cannot read ${value}`, { cause });
  }
}

/** The human form of a verify report. */
export function describeReport(r: VerifyReport): string {
  const lines: string[] = [];
  if (r.ok) {
    lines.push(
      `OK: ${r.origin}: ${r.entries} entries, ${r.checkpoints} checkpoints verified; root at size ${r.verifiedSize}: ${r.root ?? "(empty)"}`,
    );
  } else {
    lines.push(`FAILED: ${r.origin}: ${r.problems.length} problem(s) in ${r.entries} entries:`);
    for (const p of r.problems) {
      const where =
        p.index !== undefined
          ? `entry ${p.index}${p.id ? ` (${p.id})` : ""}`
          : `checkpoint ${p.size}`;
      lines.push(`  ${p.kind}: ${where}: ${p.message}`);
    }
  }
  return lines.join("\n");
}

async function exportRecords(log: Genlog, o: GlobalOptions): Promise<number> {
  if (o.format !== "ndjson") {
    throw new GenlogError("GENLOG_E_USAGE", `--format: expected ndjson, got "${String(o.format)}"`);
  }
  if (typeof o.out === "string") {
    const file = await openFile(o.out, "w");
    let n = 0;
    try {
      let buf: string[] = [];
      for await (const line of log.exportCanonical()) {
        buf.push(line);
        if (buf.length >= 1024) {
          await file.write(buf.join("\n") + "\n");
          n += buf.length;
          buf = [];
        }
      }
      if (buf.length > 0) await file.write(buf.join("\n") + "\n");
      n += buf.length;
      await file.sync();
    } finally {
      await file.close();
    }
    process.stderr.write(`exported ${n} records to ${o.out}\n`);
    return 0;
  }
  for await (const line of log.exportCanonical()) {
    if (!process.stdout.write(line + "\n"))
      await new Promise((r) => process.stdout.once("drain", r));
  }
  return 0;
}

async function demo(o: GlobalOptions): Promise<number> {
  const dataDir = resolve(o.dataDir);
  const log = await openLog({ dataDir, tenant: o.tenant, ...keysDirOption(o) });
  try {
    const say = (s: string) => process.stderr.write(`${s}\n`);
    say(`genlog demo: data in ${dataDir}, log ${log.origin()}`);
    const records = [
      await log.logGenerationEvent("backend", { user: "alice", meta: { stack: "Flask" } }),
      await log.logGenerationEvent("frontend", {
        meta: { framework: "React", api_key: "sk-demo-1234" },
      }),
      await log.logGenerationEvent("assets", {
        user: "bob",
        sector: "education",
        artifacts: [{ name: "logo.svg", digest: `sha256:${"ab".repeat(32)}`, size: 2048 }],
      }),
      await log.logGenerationEvent("model", {
        user: "carol",
        sector: "health",
        status: "failed",
        meta: { reason: "quota" },
      }),
    ];
    for (const r of records) {
      say(
        `  logged #${r.seq} ${r.type.padEnd(8)} actor=${r.actor ?? "null"} redacted=${r.redactions.map((x) => x.path).join(",") || "-"}`,
      );
    }
    const report = await log.verify();
    say(describeReport(report));
    const last = records[records.length - 1]!;
    const proof = await log.inclusionProof(last.id);
    checkInclusionProof(proof, await log.verifierKey());
    say(
      `  inclusion proof of #${last.seq} against the signed checkpoint at size ${proof.treeSize}: verified`,
    );
    say(
      // npx would take `--data-dir` for itself: name a non-default directory by environment.
      `Try: ${join(o.dataDir) === "genlog-data" ? "" : `GENLOG_DATA_DIR=${dataDir} `}npx genlog query   (or verify, checkpoint, export)`,
    );
    if (o.json) out(JSON.stringify({ records, report }));
    return report.ok ? 0 : 1;
  } finally {
    await log.close();
  }
}
