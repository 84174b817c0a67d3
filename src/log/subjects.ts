/**
 * Subjects of one tenant: the protector of its pipeline, and the decrypted view of its
 * records. A person met for the first time gets a pseudonym and a data key; both are stored
 * by the commit of the first record that names them (see {@link NewSubject}), never before
 * and never apart. Known subjects are answered from memory, so an append of a known person
 * takes no extra turn.
 */
import {
  envelopeKeys,
  isEnvelope,
  lookupOf,
  newDataKey,
  newPseudonym,
  openEnvelope,
  sealEnvelope,
  unwrapDataKey,
  wrapDataKey,
  type Envelope,
  type EnvelopeKeys,
} from "../core/privacy/envelope.js";
import type { ProtectInput, ProtectedFields, Protector } from "../core/protect.js";
import type { GenerationRecord } from "../core/record.js";
import { GenlogError } from "../errors.js";
import type { KeyStore } from "../keys/key-store.js";
import type { LogStore, SubjectRow } from "../store/log-store.js";

/** A subject as the protector keeps it in memory. */
interface KnownSubject {
  pseudonym: string;
  keys: EnvelopeKeys;
  /** The envelope of a record with no encrypted values, made once. */
  bare: Envelope | undefined;
  row: SubjectRow;
  /** False until a commit that carried the row succeeded (or the row was read from the store). */
  stored: boolean;
}

/**
 * How long subjects are used from memory without asking the store whether another process
 * erased some: this process learns of an erasure made elsewhere within this time (what it
 * sealed for the person meanwhile is under the destroyed key, unreadable like their older
 * records). One point read per tenant answers for every subject: the store's erasure count.
 * It is read again from half this time on, while appends go on, so that they wait for it
 * only when the store is slower to answer than that.
 */
const RECHECK_MS = 1000;

/**
 * Subjects kept in memory at most; past it the cache starts again (each miss costs a point
 * read and an unwrap).
 */
const CACHE_MAX = 65_536;

/** The personal data of a record, decrypted: what a caller allowed to read it sees. */
export type Revealed =
  | { actor: string; values: Record<string, unknown> }
  /** The subject was erased: its key is gone, the envelope can no longer be opened. */
  | { erased: true }
  /** The record names no one. */
  | null;

/** A committed record with its personal data decrypted beside it (the record is unchanged). */
export type RevealedRecord = GenerationRecord & { revealed: Revealed };

function isEmpty(values: Record<string, unknown>): boolean {
  for (const _ in values) return false;
  return true;
}

/** One tenant's subjects. */
export class TenantSubjects implements Protector {
  readonly #store: LogStore;
  readonly #tenant: string;
  readonly #lookupKey: Uint8Array;
  readonly #wrapKey: Uint8Array;
  /** By the person's id as given (memory only). */
  readonly #known = new Map<string, KnownSubject>();
  /** Subjects not known to be stored yet, by pseudonym: never evicted from the cache. */
  readonly #unstored = new Map<string, KnownSubject>();
  /** Pseudonyms erased by this process: a lookup that raced the erasure must not revive one. */
  readonly #erased = new Set<string>();
  /** First meetings in progress, so that racing appends of one person share one subject. */
  readonly #meeting = new Map<string, Promise<KnownSubject>>();
  /** The tenant's erasure count when last read. */
  #erasures = 0;
  /** When that read started (ms). */
  #checkedAt = 0;
  /** Raised each time a read finds the count moved. */
  #epoch = 0;
  #rechecking: Promise<void> | undefined;

  private constructor(store: LogStore, tenant: string, lookupKey: Uint8Array, wrapKey: Uint8Array) {
    this.#store = store;
    this.#tenant = tenant;
    this.#lookupKey = lookupKey;
    this.#wrapKey = wrapKey;
  }

  /** The subjects of `tenant`, with its keys from `keyStore`. */
  static async open(store: LogStore, tenant: string, keyStore: KeyStore): Promise<TenantSubjects> {
    const checkedAt = Date.now();
    const [lookupKey, wrapKey, erasures] = await Promise.all([
      keyStore.tenantKey(tenant, "lookup"),
      keyStore.tenantKey(tenant, "wrap"),
      store.erasureCount(tenant),
    ]);
    const subjects = new TenantSubjects(store, tenant, lookupKey, wrapKey);
    subjects.#erasures = erasures;
    subjects.#checkedAt = checkedAt;
    return subjects;
  }

