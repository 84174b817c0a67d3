import { test } from "node:test";
import assert from "node:assert/strict";
import { normaliseKeyName, secretKeyRule } from "../src/core/privacy/key-names.js";
import { compilePolicy } from "../src/core/privacy/policy.js";
import {
  ENCRYPTED,
  PolicyRedactor,
  REDACTED,
  keyNameRedactor,
} from "../src/core/privacy/redactor.js";
import { valueDetectors } from "../src/log/pipeline.js";

const keyNames = () => keyNameRedactor(compilePolicy(undefined, null));
const full = (policy?: unknown, hashKey: Uint8Array = Buffer.alloc(32, 7)) => {
  const compiled = compilePolicy(policy, null);
  return new PolicyRedactor({
    policy: compiled,
    detectors: valueDetectors(compiled.defaultCountry),
    hashKey,
  });
};

test("secret key names match whatever their case and separators", () => {
  for (const key of [
    "password",
    "PASSWORD",
    "passwd",
    "api_key",
    "apiKey",
    "API-KEY",
    "x-api-key",
    "token",
    "access_token",
    "githubToken",
    "secret",
    "client_secret",
    "Authorization",
    "cookie",
    "Set-Cookie",
    "private_key",
    "privateKey",
    "db.password",
    "aws_secret_access_key",
  ]) {
    assert.ok(secretKeyRule(key) !== undefined, `${key} should be secret`);
  }
});

test("plural and service-specific secret names match too", () => {
  for (const key of [
    "passwords",
    "secrets",
    "tokens",
    "api_keys",
    "apiKeys",
    "privkey",
    "priv_key",
    "bearer",
    "jwt",
    "session",
    "database_url",
    "mongo_uri",
    "sentry_dsn",
    "ssh_key",
    "master_key",
    "kms_key",
    "passwordHash",
    "deploy_ssh_key",
  ]) {
    assert.ok(secretKeyRule(key) !== undefined, `${key} should be secret`);
  }
});

test("look-alike key names are normalised before matching", () => {
  for (const key of [
    "Pass\u200Bword", // zero-width space
    "\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44", // full-width ｐａｓｓｗｏｒｄ
    "PASSWORD\u0000",
    "pass\u00ADword", // soft hyphen
    "\uFEFFtoken", // byte-order mark
    "api\u200D_key", // zero-width joiner
    "pass\u202Eword", // right-to-left override
  ]) {
    assert.ok(secretKeyRule(key) !== undefined, `${JSON.stringify(key)} should be secret`);
  }
  assert.equal(normaliseKeyName("\uFF21\uFF30\uFF29-\uFF2B\uFF25\uFF39"), "apikey");
});

test("ordinary key names, even near secret ones, are kept", () => {
  for (const key of [
    "stack",
    "tokens_used",
    "max_tokens",
    "tokenizer",
    "author",
    "keys",
    "passes",
    "secretary_name",
    "sessions_count",
    "monkey",
    "primaryKey",
  ]) {
    assert.equal(secretKeyRule(key), undefined, `${key} should not be secret`);
  }
});

test("secrets are replaced at any depth, in arrays too, and the paths are listed", () => {
  const input = {
    stack: "Flask",
    password: "p",
    db: { url: "x", Client_Secret: "s", nested: [{ token: "t" }, { ok: 1 }] },
    "a/b": { apikey: "k" },
  };
  const before = JSON.stringify(input);
  const { meta, redactions } = keyNames().redact(input, []);
  assert.equal(JSON.stringify(input), before, "the input is not mutated");
  assert.deepEqual(meta, {
    stack: "Flask",
    password: REDACTED,
    db: { url: "x", Client_Secret: REDACTED, nested: [{ token: REDACTED }, { ok: 1 }] },
    "a/b": { apikey: REDACTED },
  });
  // Listed in the order of the record's members (RFC 8785's), whatever the caller's order.
  assert.deepEqual(redactions, [
    { path: "/meta/a~1b/apikey", rule: "key:apikey", action: "mask" },
    { path: "/meta/db/Client_Secret", rule: "key:clientsecret", action: "mask" },
    { path: "/meta/db/nested/0/token", rule: "key:token", action: "mask" },
    { path: "/meta/password", rule: "key:password", action: "mask" },
  ]);
});

test("a secret key holding an object is removed whole", () => {
  const { meta } = keyNames().redact({ credentials: { user: "u", pass: "p" } }, []);
  assert.deepEqual(meta, { credentials: REDACTED });
});

test("the copy is deep: changing the input later does not change the result", () => {
  const input = { a: { b: [1, 2] } };
  const { meta } = keyNames().redact(input, []);
  input.a.b.push(3);
  assert.deepEqual(meta, { a: { b: [1, 2] } });
});

test("a __proto__ key is kept as data and never changes the prototype", () => {
  const input = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as Record<string, unknown>;
  const { meta } = keyNames().redact(input, []);
  assert.equal(Object.getPrototypeOf(meta), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(meta), ["__proto__", "x"]);
});

test("long key names are judged like short ones (they are only left out of the verdict cache)", () => {
  const long = `${"x".repeat(300)}_password`;
  const r = keyNames();
  for (let i = 0; i < 2; i++) {
    const { meta, redactions } = r.redact({ [long]: "s3cret", note: "ok" }, []);
    assert.equal(meta[long], REDACTED);
    assert.equal(meta.note, "ok");
    assert.deepEqual(redactions, [
      { path: `/meta/${long}`, rule: "key:*password", action: "mask" },
    ]);
  }
});

