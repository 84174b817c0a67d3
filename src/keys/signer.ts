/**
 * The signing seam: the writer asks a {@link Signer} for each checkpoint's signature and
 * never sees where the key lives: a key file by default, or a KMS or HSM through
 * `openLog({ signer })`, which may answer asynchronously (one call per committed batch).
 */

/** Signs checkpoints of one tenant's logs. */
export interface Signer {
  /** Key name in signed notes: `<instance>/<tenant>`. */
  readonly name: string;
  /** The verifier key line `<name>+<hex key id>+<base64(0x01||pubkey)>`. */
  readonly verifierKey: string;
  /**
   * Signs a note body and returns the whole signed note (C2SP signed-note: the body, a blank
   * line, `— <name> <base64(key id || Ed25519 signature)>`).
   */
  sign(body: string): string | Promise<string>;
}
