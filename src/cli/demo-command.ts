/**
 * `genlog demo`: a first look, with no set-up.
 */
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { checkInclusionProof } from "../core/proofs.js";
import { openLog } from "../genlog.js";
import { defaultKeysDir } from "../keys/file-keys.js";
import { keysDirOption, policyOption, withLog, type Bind, type GlobalOptions } from "./context.js";
import { escapeForTerminal as safe, printLine, say } from "./terminal.js";
import { describeReport } from "./verify-command.js";

/** Adds `demo` to the program. */
export function defineDemoCommand(program: Command, bind: Bind): void {
  program
    .command("demo")
    .description(
      "create the data directory if needed, log four sample generations, verify the log and prove one record",
    )
    .action(bind((_args, o) => demo(o)));
}

async function demo(o: GlobalOptions): Promise<number> {
  const dataDir = resolve(o.dataDir);
  return withLog(
    openLog({ dataDir, tenant: o.tenant, ...keysDirOption(o), ...(await policyOption(o)) }),
    async (log) => {
      say(`genlog demo: data in ${safe(dataDir)}, log ${safe(log.origin())}`);
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
          meta: {
            reason: "quota",
            note: "ask carol@example.org; db at postgres://ml:s3cret-pw@db/models",
          },
        }),
      ];
      for (const r of records) {
        const redacted = r.redactions.map((x) => `${x.path} (${x.rule}, ${x.action})`);
        say(
          `  logged #${r.seq} ${r.type.padEnd(8)} actor=${r.actor ?? "null"} redacted=${redacted.join(", ") || "-"}`,
        );
      }
      const [carol] = await log.reveal([records[3]!]);
      say(
        `  with the master key, #${carol!.seq}'s envelope opens: ${safe(JSON.stringify(carol!.revealed))}`,
      );
      const report = await log.verify();
      say(describeReport(report, process.stderr));
      const last = records[records.length - 1]!;
      const proof = await log.inclusionProof(last.id);
      checkInclusionProof(proof, await log.verifierKey());
      say(
        `  inclusion proof of #${last.seq} against the signed checkpoint at size ${proof.treeSize}: verified`,
      );
      say(
        // npx would take `--data-dir` for itself: name a non-default directory by environment.
        `Try: ${join(o.dataDir) === "genlog-data" ? "" : `GENLOG_DATA_DIR=${safe(dataDir)} `}${log.keysDir === defaultKeysDir(dataDir) ? "" : `GENLOG_KEYS_DIR=${safe(log.keysDir)} `}npx genlog query   (or status, verify, checkpoint, export)`,
      );
      if (o.json) await printLine(JSON.stringify({ records, report }));
      return report.ok ? 0 : 1;
    },
  );
}