test("a secret inside a value under an innocent key is masked, and only the secret", () => {
  const { meta, redactions } = full().redact(
    {
      note: "deploy with AKIAIOSFODNN7EXAMPLQ then restart",
      db: "postgres://app:hunter2hunter2@db.internal:5432/shop",
    },
    [],
  );
  assert.equal(meta.note, `deploy with ${REDACTED} then restart`);
  assert.equal(meta.db, `postgres://app:${REDACTED}@db.internal:5432/shop`);
  assert.deepEqual(
    redactions.map((r) => [r.path, r.rule, r.action]),
    [
      ["/meta/db", "secret:url-password", "mask"],
      ["/meta/note", "secret:aws-access-token", "mask"],
    ],
  );
});

test("personal data in values follows the policy: mask by default, hash joins equal values, drop removes", () => {
  const input = { contact: "write to alice@example.org", other: "alice@example.org", n: 3 };
  const masked = full().redact(input, []);
  assert.equal(masked.meta.contact, `write to ${REDACTED}`);

  const hashed = full({ detectors: { email: "hash" } }).redact(input, []);
  const token = /^write to (\[hmac:[A-Za-z0-9_-]{22}\])$/.exec(hashed.meta.contact as string)?.[1];
  assert.ok(token !== undefined, String(hashed.meta.contact));
  assert.equal(hashed.meta.other, token, "equal values give equal tokens");
  const otherKey = full({ detectors: { email: "hash" } }, Buffer.alloc(32, 8)).redact(input, []);
  assert.notEqual(otherKey.meta.other, token, "another tenant key gives another token");

  const dropped = full({ detectors: { email: "drop" } }).redact(input, []);
  assert.deepEqual(dropped.meta, { n: 3 });
  assert.deepEqual(
    dropped.redactions.map((r) => [r.path, r.action]),
    [
      ["/meta/contact", "drop"],
      ["/meta/other", "drop"],
    ],
  );
});

test("numbers that are card or phone numbers are caught too", () => {
  const { meta } = full().redact({ card: 4111111111111111, count: 12, big: 1234567 }, []);
  assert.equal(meta.card, REDACTED);
  assert.equal(meta.count, 12);
  assert.equal(meta.big, 1234567);
});

test("artifact names are scanned, and a key that is itself a secret is replaced", () => {
  const { meta, artifacts, redactions } = full().redact(
    { ghp_0123456789abcdefghijABCDEFGHIJ012345: true },
    [{ name: "report (bob@example.com).pdf", digest: `sha256:${"0".repeat(64)}`, size: 1 }],
  );
  assert.deepEqual(Object.keys(meta), [REDACTED]);
  assert.equal(artifacts[0]!.name, `report (${REDACTED}).pdf`);
  assert.deepEqual(
    redactions.map((r) => r.path),
    ["/meta/[REDACTED]", "/artifacts/0/name"],
  );
});

test("pointers and personal key names act on the whole value", () => {
  const { meta, redactions } = full({
    pointers: { "/meta/client/*/note": "drop" },
    keys: { loyaltyCard: "hash" },
  }).redact(
    {
      client: { a: { note: "VIP", city: "Lyon" } },
      email: "x",
      loyalty_card: "LC-001",
      firstName: "Alice",
    },
    [],
  );
  assert.deepEqual(meta.client, { a: { city: "Lyon" } });
  assert.equal(meta.email, REDACTED);
  assert.match(meta.loyalty_card as string, /^\[hmac:/);
  assert.equal(meta.firstName, REDACTED);
  assert.deepEqual(
    redactions.map((r) => r.rule),
    ["pointer:/meta/client/*/note", "key:email", "key:firstname", "key:loyaltycard"],
  );
});

test("a policy that hashes needs a hashing key", () => {
  assert.throws(
    () =>
      new PolicyRedactor({
        policy: compilePolicy({ detectors: { ip: "hash" } }, null),
        detectors: [],
      }),
    /hashKey/,
  );
});

test("an envelope never holds a secret or a dropped value, only the values to encrypt", () => {
  const { meta, sealed } = full({ detectors: { phone: "drop" } }).redact(
    {
      a: "mail alice@example.org with AKIAIOSFODNN7EXAMPLQ",
      b: "call 06 12 34 56 78 or bob@example.com",
      c: {
        email: "x@example.org",
        password: "hunter2",
        note: "ghp_0123456789abcdefghijABCDEFGHIJ012345",
      },
    },
    [],
    { subject: true },
  );
  assert.equal(meta.a, `mail ${ENCRYPTED} with ${REDACTED}`);
  assert.equal(meta.b, undefined, "a phone to drop drops the value");
  assert.deepEqual(sealed, {
    "/meta/a": `mail alice@example.org with ${REDACTED}`,
    "/meta/c/email": "x@example.org",
  });
  const all = JSON.stringify(sealed);
  for (const secret of ["AKIAIOSFODNN7EXAMPLQ", "hunter2", "ghp_", "06 12 34 56 78", "bob@"]) {
    assert.ok(!all.includes(secret), secret);
  }
});

test("a pointer that encrypts an object seals it without its secrets", () => {
  const { sealed } = full({ pointers: { "/meta/profile": "encrypt" } }).redact(
    { profile: { city: "Lyon", token: "t0k3n", bio: "key AKIAIOSFODNN7EXAMPLQ" } },
    [],
    { subject: true },
  );
  assert.deepEqual(sealed["/meta/profile"], {
    city: "Lyon",
    token: REDACTED,
    bio: `key ${REDACTED}`,
  });
});

test("a drop pointer under a value a key name encrypts still drops it from the envelope", () => {
  const { sealed } = full({
    preset: "ecommerce",
    pointers: { "/meta/customer/notes": "drop" },
  }).redact({ customer: { notes: "VIP, call 0470 12 34 56", name: "Dave" } }, [], {
    subject: true,
  });
  assert.deepEqual(sealed["/meta/customer"], { name: "Dave" });
});
