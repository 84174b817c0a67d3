/**
 * The subject export (GDPR Art. 15 access and Art. 20 portability): every record of one
 * person, decrypted, each with its inclusion proof in the tree of one signed checkpoint, so
 * that the person (or anyone they hand it to) can check with the published verifier key that
 * every record is genuine and that the decrypted view is what the committed envelope holds.
 * The format is documented in `docs/reference/record-format.md` (Subject export); {@link checkSubjectExport}
 * is what `genlog verify --export` runs.
 */
import { GenlogError } from "../errors.js";
import { canonicalize } from "./jcs.js";
import { hashLeafText } from "./merkle.js";
import { checkInclusionProof } from "./proofs.js";
import { parseCheckpoint } from "./checkpoint.js";
import { decodeBase64Strict, parseVerifierKey, verifyNote } from "./signed-note.js";
import { envelopeKeys, isEnvelope, openEnvelope } from "./privacy/envelope.js";
import type { GenerationRecord } from "./record.js";

/** The `format` member of a subject export; bumped on any change. */
export const SUBJECT_EXPORT_FORMAT = "genlog.subject-export/1";

/** One record of the subject, decrypted, with its inclusion proof. */
export interface SubjectExportItem {
  /** The record exactly as committed (its RFC 8785 text is what the leaf hashes). */
  record: GenerationRecord;
  /** Base64 audit path from the record's leaf to the checkpoint's root (RFC 9162). */
  proof: string[];
  /** The envelope opened: the person's id and the values the policy encrypted. */
  revealed: { actor: string; values: Record<string, unknown> };
}

/** A subject export as written to a file. */
export interface SubjectExport {
  format: typeof SUBJECT_EXPORT_FORMAT;
  /** When the export was made (RFC 3339 UTC). */
  exportedAt: string;
  origin: string;
  tenant: string;
  /** The tenant's verifier key as the exporting genlog knew it; pin the published one. */
  verifierKey: string;
  /** The signed checkpoint every proof is relative to. */
  checkpoint: string;
  subject: {
    /** The person's id as the platform sent it, when the export was asked by id. */
    id: string | null;
    /**
     * Each pseudonym of the subject with its data key (base64): with it the envelopes of
     * the records open, so a reader can check `revealed` against what was committed. It
     * opens this person's envelopes only.
     */
    keys: { pseudonym: string; dataKey: string }[];
  };
  records: SubjectExportItem[];
}

/** What {@link checkSubjectExport} found. */
export interface SubjectExportCheck {
  ok: boolean;
  origin: string;
  treeSize: number;
  records: number;
  /** One sentence per problem, naming the record (by seq) where there is one. */
  problems: { seq?: number; message: string }[];
}

/**
 * Checks a subject export with `verifierKey` (default: the one the file carries, which only
 * proves the file is self-consistent: pin the published key to prove more): the checkpoint's
 * signature, each record's inclusion in its tree, that each record is of the export's tenant
 * and subject, and that each decrypted view is what the record's envelope holds.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` when the document is not a subject export.
 */
export function checkSubjectExport(doc: unknown, verifierKey?: string): SubjectExportCheck {
  const x = shapeOf(doc);
  const key = verifierKey ?? x.verifierKey;
  parseVerifierKey(key);
  const problems: SubjectExportCheck["problems"] = [];
  const result = (treeSize: number): SubjectExportCheck => ({
    ok: problems.length === 0,
    origin: x.origin,
    treeSize,
    records: x.records.length,
    problems,
  });
  // The checkpoint first: if it does not verify, nothing relative to it can.
  let treeSize: number;
  try {
    const cp = parseCheckpoint(verifyNote(x.checkpoint, key));
    if (cp.origin !== x.origin)
      throw new Error(`the checkpoint is of ${cp.origin}, not ${x.origin}`);
    treeSize = cp.size;
  } catch (e) {
    problems.push({ message: `the checkpoint: ${messageOf(e)}` });
    return result(-1);
  }
  const keys = new Map<string, ReturnType<typeof envelopeKeys>>();
  for (const k of x.subject.keys) {
    const raw = decodeBase64Strict(k.dataKey);
    if (raw === undefined || raw.length !== 32) {
      problems.push({ message: `the data key of ${k.pseudonym} is not 32 bytes of base64` });
    } else keys.set(k.pseudonym, envelopeKeys(raw));
  }
  const seen = new Set<number>();
  for (const item of x.records) {
    const r = item.record;
    const seq = typeof r.seq === "number" ? r.seq : undefined;
    const at = seq !== undefined ? { seq } : {};
    try {
      checkInclusionProof(
        {
          origin: x.origin,
          leafIndex: seq ?? -1,
          treeSize,
          leafHash: hashLeafText(canonicalize(r)).toString("base64"),
          hashes: item.proof,
          checkpoint: x.checkpoint,
          record: r,
        },
        key,
      );
    } catch (e) {
      problems.push({ ...at, message: `record ${seq ?? "?"}: ${messageOf(e)}` });
      continue;
    }
    if (seen.has(seq!)) problems.push({ ...at, message: `record ${seq} appears twice` });
    seen.add(seq!);
    if (!isEnvelope(r.pii) || r.actor !== r.pii.kid || !keys.has(r.pii.kid)) {
      problems.push({ ...at, message: `record ${seq} is not of this export's subject` });
      continue;
    }
    let opened: unknown;
    try {
      opened = openEnvelope(
        keys.get(r.pii.kid)!,
        { tenant: r.tenant, pseudonym: r.pii.kid },
        r.pii,
      );
    } catch {
      problems.push({
        ...at,
        message: `the envelope of record ${seq} does not open with the subject's data key`,
      });
      continue;
    }
    if (canonicalize(opened) !== canonicalize(item.revealed ?? null)) {
      problems.push({
        ...at,
        message: `the decrypted view of record ${seq} is not what its envelope holds`,
      });
    }
  }
  return result(treeSize);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The document, checked to be shaped as a subject export. */
function shapeOf(doc: unknown): SubjectExport {
  const bad = (what: string) =>
    new GenlogError("GENLOG_E_INVALID_INPUT", `not a genlog subject export: ${what}`, {
      details: { rule: "subject-export" },
    });
  if (typeof doc !== "object" || doc === null) throw bad("expected a JSON object");
  const x = doc as Partial<SubjectExport>;
  if (x.format !== SUBJECT_EXPORT_FORMAT) {
    throw bad(`format is ${JSON.stringify(x.format)}, expected "${SUBJECT_EXPORT_FORMAT}"`);
  }
  for (const m of ["origin", "tenant", "verifierKey", "checkpoint"] as const) {
    if (typeof x[m] !== "string") throw bad(`"${m}" must be a text`);
  }
  if (
    typeof x.subject !== "object" ||
    x.subject === null ||
    !Array.isArray(x.subject.keys) ||
    !x.subject.keys.every((k) => typeof k?.pseudonym === "string" && typeof k?.dataKey === "string")
  ) {
    throw bad('"subject.keys" must list {pseudonym, dataKey}');
  }
  if (
    !Array.isArray(x.records) ||
    !x.records.every(
      (i) =>
        typeof i === "object" &&
        i !== null &&
        typeof i.record === "object" &&
        i.record !== null &&
        Array.isArray(i.proof) &&
        i.proof.every((h) => typeof h === "string"),
    )
  ) {
    throw bad('"records" must list {record, proof, revealed}');
  }
  return x as SubjectExport;
}
