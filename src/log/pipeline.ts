/**
 * A tenant's pipeline (DESIGN.md §1): the redact and protect stages chosen for one tenant
 * when it is opened, from its policy, its hashing key and the detectors. Nothing here is
 * fixed for the whole process but the compiled detector rules, which are data: gitleaks'
 * rule file, read once.
 */
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { GenlogError } from "../errors.js";
import { compileGitleaksRules, type GitleaksRuleSet } from "../core/privacy/gitleaks.js";
import { extraSecretDetectors, piiDetectors, type Detector } from "../core/privacy/detectors.js";
import { compilePolicy, PRESETS, type PolicyInput } from "../core/privacy/policy.js";
import { PolicyRedactor, type Redactor } from "../core/privacy/redactor.js";
import type { CountryCode } from "libphonenumber-js";
import type { PipelineStages } from "../core/record.js";
import type { KeyStore } from "../keys/key-store.js";
import type { LogStore } from "../store/log-store.js";
import { TenantSubjects } from "./subjects.js";

/** The vendored gitleaks rule file (MIT), shipped in the package. */
export const SECRET_RULES_FILE = new URL("../../vendor/gitleaks/gitleaks.toml", import.meta.url);

let secretRules: GitleaksRuleSet | undefined;

/**
 * gitleaks' rules, compiled once per process (about 200 ms): replace
 * `vendor/gitleaks/gitleaks.toml` to update them.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` when the file cannot be read or compiled.
 */
export function loadSecretRules(): GitleaksRuleSet {
  if (secretRules === undefined) {
    let text: string;
    try {
      text = readFileSync(SECRET_RULES_FILE, "utf8");
    } catch (cause) {
      throw new GenlogError(
        "GENLOG_E_CONFIG",
        `cannot read the secret rules ${SECRET_RULES_FILE.pathname}: ${String(cause)}`,
        { cause },
      );
    }
    let parsed: unknown;
    try {
      parsed = parse(text);
    } catch (cause) {
      throw new GenlogError(
        "GENLOG_E_CONFIG",
        `the secret rules ${SECRET_RULES_FILE.pathname} are not valid TOML: ${(cause as Error).message}`,
        { cause },
      );
    }
    secretRules = compileGitleaksRules(parsed);
  }
  return secretRules;
}

/** Every value detector for a policy's country, secrets first. */
export function valueDetectors(defaultCountry: string): Detector[] {
  return [
    loadSecretRules().detector,
    ...extraSecretDetectors(),
    ...piiDetectors({ defaultCountry: defaultCountry as CountryCode }),
  ];
}

/**
 * The `openLog` option that turns value detection off (key names only): for the benchmark
 * that shows what the detectors cost, and tests that need a pipeline without them. A symbol
 * the package does not export, so no caller turns it on by accident.
 *
 * @internal
 */
export const KEY_NAMES_ONLY: unique symbol = Symbol("genlog.keyNamesOnly");

/** Options of {@link openPipeline}. */
export interface PipelineOptions {
  store: LogStore;
  tenant: string;
  /** The tenant's policy (already validated); undefined for the strict default. */
  policy: PolicyInput | undefined;
  /** Gives the tenant's keys. */
  keyStore: KeyStore;
  /**
   * Key names only, no value detectors: the pipeline as it was before them, kept to
   * measure what they cost (`npm run bench`). Never for production: secrets inside values
   * would be stored.
   *
   * @internal
   */
  keyNamesOnly?: boolean;
}

/** A tenant's stages, with its subjects (the protector, and the decrypted view of its records). */
export interface TenantPipeline extends PipelineStages {
  protector: TenantSubjects;
}

/**
 * The stages of one tenant. The policy's preset, or the event's sector when the policy names
 * none, decides the rules; the redactor of each preset is built on first use.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` for a bad policy.
 */
export async function openPipeline(options: PipelineOptions): Promise<TenantPipeline> {
  const hashKey = await options.keyStore.tenantKey(options.tenant, "hash");
  const subjects = await TenantSubjects.open(options.store, options.tenant, options.keyStore);
  const build = (sector: string | null): Redactor => {
    const policy = compilePolicy(options.policy, sector);
    const detectors = options.keyNamesOnly === true ? [] : valueDetectors(policy.defaultCountry);
    return new PolicyRedactor({ policy, detectors, hashKey });
  };
  const fixed = build(null);
  const bySector = new Map<string, Redactor>();
  const sectorChooses = options.policy?.preset === undefined;
  return {
    redactor(sector) {
      if (!sectorChooses || sector === null || !(PRESETS as readonly string[]).includes(sector)) {
        return fixed;
      }
      let r = bySector.get(sector);
      if (r === undefined) {
        r = build(sector);
        bySector.set(sector, r);
      }
      return r;
    },
    protector: subjects,
  };
}
