/**
 * The anonymised view of records, for sharing statistics: every pseudonym and every keyed
 * hash token is replaced by a random id drawn for this export only (the same value gets the
 * same id within the export, so counts and joins inside it still work; another export gets
 * other ids), and the envelope is dropped. Record ids, seqs and times stay: whoever can read
 * the log can match a line to its record, so share it with those who cannot. The lines are no
 * longer the committed bytes: they prove nothing, and are not meant to.
 */
import { randomBytes } from "node:crypto";

const PSEUDONYM = /sub_[a-z2-7]{26}/g;
const HMAC_TOKEN = /\[hmac:[A-Za-z0-9_-]{22}\]/g;

/** Replaces pseudonyms and keyed hashes with ids of one export. */
export class Anonymiser {
  readonly #ids = new Map<string, string>();

  /** The anonymised form of one record (as parsed from its canonical text). */
  record(record: Record<string, unknown>): Record<string, unknown> {
    const out = this.#value(record) as Record<string, unknown>;
    if ("pii" in out) out["pii"] = null;
    return out;
  }

  #value(v: unknown): unknown {
    if (typeof v === "string") return this.#text(v);
    if (Array.isArray(v)) return v.map((x) => this.#value(x));
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[this.#text(k)] = this.#value(x);
      return out;
    }
    return v;
  }

  #text(s: string): string {
    if (!s.includes("sub_") && !s.includes("[hmac:")) return s;
    return s
      .replace(PSEUDONYM, (p) => this.#id(p, "anon_"))
      .replace(HMAC_TOKEN, (t) => `[anon:${this.#id(t, "").slice(0, 16)}]`);
  }

  #id(value: string, prefix: string): string {
    let id = this.#ids.get(value);
    if (id === undefined) {
      id = `${prefix}${randomBytes(12).toString("base64url")}`;
      this.#ids.set(value, id);
    }
    return id;
  }
}
