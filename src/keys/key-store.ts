/**
 * The key-store seam: the pipeline asks a {@link KeyStore} for a tenant's keys and never sees
 * where the root key lives (a master key file or `GENLOG_MASTER_KEY` today; a KMS behind the
 * same interface later).
 */

/**
 * What a tenant key is for; each purpose gets an unrelated key: `hash` for the policy's
 * keyed hashes, `lookup` for finding a person's pseudonym, `wrap` for wrapping data keys.
 */
export type KeyPurpose = "hash" | "lookup" | "wrap";

/** Gives each tenant its keys. */
export interface KeyStore {
  /** A short, non-secret identifier of the root key (shown by `genlog status`, recorded in the database). */
  readonly keyId: string;
  /**
   * The tenant's 32-byte key for `purpose`. MUST return the same key for the same tenant
   * and purpose for as long as the root key is the same, in every process.
   */
  tenantKey(tenant: string, purpose: KeyPurpose): Promise<Uint8Array>;
}
