/**
 * Privacy policies: what happens to each secret and each piece of personal data an event
 * carries. A policy is declarative JSON, one per tenant (and a default for every tenant
 * without one), built on a preset: `strict` (the default), or the sector presets `health`,
 * `education` and `ecommerce`. When a tenant's policy names no preset, an event's sector
 * chooses it (an event of sector `health` gets the health preset), but only where the
 * preset is stricter than `strict`: a caller cannot weaken its tenant's policy by naming a
 * sector.
 *
 * Policies are validated once, when a log is opened, and a bad one is refused with the
 * JSON Pointer of the field at fault: a typo must never silently weaken a policy.
 */
import { isSupportedCountry } from "libphonenumber-js";
import { GenlogError } from "../../errors.js";
import { PII_DETECTORS, type PiiDetectorName } from "./detectors.js";
import { normaliseKeyName, secretKeyRuleOf } from "./key-names.js";

/**
 * What to do with a value a rule matched:
 * - `drop`: remove it (the member goes; an array item or artifact name becomes `[REDACTED]`
 *   where something must stay);
 * - `mask`: replace it with `[REDACTED]`;
 * - `hash`: replace it with `[hmac:…]`, a keyed HMAC-SHA-256 of the value under the tenant's
 *   hashing key, so that equal values stay joinable (count an e-mail address's orders)
 *   without being readable; whoever holds the master key can test a guess, so it is
 *   pseudonymisation, not anonymisation, and erasing a subject does not erase it;
 * - `encrypt`: replace it with `[ENCRYPTED]` and put the value in the envelope of the event's
 *   subject (its actor), where the decrypted view finds it and erasure destroys it. An event
 *   with no actor has no subject: the value is masked instead.
 */
export type PolicyAction = "drop" | "mask" | "hash" | "encrypt";
export const POLICY_ACTIONS: readonly PolicyAction[] = ["drop", "mask", "hash", "encrypt"];

/** The presets, by name. */
export const PRESETS = ["strict", "health", "education", "ecommerce"] as const;
export type PresetName = (typeof PRESETS)[number];

/** A policy as written in a policy file or passed to `openLog`. Every field is optional. */
export interface PolicyInput {
  /** The preset this policy starts from; default: the event's sector if it names a preset, else `strict`. */
  preset?: PresetName;
  /** Country for phone numbers written in national form (ISO 3166-1 alpha-2); default `FR`. */
  defaultCountry?: string;
  /** What happens to secrets (every secret rule); `drop` or `mask`, default `mask`. */
  secrets?: "drop" | "mask";
  /** Action per personal-data detector: `email`, `phone`, `ip`, `iban`, `card`. */
  detectors?: Partial<Record<PiiDetectorName, PolicyAction>>;
  /** Action per key name holding personal data (matched normalised, at any depth of `meta`). */
  keys?: Record<string, PolicyAction>;
  /**
   * Action per JSON Pointer (RFC 6901) into the event, `/meta/…` or `/artifacts/*\/name`;
   * a `*` segment matches any one key or index. The whole value there is acted on.
   */
  pointers?: Record<string, PolicyAction>;
}

/** Policies of a data directory: a default, and one per tenant. */
export interface PolicySet {
  default?: PolicyInput;
  tenants?: Record<string, PolicyInput>;
}

/** A policy ready to apply: the preset merged with the overrides, keys normalised. */
export interface CompiledPolicy {
  preset: PresetName;
  defaultCountry: string;
  secrets: "drop" | "mask";
  detectors: Readonly<Record<PiiDetectorName, PolicyAction>>;
  /** Normalised key name → action. */
  keys: ReadonlyMap<string, PolicyAction>;
  /** Pointers split into unescaped segments (`*` for any). */
  pointers: readonly { segments: readonly string[]; action: PolicyAction; pointer: string }[];
}

/**
 * Personal key names every preset redacts: what names or reaches a person. Not `name`
 * (a project's or an artifact's) nor `user` (the event's own `user` is the actor, protected
 * apart).
 */
