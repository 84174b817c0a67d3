/** A committed record of tenant `acme` at position `seq`, for tests of proofs over made-up logs. */
import type { GenerationRecord } from "../../src/index.js";

export function record(seq: number, over: Partial<GenerationRecord> = {}): GenerationRecord {
  return {
    v: 1,
    id: `01937f7e-0000-7000-8000-${String(seq).padStart(12, "0")}`,
    seq,
    tenant: "acme",
    type: "backend",
    ts: "2026-12-04T00:00:00.000Z",
    occurredAt: null,
    actor: null,
    sector: null,
    status: "succeeded",
    meta: {},
    artifacts: [],
    redactions: [],
    pii: null,
    ...over,
  };
}
