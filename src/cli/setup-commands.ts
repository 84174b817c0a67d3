/**
 * Setting up and looking at a data directory: `init`, `status`, `migrate`, `key`.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { migrateDataDir, migrateToPostgres, openLog, type GenlogStatus } from "../genlog.js";
import { defaultKeysDir, keyPath } from "../keys/file-keys.js";
import { masterKeyFromEnv, masterKeyPath } from "../keys/master-key.js";
import { GenlogError } from "../errors.js";
import {
  storeOptions,
  openForWriting,
  stringOption,
  policyOption,
  openForReading,
  openLocalForReading,
  localOnly,
  withLog,
  type Bind,
  type GlobalOptions,
} from "./context.js";
import { count, escapeForTerminal as safe, printLine, say } from "./terminal.js";

/** Adds `init`, `status`, `migrate` and `key` to the program. */
export function defineSetupCommands(program: Command, bind: Bind): void {
  program
    .command("init")
    .description(
      "create the data directory, database and the tenant's signing key; print the verifier key",
    )
    .option(
      "--instance <name>",
      "instance name, the first part of every origin; fixed when the database is created (default: genlog.local)",
    )
    .action(bind((_args, o) => init(o)));

  program
    .command("status")
    .description(
      "show the instance, every tenant's log with its size, latest checkpoint and verifier key, and where the database and keys are",
    )
    .action(bind((_args, o) => status(o)));

  program
    .command("migrate")
    .description(
      "bring genlog.db to the schema this genlog writes, in place (writing commands do it on their own; read-only ones need it done); needs write access, no key. With --to, copy it into an empty PostgreSQL database and verify the copy",
    )
    .option(
      "--to <url>",
      "copy the data directory's logs into this empty PostgreSQL database (postgres://…), then verify every log of the copy against the file's checkpoints; exit 1 if one does not verify",
    )
    .action(bind((_args, o) => migrate(o)));

  program
    .command("key")
    .description("print the tenant's verifier key line (what auditors check signatures with)")
    .action(bind((_args, o) => key(o)));

  const keys = program.command("keys").description("signing keys and the master key");
  keys
    .command("rotate")
    .description(
      "rotate the tenant's signing key: a new key signs from the next checkpoint on, each of its logs records the change in a checkpoint both keys sign, and the old key file is replaced (its verifier key stays valid for what it signed). Run again to finish a rotation that was interrupted",
    )
    .option("--reason <text>", "why (recorded with the rotation)")
    .action(bind((_args, o) => rotate(o)));
  keys
    .command("rotate-master")
    .description(
      "re-wrap every tenant key under a new master key (the key file is replaced; with GENLOG_MASTER_KEY, the new key comes from GENLOG_NEW_MASTER_KEY); nothing committed changes",
    )
    .action(bind((_args, o) => rotateMaster(o)));
}

async function rotateMaster(o: GlobalOptions): Promise<number> {
  localOnly(o);
  const newKey = process.env["GENLOG_NEW_MASTER_KEY"];
  const opening = openLog({
    dataDir: o.dataDir,
    tenant: o.tenant,
    ...storeOptions(o),
    create: false,
  });
  return withLog(opening, async (log) => {
    const r = await log.rotateMasterKey(newKey !== undefined && newKey !== "" ? { newKey } : {});
    if (o.json) {
      await printLine(JSON.stringify(r));
      return 0;
    }
    await printLine(
      `master key rotated: ${r.from} -> ${r.to}; ${r.tenants} tenant ${r.tenants === 1 ? "key" : "keys"} re-wrapped`,
    );
    say(
      r.keyFile !== null
        ? `The new key replaced ${r.keyFile}. Back it up now; keep the old one only as long as backups made before this rotation.`
        : "Put the new key in GENLOG_MASTER_KEY now: the database no longer opens with the old one.",
    );
    return 0;
  });
}

async function init(o: GlobalOptions): Promise<number> {
  localOnly(o);
  const dataDir = resolve(o.dataDir);
  const keysDir = storeOptions(o).keysDir ?? defaultKeysDir(dataDir);
  const path = keyPath(keysDir, o.tenant);
  const created = !existsSync(path);
  const opening = openLog({
    dataDir,
    keysDir,
    tenant: o.tenant,
    ...(await policyOption(o)),
    ...(typeof o.instance === "string" ? { instance: o.instance } : {}),
  });
  return withLog(opening, async (log) => {
    const verifierKey = await log.verifierKey();
    if (o.json) {
      await printLine(
        JSON.stringify({ dataDir, tenant: o.tenant, origin: log.origin(), verifierKey, created }),
      );
      return 0;
    }
    say(
      created
        ? `Initialised ${safe(dataDir)} (tenant ${o.tenant}, origin ${safe(log.origin())}).\nSigning key: ${safe(path)}; master key: ${masterKeyFromEnv() ? "GENLOG_MASTER_KEY" : safe(masterKeyPath(keysDir))} (keep both secret, and back them up apart from the data). Verifier key:`
        : `${safe(dataDir)} was already initialised; kept its signing key ${safe(path)}. Verifier key:`,
    );
    await printLine(safe(verifierKey));
    if (keysDir !== defaultKeysDir(dataDir) && process.env.GENLOG_KEYS_DIR !== keysDir) {
      // Every later command looks for the key in DATA_DIR/keys unless told otherwise (and
      // where GENLOG_KEYS_DIR already says so, it is told).
      say(
        `Keys are kept apart from the data: pass --keys-dir ${safe(keysDir)} (or set GENLOG_KEYS_DIR=${safe(keysDir)}) to every later command that appends.`,
      );
    }
    return 0;
  });
}

