/**
 * What a verifier checks a record or a log against: `checkpoint`, `proof inclusion`,
 * `proof consistency`.
 */
import type { Command } from "commander";
import { GenlogError } from "../errors.js";
import { parseCheckpoint } from "../core/checkpoint.js";
import { parseSignedNote } from "../core/signed-note.js";
import { openForReading, stringOption, withLog, type Bind, type GlobalOptions } from "./context.js";
import { parseTreeSize } from "./option-values.js";
import { escapeForTerminal as safe, printLine, writeOut } from "./terminal.js";

/** Adds `checkpoint` and `proof inclusion|consistency` to the program. */
export function defineProofCommands(program: Command, bind: Bind): void {
  program
    .command("checkpoint")
    .description("print the latest signed checkpoint (a C2SP signed note), or the one at --size")
    .option("--size <n>", "tree size of the checkpoint (default: the latest)")
    .action(bind((_args, o) => checkpoint(o)));

  const proof = program
    .command("proof")
    .description("inclusion and consistency proofs (RFC 9162) against signed checkpoints");
  proof
    .command("inclusion")
    .description("prove that one record is in the tree of a signed checkpoint")
    .argument("<id-or-seq>", "record id (UUID) or seq (all digits)")
    .option("--size <n>", "tree size of the checkpoint to prove against (default: the latest)")
    .action(bind(([idOrSeq], o) => proofInclusion(idOrSeq!, o)));
  proof
    .command("consistency")
    .description("prove that the tree at --to extends the tree at --from")
    .requiredOption("--from <m>", "the older tree size")
    .option("--to <n>", "the newer tree size (default: the latest)")
    .action(bind((_args, o) => proofConsistency(o)));
}

/**
 * A signed note for stdout. Redirected to a file it stays byte for byte what was signed; on a
 * terminal, characters a terminal would act on (possible in a signature line's key name) are
 * shown escaped, line by line.
 */
export function noteForOutput(note: string): string {
  if (process.stdout.isTTY !== true) return note;
  return note.split("\n").map(safe).join("\n");
}

function sizeOption(o: GlobalOptions, name: string, option: string): number | undefined {
  const v = stringOption(o, name);
  return v === undefined ? undefined : parseTreeSize(v, option);
}

async function checkpoint(o: GlobalOptions): Promise<number> {
  const size = sizeOption(o, "size", "--size");
  return withLog(openForReading(o), async (log) => {
    const note = size === undefined ? await log.checkpoint() : await log.checkpointAt(size);
    if (note === undefined) {
      throw new GenlogError(
        "GENLOG_E_NOT_FOUND",
        `${log.origin()} has no checkpoint yet: log an event first`,
      );
    }
    if (o.json) {
      const cp = parseCheckpoint(parseSignedNote(note).body);
      await printLine(
        JSON.stringify({
          origin: cp.origin,
          size: cp.size,
          rootHash: Buffer.from(cp.rootHash).toString("base64"),
          note,
        }),
      );
    } else await writeOut(noteForOutput(note));
    return 0;
  });
}

async function proofInclusion(idOrSeq: string, o: GlobalOptions): Promise<number> {
  const size = sizeOption(o, "size", "--size");
  return withLog(openForReading(o), async (log) => {
    const proof = await log.inclusionProof(idOrSeq, size === undefined ? {} : { treeSize: size });
    if (o.json) {
      await printLine(JSON.stringify(proof));
      return 0;
    }
    await writeOut(
      [
        `record ${proof.leafIndex} (${safe(proof.record.id)}) is in ${safe(proof.origin)} at size ${proof.treeSize}`,
        `leaf hash: ${proof.leafHash}`,
        ...proof.hashes.map((h) => `  ${h}`),
        noteForOutput(proof.checkpoint),
      ].join("\n"),
    );
    return 0;
  });
}

async function proofConsistency(o: GlobalOptions): Promise<number> {
  const from = sizeOption(o, "from", "--from")!;
  const to = sizeOption(o, "to", "--to");
  return withLog(openForReading(o), async (log) => {
    const proof = await log.consistencyProof(from, to === undefined ? {} : { to });
    if (o.json) {
      await printLine(JSON.stringify(proof));
      return 0;
    }
    await printLine(
      [
        `${safe(proof.origin)}: size ${proof.from} is a prefix of size ${proof.to}`,
        ...proof.hashes.map((h) => `  ${h}`),
      ].join("\n"),
    );
    return 0;
  });
}
