/**
 * The signing seam: the writer asks a {@link Signer} for each checkpoint's signature and
 * never sees where the key lives (a file today, a KMS behind the same interface later).
 */

/** Signs checkpoints of one tenant's logs. */
export interface Signer {
  /** Key name in signed notes: `<instance>/<tenant>`. */
  readonly name: string;
  /** The verifier key line `<name>+<hex key id>+<base64(0x01||pubkey)>`. */
  readonly verifierKey: string;
  /** Signs a note body and returns the whole signed note. */
  sign(body: string): string;
}