const PERSONAL_KEYS: readonly string[] = [
  "firstname",
  "lastname",
  "fullname",
  "givenname",
  "familyname",
  "surname",
  "username",
  "email",
  "emailaddress",
  "mail",
  "phone",
  "phonenumber",
  "mobile",
  "telephone",
  "address",
  "streetaddress",
  "postaladdress",
  "postcode",
  "zipcode",
  "birthdate",
  "dateofbirth",
  "dob",
  "birthday",
  "ssn",
  "socialsecuritynumber",
  "nir",
  "passportnumber",
  "nationalid",
  "taxid",
  "ipaddress",
  "clientip",
  "remoteaddr",
];

const ALL_DETECTORS = (action: PolicyAction): Record<PiiDetectorName, PolicyAction> =>
  Object.fromEntries(PII_DETECTORS.map((d) => [d, action])) as Record<
    PiiDetectorName,
    PolicyAction
  >;

const keysWith = (names: readonly string[], action: PolicyAction) =>
  Object.fromEntries(names.map((k) => [k, action]));

/** Key names of health data (with {@link PERSONAL_KEYS}). */
const HEALTH_KEYS: readonly string[] = [
  "patient",
  "patientid",
  "patientname",
  "diagnosis",
  "diagnoses",
  "symptoms",
  "medication",
  "medications",
  "prescription",
  "allergies",
  "bloodtype",
  "medicalrecordnumber",
  "mrn",
  "healthinsurancenumber",
  "insurancenumber",
  "notes",
];

/** Key names of pupils' and students' data. */
const EDUCATION_KEYS: readonly string[] = [
  "student",
  "studentid",
  "studentname",
  "pupil",
  "ine",
  "grade",
  "grades",
  "parent",
  "parentname",
  "guardian",
  "disability",
  "accommodations",
];

/** Key names of customers' data. */
const ECOMMERCE_KEYS: readonly string[] = [
  "customer",
  "customername",
  "customeremail",
  "shippingaddress",
  "billingaddress",
  "deliveryaddress",
];

/** Every personal key name the presets know: each preset finds all of them. */
const ALL_PERSONAL_KEYS: readonly string[] = [
  ...PERSONAL_KEYS,
  ...HEALTH_KEYS,
  ...EDUCATION_KEYS,
  ...ECOMMERCE_KEYS,
];

/**
 * The presets' contents; documented in docs/guides/privacy.md. Every preset finds the same
 * things (every personal key name any preset knows); they differ in what they do with them:
 * `strict` encrypts all, e-commerce keeps e-mail addresses joinable (hash) and drops card
 * numbers.
 */
const PRESET_POLICIES: Record<PresetName, Required<Omit<PolicyInput, "preset" | "pointers">>> = {
  strict: {
    defaultCountry: "FR",
    secrets: "mask",
    detectors: ALL_DETECTORS("encrypt"),
    keys: keysWith(ALL_PERSONAL_KEYS, "encrypt"),
  },
  health: {
    defaultCountry: "FR",
    secrets: "mask",
    detectors: ALL_DETECTORS("encrypt"),
    keys: keysWith(ALL_PERSONAL_KEYS, "encrypt"),
  },
  education: {
    defaultCountry: "FR",
    secrets: "mask",
    detectors: ALL_DETECTORS("encrypt"),
    keys: keysWith(ALL_PERSONAL_KEYS, "encrypt"),
  },
  ecommerce: {
    defaultCountry: "FR",
    secrets: "mask",
    // A customer's e-mail address stays joinable for order statistics; card numbers go.
    detectors: { ...ALL_DETECTORS("encrypt"), email: "hash", card: "drop" },
    keys: {
      ...keysWith(ALL_PERSONAL_KEYS, "encrypt"),
      email: "hash",
      customeremail: "hash",
    },
  },
};

/**
 * How much of a value each action leaves readable, least first: a sector chosen by the
 * event (not by the tenant's operator) may only make the strict preset stricter.
 */
