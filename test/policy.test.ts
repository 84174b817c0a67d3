import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compilePolicy, validatePolicySet } from "../src/core/privacy/policy.js";
import { isGenlogError } from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import { runCli } from "./helpers/run-cli.js";
import { tempDir } from "./helpers/temp-dir.js";

test("a bad policy is refused when the log opens, naming the field, and nothing is created", async () => {
  const bad: [unknown, string, RegExp][] = [
    [{ default: { preset: "banking" } }, "/default/preset", /expected one of strict, health/],
    [
      { default: { detectors: { email: "encrypt", ssn: "mask" } } },
      "/default/detectors/ssn",
      /not a detector/,
    ],
    [
      { default: { detectors: { email: "rot13" } } },
      "/default/detectors/email",
      /expected one of drop, mask, hash, encrypt/,
    ],
    [{ default: { secrets: "hash" } }, "/default/secrets", /never kept, even hashed/],
    [{ default: { keys: { api_key: "hash" } } }, "/default/keys/api_key", /names a secret/],
    [
      { default: { pointers: { "/user": "mask" } } },
      "/default/pointers/~1user",
      /pointer into \/meta/,
    ],
    [
      { default: { pointers: { "meta/x": "mask" } } },
      "/default/pointers/meta~1x",
      /starts with "\/"/,
    ],
    [{ default: { defaultCountry: "France" } }, "/default/defaultCountry", /ISO 3166-1 alpha-2/],
    [{ default: { sectors: {} } }, "/default/sectors", /not a policy field/],
    [{ tenants: { "Bad Tenant": {} } }, "/tenants/Bad Tenant", /not a tenant name/],
    [{ defaults: {} }, "/defaults", /"default" or "tenants"/],
    [[], "", /expected an object/],
  ];
  for (const [set, pointer, message] of bad) {
    assert.throws(
      () => validatePolicySet(set),
      (e: unknown) =>
        isGenlogError(e, "GENLOG_E_CONFIG") &&
        e.details.pointer === pointer &&
        message.test(e.message),
      JSON.stringify(set),
    );
    const dataDir = join(tempDir(), "data");
    await assert.rejects(openLog({ dataDir, policies: set as never }), (e: unknown) =>
      isGenlogError(e, "GENLOG_E_CONFIG"),
    );
  }
});

test("presets: strict encrypts personal data, a sector brings its own keys, a policy's preset wins over the sector", () => {
  const strict = compilePolicy(undefined, null);
  assert.equal(strict.preset, "strict");
  assert.equal(strict.detectors.email, "encrypt");
  assert.equal(strict.secrets, "mask");
  assert.equal(strict.keys.get("patientname"), "encrypt", "strict knows every sector's keys");

  const health = compilePolicy(undefined, "health");
  assert.equal(health.preset, "health");
  assert.equal(health.keys.get("patientname"), "encrypt");
  assert.equal(health.keys.get("studentid"), "encrypt", "every preset finds every key");
  assert.equal(compilePolicy(undefined, "education").keys.get("studentid"), "encrypt");
  // Chosen by the operator, a preset applies as it is; chosen by an event's sector, it may
  // only make strict stricter (a caller cannot weaken its tenant's policy).
  const shop = compilePolicy({ preset: "ecommerce" }, null);
  assert.deepEqual([shop.detectors.email, shop.detectors.card], ["hash", "drop"]);
  const bySector = compilePolicy(undefined, "ecommerce");
  assert.deepEqual([bySector.detectors.email, bySector.detectors.card], ["encrypt", "drop"]);
  assert.equal(bySector.keys.get("email"), "encrypt");

  assert.equal(compilePolicy({ preset: "strict" }, "health").preset, "strict");
  assert.equal(compilePolicy(undefined, "retail").preset, "strict", "an unknown sector is strict");

  const mine = compilePolicy(
    { preset: "health", detectors: { ip: "drop" }, keys: { "Loyalty-Card": "hash" } },
    null,
  );
  assert.equal(mine.detectors.ip, "drop");
  assert.equal(mine.keys.get("loyaltycard"), "hash");
  assert.equal(mine.keys.get("patientname"), "encrypt", "the preset's keys stay");
});