  protect(input: ProtectInput): ProtectedFields | Promise<ProtectedFields> {
    if (input.actor === null) return { actor: null, pii: null };
    const age = Date.now() - this.#checkedAt;
    if (age >= RECHECK_MS / 2 && this.#rechecking === undefined) {
      void this.#recheck().catch(() => undefined);
    }
    const known = this.#known.get(input.actor);
    if (known !== undefined && (age < RECHECK_MS || !known.stored)) {
      return this.#seal(known, input);
    }
    if (age < RECHECK_MS) return this.#meet(input.actor).then((s) => this.#seal(s, input));
    // Not checked for too long: no subject is used from memory before the store answers.
    return this.#recheck().then(() => {
      const s = this.#known.get(input.actor!);
      return s !== undefined
        ? this.#seal(s, input)
        : this.#meet(input.actor!).then((m) => this.#seal(m, input));
    });
  }

  /** Called once a record that carried `pseudonym`'s row is committed. */
  stored(pseudonym: string): void {
    const s = this.#unstored.get(pseudonym);
    if (s === undefined) return;
    s.stored = true;
    this.#unstored.delete(pseudonym);
  }

  #seal(s: KnownSubject, input: ProtectInput): ProtectedFields {
    if (isEmpty(input.values)) {
      // Most records encrypt nothing but the actor: their envelope is the subject's, made
      // once. Frozen: every record of the subject holds this one object.
      if (s.bare === undefined) {
        const binding = { tenant: this.#tenant, pseudonym: s.pseudonym };
        s.bare = Object.freeze(sealEnvelope(s.keys, binding, { actor: input.actor!, values: {} }));
      }
      return s.stored
        ? { actor: s.pseudonym, pii: s.bare }
        : { actor: s.pseudonym, pii: s.bare, newSubject: s.row };
    }
    const binding = { tenant: this.#tenant, pseudonym: s.pseudonym };
    const pii = sealEnvelope(s.keys, binding, { actor: input.actor!, values: input.values });
    return s.stored ? { actor: s.pseudonym, pii } : { actor: s.pseudonym, pii, newSubject: s.row };
  }

  /** Asks the store whether subjects were erased since the last time (one at a time). */
  #recheck(): Promise<void> {
    this.#rechecking ??= this.#readErasures().finally(() => {
      this.#rechecking = undefined;
    });
    return this.#rechecking;
  }

  /**
   * Reads the tenant's erasure count; when it moved, reads the rows of the stored subjects
   * known here and forgets those that are gone. The check counts from when it started: an
   * erasure committed after that is left to the next one.
   */
  async #readErasures(): Promise<void> {
    const started = Date.now();
    const count = await this.#store.erasureCount(this.#tenant);
    if (count !== this.#erasures) {
      const stored = [...this.#known.values()].filter((s) => s.stored).map((s) => s.pseudonym);
      if (stored.length > 0) {
        const rows = await this.#store.getSubjects(this.#tenant, stored);
        this.forget(stored.filter((p) => !rows.has(p)));
      }
      this.#erasures = count;
      this.#epoch++;
    }
    this.#checkedAt = Math.max(this.#checkedAt, started);
  }

  #meet(actor: string): Promise<KnownSubject> {
    let meeting = this.#meeting.get(actor);
    if (meeting === undefined) {
      meeting = this.#lookUp(actor).finally(() => this.#meeting.delete(actor));
      this.#meeting.set(actor, meeting);
    }
    return meeting;
  }

  async #lookUp(actor: string): Promise<KnownSubject> {
    const lookup = lookupOf(this.#lookupKey, actor);
    let row: SubjectRow | undefined;
    for (;;) {
      // A recheck that saw erasures while the row was read may have missed this one: read again.
      const epoch = this.#epoch;
      [row] = (await this.#store.findSubjects(this.#tenant, lookup)).filter(
        (r) => !this.#erased.has(r.pseudonym),
      );
      if (epoch === this.#epoch) break;
    }
    let subject: KnownSubject;
    if (row !== undefined) {
      subject = {
        pseudonym: row.pseudonym,
        keys: envelopeKeys(this.#unwrap(row)),
        bare: undefined,
        row,
        stored: true,
      };
    } else {
      const pseudonym = newPseudonym();
      const dataKey = newDataKey();
      const wrappedKey = wrapDataKey(this.#wrapKey, dataKey, pseudonym);
      subject = {
        pseudonym,
        keys: envelopeKeys(dataKey),
        bare: undefined,
        row: { tenant: this.#tenant, pseudonym, lookup, wrappedKey },
        stored: false,
      };
      dataKey.fill(0);
    }
    if (this.#known.size >= CACHE_MAX) {
      // Start again, but keep the subjects whose row is not stored yet: forgetting one would
      // give its person a second pseudonym.
      for (const [a, s] of this.#known) if (s.stored) this.#known.delete(a);
    }
    this.#known.set(actor, subject);
    if (!subject.stored) this.#unstored.set(subject.pseudonym, subject);
    return subject;
  }

  #unwrap(row: SubjectRow): Buffer {
    try {
      return unwrapDataKey(this.#wrapKey, row.wrappedKey, row.pseudonym);
    } catch (cause) {
      throw new GenlogError(
        "GENLOG_E_KEY",
        `the data key of subject ${row.pseudonym} of tenant ${this.#tenant} does not open with this master key: it was wrapped under another, or changed`,
        { cause, details: { pseudonym: row.pseudonym } },
      );
    }
  }

  /**
   * Forgets erased subjects: the next record of that person gets a new pseudonym and key. A
   * record sealed for them before (and committed after the erasure) is under the erased key:
   * unreadable like their older ones.
   */
  forget(pseudonyms: readonly string[]): void {
    for (const p of pseudonyms) {
      this.#erased.add(p);
      this.#unstored.delete(p);
    }
    for (const [actor, s] of this.#known)
      if (this.#erased.has(s.pseudonym)) this.#known.delete(actor);
  }

  /** Undoes {@link forget} for an erasure that did not commit: the subjects still exist. */
  unforget(pseudonyms: readonly string[]): void {
    for (const p of pseudonyms) this.#erased.delete(p);
  }

  /** The pseudonyms of the person `actor` (none once erased; two after a race). */
  async pseudonymsOf(actor: string): Promise<string[]> {
    const rows = await this.#store.findSubjects(this.#tenant, lookupOf(this.#lookupKey, actor));
    return rows.map((r) => r.pseudonym);
  }

  /** The data keys of stored subjects (base64), for a subject export. */
  async dataKeysOf(
    pseudonyms: readonly string[],
  ): Promise<{ pseudonym: string; dataKey: string }[]> {
    const rows = await this.#store.getSubjects(this.#tenant, pseudonyms);
    return [...rows.values()].map((row) => {
      const key = this.#unwrap(row);
      const dataKey = key.toString("base64");
      key.fill(0);
      return { pseudonym: row.pseudonym, dataKey };
    });
  }

  /** `records` with their personal data decrypted beside them. */
  async reveal(records: readonly GenerationRecord[]): Promise<RevealedRecord[]> {
    const kids = records.flatMap((r) => (isEnvelope(r.pii) ? [r.pii.kid] : []));
    const rows = await this.#store.getSubjects(this.#tenant, kids);
    const keys = new Map<string, EnvelopeKeys>();
    for (const [p, row] of rows) keys.set(p, envelopeKeys(this.#unwrap(row)));
    return records.map((r) => {
      if (!isEnvelope(r.pii)) return { ...r, revealed: null };
      const key = keys.get(r.pii.kid);
      if (key === undefined) return { ...r, revealed: { erased: true } };
      try {
        const content = openEnvelope(key, { tenant: r.tenant, pseudonym: r.pii.kid }, r.pii);
        return { ...r, revealed: { actor: content.actor, values: content.values } };
      } catch (cause) {
        throw new GenlogError(
          "GENLOG_E_INCONSISTENT",
          `the envelope of record ${r.seq} of tenant ${this.#tenant} does not open with its subject's key: it was changed outside genlog; run \`genlog verify\``,
          { cause, details: { seq: r.seq } },
        );
      }
    });
  }
}