const STRICTNESS: Record<PolicyAction, number> = { drop: 0, mask: 1, encrypt: 2, hash: 3 };

function stricter(a: PolicyAction, b: PolicyAction): PolicyAction {
  return STRICTNESS[a] <= STRICTNESS[b] ? a : b;
}

/** The preset an event's sector picks, never weaker than `strict` on any rule. */
function sectorPreset(name: PresetName): (typeof PRESET_POLICIES)[PresetName] {
  const base = PRESET_POLICIES.strict;
  const sector = PRESET_POLICIES[name];
  const detectors = { ...base.detectors };
  for (const d of PII_DETECTORS) detectors[d] = stricter(base.detectors[d]!, sector.detectors[d]!);
  const keys = { ...base.keys };
  for (const [k, a] of Object.entries(sector.keys)) keys[k] = stricter(keys[k] ?? a, a);
  return { ...sector, detectors, keys };
}

/**
 * Checks a policy set and compiles each policy, so that a mistake is found when the log
 * opens, not at the first event that needs the rule.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` with `details.pointer` naming the field.
 */
export function validatePolicySet(set: unknown): PolicySet {
  const root = table(set, "");
  for (const key of Object.keys(root)) {
    if (key !== "default" && key !== "tenants") {
      throw policyError(`/${key}`, `not a field of a policy set; expected "default" or "tenants"`);
    }
  }
  if (root["default"] !== undefined) compilePolicy(root["default"], undefined, "/default");
  if (root["tenants"] !== undefined) {
    const tenants = table(root["tenants"], "/tenants");
    for (const [tenant, policy] of Object.entries(tenants)) {
      if (!/^[a-z][a-z0-9._-]{0,63}$/.test(tenant)) {
        throw policyError(
          `/tenants/${escape(tenant)}`,
          `not a tenant name (a slug such as "acme")`,
        );
      }
      compilePolicy(policy, undefined, `/tenants/${tenant}`);
    }
  }
  return root as PolicySet;
}

/** The policy that applies to `tenant` in `set`: its own, else the set's default, else none. */
export function policyOf(set: PolicySet | undefined, tenant: string): PolicyInput | undefined {
  const own = set?.tenants?.[tenant];
  return own ?? set?.default;
}

/**
 * Merges a policy over its preset. `sector` chooses the preset when the policy names none.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming the field (under `at`).
 */