async function migrate(o: GlobalOptions): Promise<number> {
  localOnly(o);
  const target = stringOption(o, "to");
  if (target !== undefined) return migrateTo(target, o);
  const { databaseUrl } = storeOptions(o);
  const { from, to, database } = await migrateDataDir(
    o.dataDir,
    databaseUrl !== undefined ? { databaseUrl } : {},
  );
  if (o.json) {
    await printLine(JSON.stringify({ dataDir: resolve(o.dataDir), database, from, to }));
  } else if (from === to) say(`${safe(database)} is at schema ${to} already.`);
  else say(`${safe(database)} migrated from schema ${from} to ${to}.`);
  return 0;
}

async function migrateTo(url: string, o: GlobalOptions): Promise<number> {
  const { keysDir } = storeOptions(o);
  const r = await migrateToPostgres({
    dataDir: o.dataDir,
    databaseUrl: url,
    ...(keysDir !== undefined ? { keysDir } : {}),
  });
  if (o.json) await printLine(JSON.stringify(r));
  else {
    const c = r.copied;
    await printLine(
      `copied ${safe(resolve(o.dataDir))}/genlog.db into ${safe(r.database)}: ${count(c.logs, "log", "logs")}, ${count(c.entries, "entry", "entries")} (${c.bodies} with their record), ${count(c.checkpoints, "checkpoint", "checkpoints")}, ${count(c.subjects, "subject", "subjects")}, ${count(c.tokens, "token", "tokens")}, ${count(c.followers, "follower", "followers")}`,
    );
    for (const l of r.logs) {
      await printLine(
        `${l.ok && l.sameCheckpoint ? "OK" : "FAILED"}: ${safe(l.origin)}: ${count(l.size, "entry", "entries")}, ${l.ok ? "verified" : "does NOT verify"}, ${l.sameCheckpoint ? "same latest checkpoint" : "NOT the file's latest checkpoint"}`,
      );
    }
    say(
      r.ok
        ? `Run genlog with --database-url (or GENLOG_DATABASE_URL) from now on; keep ${safe(resolve(o.dataDir))} for its keys and follower files.`
        : "The copy does not match the file: do not switch to it (run `genlog verify` on the file).",
    );
  }
  return r.ok ? 0 : 1;
}

async function status(o: GlobalOptions): Promise<number> {
  return withLog(openLocalForReading(o), async (log) => {
    const s = await log.status();
    await printLine(o.json ? JSON.stringify(s) : describeStatus(s));
    return 0;
  });
}

/** The human form of {@link GenlogStatus}. */
export function describeStatus(s: GenlogStatus): string {
  const lines = [
    `instance:  ${safe(s.instance)}`,
    `database:  ${safe(s.database)} (schema version ${s.schemaVersion ?? "unknown"})`,
    `keys dir:  ${safe(s.keysDir)}`,
    `master key: ${s.masterKeyId ?? "(none yet)"}`,
    "",
  ];
  const header = ["ORIGIN", "SIZE", "CHECKPOINT", "VERIFIER KEY"];
  const rows = s.logs.map((l) => [
    safe(l.origin),
    String(l.size),
    l.checkpointSize === null ? "-" : String(l.checkpointSize),
    l.verifierKey === null ? "(no signing key in the keys dir)" : safe(l.verifierKey),
  ]);
  if (rows.length === 0) lines.push("(no logs)");
  else lines.push(...alignColumns([header, ...rows]));
  return lines.join("\n");
}

/** Rows of cells as left-aligned columns two spaces apart. */
export function alignColumns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd(),
  );
}

async function key(o: GlobalOptions): Promise<number> {
  return withLog(openForReading(o), async (log) => {
    const info = await log.keyInfo();
    if (o.json) {
      await printLine(JSON.stringify(info));
      return 0;
    }
    await printLine(safe(info.verifierKey));
    const earlier = info.keys.filter((k) => k.to !== null);
    if (earlier.length > 0) {
      say(
        `earlier keys of ${safe(info.origin)} (they stay valid for the checkpoints they signed):\n${earlier
          .map((k) => `  ${safe(k.verifierKey)}  sizes ${k.from}-${k.to}`)
          .join("\n")}`,
      );
    }
    return 0;
  });
}

async function rotate(o: GlobalOptions): Promise<number> {
  const reason = stringOption(o, "reason");
  if (reason === undefined) {
    throw new GenlogError("GENLOG_E_USAGE", "--reason: say why the key is rotated");
  }
  return withLog(openForWriting(o), async (log) => {
    const r = await log.rotateKey({ tenant: o.tenant, reason });
    if (o.json) {
      await printLine(JSON.stringify(r));
      return 0;
    }
    await printLine(safe(r.next));
    say(
      [
        `signing key of tenant ${safe(r.tenant)} rotated; the new verifier key is above.`,
        ...r.logs.map(
          (l) =>
            `  ${safe(l.origin)}: rotation recorded at seq ${l.seq}, checkpoint ${l.checkpointSize} signed by both keys`,
        ),
        `The old key ${safe(r.previous)} stays valid for the checkpoints it signed; its private key is gone.`,
        "Publish the new verifier key beside the old one, where auditors pin it.",
      ].join("\n"),
    );
    return 0;
  });
}
