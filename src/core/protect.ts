/**
 * The protect stage: personal data leaves the record before it is sealed. The actor and the
 * values the policy sends to `encrypt` go into the subject's envelope; the record keeps the
 * subject's pseudonym. See `core/privacy/envelope.ts` for the cryptography and
 * `log/subjects.ts` for the protector the pipeline uses.
 */
import type { Envelope } from "./privacy/envelope.js";

/** A subject created for a record, to be stored in the same transaction as that record. */
export interface NewSubject {
  tenant: string;
  pseudonym: string;
  /** Keyed HMAC of the person's id (see `lookupOf`). */
  lookup: Uint8Array;
  /** The data key wrapped under the tenant's wrapping key. */
  wrappedKey: Uint8Array;
}

/** What the protect stage puts into the record, and the subject to store with it. */
export interface ProtectedFields {
  /** The actor as stored: the subject's pseudonym (`sub_…`), or null. */
  actor: string | null;
  /** The encrypted envelope, or null when the event names no one. */
  pii: Envelope | null;
  /**
   * Set when the subject is not known to be stored yet: the writer MUST commit it in the
   * same transaction as the record (or find it there already), so that a crash leaves
   * neither a record whose key is lost nor a key for no record.
   */
  newSubject?: NewSubject;
}

/** What the protect stage is given for one event. */
export interface ProtectInput {
  tenant: string;
  actor: string | null;
  /** Values the redactor sent to `encrypt`, by JSON Pointer. */
  values: Record<string, unknown>;
}

/**
 * Moves the personal data of one event out of the clear. Implementations MUST map the same
 * person to the same pseudonym within a tenant (until erased), MUST NOT keep a clear value
 * in the returned fields, and answer synchronously when they can (a known subject), so that
 * the append path takes no extra turn.
 */
export interface Protector {
  protect(input: ProtectInput): ProtectedFields | Promise<ProtectedFields>;
}

/** Keeps the actor as given and encrypts nothing: for tools and tests without keys. */
export class PassthroughProtector implements Protector {
  protect(input: ProtectInput): ProtectedFields {
    return { actor: input.actor, pii: null };
  }
}