export function compilePolicy(
  input: unknown,
  sector: string | null | undefined,
  at = "",
): CompiledPolicy {
  const p = input === undefined ? {} : table(input, at);
  const known = ["preset", "defaultCountry", "secrets", "detectors", "keys", "pointers"];
  for (const key of Object.keys(p)) {
    if (!known.includes(key)) {
      throw policyError(`${at}/${key}`, `not a policy field; expected one of ${known.join(", ")}`);
    }
  }
  const presetIn = p["preset"];
  if (presetIn !== undefined && !PRESETS.includes(presetIn as PresetName)) {
    throw policyError(
      `${at}/preset`,
      `expected one of ${PRESETS.join(", ")}, got ${show(presetIn)}`,
    );
  }
  // The tenant's operator may choose any preset; an event's sector only a stricter one.
  const bySector = presetIn === undefined && PRESETS.includes(sector as PresetName);
  const preset: PresetName =
    (presetIn as PresetName | undefined) ?? (bySector ? (sector as PresetName) : "strict");
  const base = bySector ? sectorPreset(preset) : PRESET_POLICIES[preset];

  const country = p["defaultCountry"] ?? base.defaultCountry;
  if (typeof country !== "string" || !/^[A-Z]{2}$/.test(country) || !isSupportedCountry(country)) {
    throw policyError(
      `${at}/defaultCountry`,
      `expected an ISO 3166-1 alpha-2 code such as "FR", got ${show(country)}`,
    );
  }
  const secrets = p["secrets"] ?? base.secrets;
  if (secrets !== "drop" && secrets !== "mask") {
    throw policyError(
      `${at}/secrets`,
      `expected "drop" or "mask" (a secret is never kept, even hashed), got ${show(secrets)}`,
    );
  }

  const detectors = { ...base.detectors } as Record<PiiDetectorName, PolicyAction>;
  if (p["detectors"] !== undefined) {
    for (const [name, action] of Object.entries(table(p["detectors"], `${at}/detectors`))) {
      if (!PII_DETECTORS.includes(name as PiiDetectorName)) {
        throw policyError(
          `${at}/detectors/${escape(name)}`,
          `not a detector; expected one of ${PII_DETECTORS.join(", ")}`,
        );
      }
      detectors[name as PiiDetectorName] = checkAction(action, `${at}/detectors/${escape(name)}`);
    }
  }

  const keys = new Map<string, PolicyAction>(Object.entries(base.keys));
  const seenKeys = new Map<string, string>();
  if (p["keys"] !== undefined) {
    for (const [name, action] of Object.entries(table(p["keys"], `${at}/keys`))) {
      const where = `${at}/keys/${escape(name)}`;
      const normalised = normaliseKeyName(name);
      if (normalised.length === 0) throw policyError(where, "a key name cannot be empty");
      if (secretKeyRuleOf(normalised) !== undefined) {
        throw policyError(
          where,
          `"${name}" names a secret, which is always ${secrets === "drop" ? "dropped" : "masked"} (see "secrets")`,
        );
      }
      if (seenKeys.has(normalised)) {
        throw policyError(
          where,
          `"${name}" is the same key name as "${seenKeys.get(normalised)}" (names are compared normalised)`,
        );
      }
      seenKeys.set(normalised, name);
      keys.set(normalised, checkAction(action, where));
    }
  }

  const pointers: { segments: string[]; action: PolicyAction; pointer: string }[] = [];
  if (p["pointers"] !== undefined) {
    for (const [pointer, action] of Object.entries(table(p["pointers"], `${at}/pointers`))) {
      const where = `${at}/pointers/${escape(pointer)}`;
      pointers.push({
        segments: parsePointer(pointer, where),
        action: checkAction(action, where),
        pointer,
      });
    }
  }
  return { preset, defaultCountry: country, secrets, detectors, keys, pointers };
}

/** The segments of a policy pointer: `/meta/…` (any depth) or `/artifacts/<i or *>/name`. */
function parsePointer(pointer: string, where: string): string[] {
  if (!pointer.startsWith("/"))
    throw policyError(where, `a JSON Pointer starts with "/", got ${show(pointer)}`);
  const segments = pointer
    .slice(1)
    .split("/")
    .map((s) => {
      if (/~(?![01])/.test(s))
        throw policyError(where, `"~" must be written ~0 and "/" ~1 in a JSON Pointer`);
      return s.replace(/~1/g, "/").replace(/~0/g, "~");
    });
  const [root] = segments;
  if (root === "meta" && segments.length >= 2) return segments;
  if (
    root === "artifacts" &&
    segments.length === 3 &&
    segments[2] === "name" &&
    /^(\*|0|[1-9]\d*)$/.test(segments[1]!)
  ) {
    return segments;
  }
  throw policyError(
    where,
    `expected a pointer into /meta (such as /meta/customer/address) or /artifacts/*/name, got ${show(pointer)}`,
  );
}

function checkAction(action: unknown, where: string): PolicyAction {
  if (!POLICY_ACTIONS.includes(action as PolicyAction)) {
    throw policyError(where, `expected one of ${POLICY_ACTIONS.join(", ")}, got ${show(action)}`);
  }
  return action as PolicyAction;
}

function table(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw policyError(where, `expected an object, got ${show(v)}`);
  }
  return v as Record<string, unknown>;
}

function show(v: unknown): string {
  return v === undefined ? "nothing" : (JSON.stringify(v) ?? String(v));
}

function escape(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

function policyError(pointer: string, message: string): GenlogError {
  return new GenlogError("GENLOG_E_CONFIG", `privacy policy ${pointer || "/"}: ${message}`, {
    details: { pointer },
  });
}
