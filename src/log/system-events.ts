/**
 * genlog's own events in a tenant's log: an erasure, a legal hold set or released. Each is a
 * record like any other (sealed, proved, verified), of a type that `append` refuses to
 * callers (see {@link SYSTEM_TYPE_PREFIX}), so the log itself says when a person was
 * forgotten or a hold was set, and why. The reason goes through the tenant's redactor like
 * any meta value: a secret or an e-mail address typed into it is not stored in clear.
 */
import { GenlogError } from "../errors.js";
import { SYSTEM_TYPE_PREFIX, type GenerationEvent } from "../core/event-schema.js";
import { isPseudonym } from "../core/privacy/envelope.js";
import { PURGE_TYPE } from "../core/audit.js";
import { KEY_ROTATION_TYPE } from "../core/key-schedule.js";

/** The types of the system events. */
export const SYSTEM_TYPES = {
  /** A subject was erased: `meta.pseudonyms`, `meta.reason`. */
  erasure: `${SYSTEM_TYPE_PREFIX}erasure`,
  /** A legal hold was set: `meta.scope` (`tenant` or `subject`), `meta.pseudonyms`, `meta.reason`. */
  hold: `${SYSTEM_TYPE_PREFIX}hold`,
  /** A legal hold was released: same members. */
  holdRelease: `${SYSTEM_TYPE_PREFIX}hold-release`,
  /** Record bodies were purged: `meta.before`, `meta.fromSeq`, `meta.toSeq`, `meta.purged`, `meta.kept`. */
  purge: PURGE_TYPE,
  /** The tenant's retention was set: `meta.days`, `meta.reason`. */
  retention: `${SYSTEM_TYPE_PREFIX}retention`,
  /** A subject's records were exported (Art. 15/20): `meta.pseudonyms`, `meta.records`. */
  subjectExport: `${SYSTEM_TYPE_PREFIX}subject-export`,
  /** Whether the tenant's accesses must declare a purpose: `meta.required`, `meta.reason`. */
  purposePolicy: `${SYSTEM_TYPE_PREFIX}purpose-policy`,
  /** The signing key was rotated: `meta.previous`, `meta.next` (verifier keys), `meta.reason`. */
  keyRotation: KEY_ROTATION_TYPE,
} as const;

/** The longest reason kept, in characters. */
export const MAX_REASON = 1000;

/** A system event of `type` with `meta`; it names no actor. */
export function systemEvent(type: string, meta: Record<string, unknown>): GenerationEvent {
  return { type, meta, status: "succeeded" };
}

/**
 * The reason of an erasure or a hold, checked at the edge: a non-empty text of at most
 * {@link MAX_REASON} characters.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` with pointer `/reason`.
 */
export function checkReason(reason: unknown): string {
  if (typeof reason !== "string" || reason.trim() === "" || reason.length > MAX_REASON) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `/reason: expected a non-empty text of at most ${MAX_REASON} characters saying why (e.g. "GDPR Art. 17 request #1234")`,
      { details: { pointer: "/reason", rule: "reason" } },
    );
  }
  return reason;
}

/** Who an erasure or a hold is about: a person by the id the platform gave, or a pseudonym. */
export type SubjectSelector = { subject: string } | { pseudonym: string };

/**
 * Checks a {@link SubjectSelector} at the edge: exactly one of `subject` and `pseudonym`,
 * a non-empty text, a pseudonym in its form.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming the member.
 */
export function checkSelector(
  s: Partial<{ subject: unknown; pseudonym: unknown }>,
): SubjectSelector {
  const hasSubject = s.subject !== undefined;
  const hasPseudonym = s.pseudonym !== undefined;
  if (hasSubject === hasPseudonym) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      "give either `subject` (the person's id as the platform sent it) or `pseudonym` (sub_…), not both or none",
      { details: { pointer: hasSubject ? "/pseudonym" : "/subject", rule: "exclusive" } },
    );
  }
  if (hasSubject) {
    if (typeof s.subject !== "string" || s.subject === "") {
      throw new GenlogError("GENLOG_E_INVALID_INPUT", "/subject: expected a non-empty text", {
        details: { pointer: "/subject", rule: "type" },
      });
    }
    return { subject: s.subject };
  }
  if (typeof s.pseudonym !== "string" || !isPseudonym(s.pseudonym)) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      "/pseudonym: expected a pseudonym as records carry it: sub_ and 26 letters a-z or digits 2-7",
      { details: { pointer: "/pseudonym", rule: "pattern" } },
    );
  }
  return { pseudonym: s.pseudonym };
}
