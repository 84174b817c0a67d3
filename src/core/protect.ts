/**
 * The protect stage: personal data leaves the record before it is sealed. Until per-subject
 * encryption lands, the default protector keeps the actor as given and adds no envelope; the
 * pipeline already calls it so that a real one drops in without touching the hot path.
 */

/** What the protect stage puts into the record. */
export interface ProtectedFields {
  /** The actor as it will be stored: a pseudonym (`sub_…`), the identifier, or null. */
  actor: string | null;
  /** The encrypted personal-data envelope, or null when there is none. */
  pii: Record<string, unknown> | null;
}

/**
 * Moves personal data of one event out of the clear. Implementations MUST be deterministic
 * enough that the same subject maps to the same pseudonym within a tenant, and MUST NOT
 * keep the clear value in the returned fields.
 */
export interface Protector {
  protect(tenant: string, actor: string | null): ProtectedFields;
}

/** Keeps the actor as given. Stands in until the pseudonymising protector is configured. */
export class PassthroughProtector implements Protector {
  protect(_tenant: string, actor: string | null): ProtectedFields {
    return { actor, pii: null };
  }
}
