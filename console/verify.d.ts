// Types of verify.js, for TypeScript callers (the tests): the project does not set allowJs.

export type Rule =
  | "key"
  | "note"
  | "signature"
  | "checkpoint"
  | "seq"
  | "tenant"
  | "leaf"
  | "path"
  | "record"
  | "revealed"
  | "browser";

export class ProofError extends Error {
  readonly rule: Rule;
  constructor(rule: Rule, message: string);
}

export interface RecordProof {
  origin: string;
  leafIndex: number;
  treeSize: number;
  /** Base64. */
  leafHash?: string;
  /** Base64, leaf to root. */
  hashes: string[];
  /** The signed checkpoint note. */
  checkpoint: string;
}

export interface CheckedProof {
  origin: string;
  treeSize: number;
  /** Base64. */
  rootHash: string;
  keyName: string;
  /** Base64, computed from the record. */
  leafHash: string;
}

export function canonicalize(value: unknown): string;
export function hashLeaf(bytes: Uint8Array): Promise<Uint8Array>;
export function parseVerifierKey(vkey: string): { name: string; keyId: number; raw: Uint8Array };
export function verifyNote(
  text: string,
  verifierKeys: readonly string[],
): Promise<{ body: string; keyName: string; verifierKey: string }>;
export function parseCheckpoint(body: string): {
  origin: string;
  size: number;
  rootHash: Uint8Array;
};
export function verifyInclusion(
  leafHash: Uint8Array,
  leafIndex: number,
  treeSize: number,
  hashes: readonly Uint8Array[],
  rootHash: Uint8Array,
): Promise<void>;
export function checkRecordProof(
  record: unknown,
  proof: RecordProof,
  pinnedKeys: readonly string[],
  expected?: { tenant?: string; id?: string },
): Promise<CheckedProof>;
export function checkKeyOfOrigin(origin: string, keyName: string, stream?: string): void;
export function checkRevealed(record: unknown, revealed: unknown, dataKey: string): Promise<void>;
export function toBase64(bytes: Uint8Array): string;
export function fromBase64(text: string, rule?: Rule, what?: string): Uint8Array;