test("each tenant gets its own policy, the others the default; a sector picks its preset per event", async () => {
  const dataDir = tempDir();
  const log = await openLog({
    dataDir,
    policies: {
      default: { detectors: { email: "drop" } },
      tenants: { shop: { preset: "ecommerce" } },
    },
  });
  const meta = { contact: "alice@example.org", patientName: "Alice" };
  const def = await log.append({ type: "backend", meta });
  const shop = await log.append({ type: "backend", tenant: "shop", meta });
  const health = await log.append({ type: "backend", tenant: "clinic", sector: "health", meta });
  assert.deepEqual(def.meta, { patientName: "[REDACTED]" }, "default: e-mail dropped, name masked");
  assert.match(shop.meta.contact as string, /^\[hmac:/, "ecommerce hashes e-mail addresses");
  assert.equal(health.meta.patientName, "[REDACTED]", "no actor: encrypt masks");
  assert.deepEqual(
    health.redactions.map((r) => [r.path, r.rule, r.action]),
    [
      ["/meta/contact", "pii:email", "drop"],
      ["/meta/patientName", "key:patientname", "mask"],
    ],
  );
  // What each tenant is under, as `policies` (and GET …/policies) tells it.
  const shopPolicies = await log.policies("shop");
  assert.deepEqual(
    [shopPolicies.privacy, shopPolicies.privacySource],
    [{ preset: "ecommerce" }, "tenant"],
  );
  const clinic = await log.policies("clinic");
  assert.deepEqual(
    [clinic.privacy, clinic.privacySource],
    [{ detectors: { email: "drop" } }, "default"],
  );
  assert.equal(clinic.purposeRequired, false);
  assert.equal(clinic.retention.tenant, "clinic");
  await log.close();
  const bare = await openLog({ dataDir: tempDir() });
  await bare.append({ type: "backend" });
  const builtIn = await bare.policies();
  assert.deepEqual([builtIn.privacy, builtIn.privacySource], [null, "built-in"]);
  await bare.close();
});

test("genlog --policy FILE applies the file; a bad one is exit 2 naming the field", async () => {
  const dir = tempDir();
  const policy = join(dir, "policy.json");
  writeFileSync(policy, JSON.stringify({ default: { detectors: { email: "hash" } } }));
  const data = join(dir, "data");
  const init = await runCli(["init", "--data-dir", data, "--policy", policy]);
  assert.equal(init.code, 0, init.stderr);
  const r = await runCli([
    "log",
    "backend",
    "--data-dir",
    data,
    "--policy",
    policy,
    "--meta",
    "to=bob@example.com",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const { record } = JSON.parse(r.stdout) as { record: { meta: { to: string } } };
  assert.match(record.meta.to, /^\[hmac:[A-Za-z0-9_-]{22}\]$/);

  writeFileSync(policy, JSON.stringify({ default: { detectors: { email: "publish" } } }));
  const bad = await runCli(["log", "backend", "--data-dir", data, "--policy", policy]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /privacy policy \/default\/detectors\/email: expected one of/);
  assert.match(bad.stderr, /GENLOG_E_CONFIG/);
  writeFileSync(policy, "{ not json");
  const notJson = await runCli(["log", "backend", "--data-dir", data, "--policy", policy]);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /--policy .*: not JSON/);
});

test("a made-up country and two spellings of one key are refused; a malformed GENLOG_MASTER_KEY leaves nothing behind", async () => {
  assert.throws(
    () => validatePolicySet({ default: { defaultCountry: "XX" } }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_CONFIG") && e.details.pointer === "/default/defaultCountry",
  );
  assert.throws(
    () =>
      validatePolicySet({ default: { keys: { "Loyalty-Card": "hash", loyaltycard: "encrypt" } } }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_CONFIG") && e.details.pointer === "/default/keys/loyaltycard",
  );
  const dataDir = join(tempDir(), "data");
  const saved = process.env.GENLOG_MASTER_KEY;
  process.env.GENLOG_MASTER_KEY = "abc";
  try {
    await assert.rejects(openLog({ dataDir }), (e: unknown) => isGenlogError(e, "GENLOG_E_CONFIG"));
    assert.equal(existsSync(dataDir), false);
  } finally {
    if (saved === undefined) delete process.env.GENLOG_MASTER_KEY;
    else process.env.GENLOG_MASTER_KEY = saved;
  }
});
