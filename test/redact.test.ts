import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyNameRedactor, REDACTED, secretKeyRule } from "../src/core/redact.js";

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
  const { meta, redactions } = new KeyNameRedactor().redact(input);
  assert.equal(JSON.stringify(input), before, "the input is not mutated");
  assert.deepEqual(meta, {
    stack: "Flask",
    password: REDACTED,
    db: { url: "x", Client_Secret: REDACTED, nested: [{ token: REDACTED }, { ok: 1 }] },
    "a/b": { apikey: REDACTED },
  });
  assert.deepEqual(redactions, [
    { path: "/meta/password", rule: "key:password" },
    { path: "/meta/db/Client_Secret", rule: "key:clientsecret" },
    { path: "/meta/db/nested/0/token", rule: "key:token" },
    { path: "/meta/a~1b/apikey", rule: "key:apikey" },
  ]);
});

test("a secret key holding an object is removed whole", () => {
  const { meta } = new KeyNameRedactor().redact({ credentials: { user: "u", pass: "p" } });
  assert.deepEqual(meta, { credentials: REDACTED });
});

test("the copy is deep: changing the input later does not change the result", () => {
  const input = { a: { b: [1, 2] } };
  const { meta } = new KeyNameRedactor().redact(input);
  input.a.b.push(3);
  assert.deepEqual(meta, { a: { b: [1, 2] } });
});

test("a __proto__ key is kept as data and never changes the prototype", () => {
  const input = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as Record<string, unknown>;
  const { meta } = new KeyNameRedactor().redact(input);
  assert.equal(Object.getPrototypeOf(meta), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(meta), ["__proto__", "x"]);
});

test("long key names are judged like short ones (they are only left out of the verdict cache)", () => {
  const long = `${"x".repeat(300)}_password`;
  const { meta, redactions } = new KeyNameRedactor().redact({ [long]: "s3cret", note: "ok" });
  assert.equal(meta[long], REDACTED);
  assert.equal(meta.note, "ok");
  assert.deepEqual(redactions, [{ path: `/meta/${long}`, rule: "key:*password" }]);
  // Asked twice, the same answer (the second time is not served from a cache).
  assert.equal(secretKeyRule(long), "key:*password");
  assert.equal(secretKeyRule(long), "key:*password");
});
