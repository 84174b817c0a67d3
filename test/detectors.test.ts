import { test } from "node:test";
import assert from "node:assert/strict";
import {
  extraSecretDetectors,
  isCardNumber,
  luhnValid,
  piiDetectors,
  scanText,
  type Detector,
} from "../src/core/privacy/detectors.js";
import { compileGitleaksRules, shannonEntropy } from "../src/core/privacy/gitleaks.js";
import { loadSecretRules } from "../src/log/pipeline.js";
import { isGenlogError } from "../src/errors.js";

const pii = piiDetectors({ defaultCountry: "FR" });
const secrets: Detector[] = [loadSecretRules().detector, ...extraSecretDetectors()];
const all = [...secrets, ...pii];

/** The rules and matched texts `scanText` finds. */
function found(text: string, detectors: readonly Detector[] = all): [string, string][] {
  return scanText(text, detectors).map((f) => [f.rule, text.slice(f.start, f.end)]);
}

// Look-alikes no detector may take for a secret or a person.
const INNOCENT = [
  "Flask",
  "React 18 with Vite, 12 files, 3.2 s",
  "order ORD-20261204-0001 shipped",
  "order 4111111111111112", // fails Luhn
  "invoice 1234567890123", // no card network starts with 1
  "uuid 123e4567-e89b-12d3-a456-426614174000",
  "018f3c1e-7b2a-7cc3-9d2e-1f0a2b3c4d5e",
  "version 1.2.3",
  "node v20.19.0 and npm 10.8.2",
  "kernel 6.1.0.1234",
  "released 2026-12-04T10:00:00Z",
  "date 2026-12-04",
  "at 12:30:45",
  "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "max_tokens=4096 temperature=0.2",
  "build #20261204 took 1234567 ms",
  "the basic template was generated",
  "token limit exceeded for this model",
  "see https://example.com/docs/api?page=2",
  "user@ (incomplete)",
  "FR76 (not an IBAN)",
  "tel: 12",
];

test("no detector fires on ordinary metadata and look-alikes", () => {
  for (const text of INNOCENT) assert.deepEqual(found(text), [], text);
});

test("e-mail addresses are found inside text", () => {
  assert.deepEqual(found("contact alice.martin+gen@example.co.uk now"), [
    ["pii:email", "alice.martin+gen@example.co.uk"],
  ]);
  assert.deepEqual(found("a@b"), []);
});

test("phone numbers in national form follow the tenant's country; international form always", () => {
  assert.deepEqual(found("rappeler le 06 12 34 56 78 demain"), [["pii:phone", "06 12 34 56 78"]]);
  assert.deepEqual(found("call +1 415 555 2671"), [["pii:phone", "+1 415 555 2671"]]);
  const us = piiDetectors({ defaultCountry: "US" });
  assert.deepEqual(found("call (415) 555-2671", us), [["pii:phone", "(415) 555-2671"]]);
  assert.deepEqual(found("call (415) 555-2671"), [], "not a French number");
  assert.deepEqual(found("ref ORD-0612345678"), [], "part of an order number");
});

test("IP addresses, v4 and v6, but not versions, times or loopback", () => {
  assert.deepEqual(found("from 203.0.113.7 via 2001:db8::8a2e:370:7334"), [
    ["pii:ip", "203.0.113.7"],
    ["pii:ip", "2001:db8::8a2e:370:7334"],
  ]);
  assert.deepEqual(found("10.0.0.1"), [["pii:ip", "10.0.0.1"]]);
  assert.deepEqual(found("127.0.0.1 and ::1"), []);
  assert.deepEqual(found("v1.2.3.4.5"), []);
  assert.deepEqual(found("999.1.1.1"), []);
});

test("IBANs need a valid checksum and length for their country", () => {
  assert.deepEqual(found("virement FR76 3000 6000 0112 3456 7890 189 reçu"), [
    ["pii:iban", "FR76 3000 6000 0112 3456 7890 189"],
  ]);
  assert.deepEqual(found("DE89370400440532013000"), [["pii:iban", "DE89370400440532013000"]]);
  assert.deepEqual(found("FR76 3000 6000 0112 3456 7890 188"), [], "wrong checksum");
});

test("card numbers need a network prefix and a valid Luhn sum", () => {
  assert.deepEqual(found("paid with 4111 1111 1111 1111"), [["pii:card", "4111 1111 1111 1111"]]);
  assert.deepEqual(found("amex 3782-822463-10005"), [["pii:card", "3782-822463-10005"]]);
  assert.equal(luhnValid("79927398713"), true);
  assert.equal(luhnValid("79927398710"), false);
  assert.equal(isCardNumber("5555555555554444"), true);
  assert.equal(isCardNumber("1234567812345670"), false, "Luhn-valid but no network");
});

test("gitleaks rules find cloud keys and VCS tokens by value", () => {
  const cases: [string, string][] = [
    ["AKIAIOSFODNN7EXAMPLQ", "secret:aws-access-token"],
    ["ghp_0123456789abcdefghijABCDEFGHIJ012345", "secret:github-pat"],
    ["glpat-Ab3dEf6hIj9kLm2nOp5q", "secret:gitlab-pat"],
    ["xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "secret:slack-bot-token"],
    ["sk_live_4eC39HqLyjWDarjtT1zdp7dcXyZ", "secret:stripe-access-token"],
  ];
  for (const [secret, rule] of cases) {
    const hits = found(`use ${secret} here`, secrets);
    assert.deepEqual(hits, [[rule, secret]], secret);
  }
  assert.ok(loadSecretRules().ruleIds.length > 200, "the whole rule set is compiled");
});

test("an AWS key with a 9 in it is not an AWS key (gitleaks' own rule)", () => {
  assert.deepEqual(found("AKIAIOSFODNN9EXAMPLQ", secrets), []);
});

test("the generic rule wants an assignment, a digit and entropy; its allowlist is applied", () => {
  assert.deepEqual(found('config api_key = "x8Kp2Qz7Lm4Vt9Rw3Yb6"', secrets), [
    ["secret:generic-api-key", "x8Kp2Qz7Lm4Vt9Rw3Yb6"],
  ]);
  assert.deepEqual(found('api_key = "aaaaaaaaaaaaaaaa"', secrets), [], "low entropy");
  assert.deepEqual(found("keyboard = mechanical-switches", secrets), [], "no digit");
});

test("connection strings and URLs with a password: only the password is the secret", () => {
  assert.deepEqual(found("postgres://app:s3cr3t-pw@db:5432/x", secrets), [
    ["secret:url-password", "s3cr3t-pw"],
  ]);
  assert.deepEqual(found("redis://:p4ss@cache:6379", secrets), [["secret:url-password", "p4ss"]]);
  assert.deepEqual(found("mongodb+srv://u:pw123456@cluster0.example.net/db", secrets), [
    ["secret:url-password", "pw123456"],
  ]);
  assert.deepEqual(found("https://user@example.com/x", secrets), [], "no password");
});

test("Authorization values, bare Bearer tokens and Basic credentials", () => {
  assert.deepEqual(found("Authorization: Bearer abc.def-ghi_jkl", secrets), [
    ["secret:authorization", "abc.def-ghi_jkl"],
  ]);
  assert.deepEqual(found("header 'Authorization: Basic dXNlcjpwYXNz'", secrets), [
    ["secret:authorization", "dXNlcjpwYXNz"],
  ]);
  assert.deepEqual(found("sent Bearer 0123456789abcdefXYZ to the API", secrets), [
    ["secret:authorization", "0123456789abcdefXYZ"],
  ]);
  assert.deepEqual(found("Basic dGVtcGxhdGVz", secrets), [], "decodes to a word, no colon");
});

test("PEM blocks are removed whole, even cut short", () => {
  const pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBf0\n-----END PRIVATE KEY-----";
  assert.deepEqual(found(`key:\n${pem}\nend`, [...extraSecretDetectors()]), [
    ["secret:pem-block", pem],
  ]);
  const cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA";
  assert.deepEqual(found(cut, [...extraSecretDetectors()]), [["secret:pem-block", cut]]);
});

test(".npmrc auth lines", () => {
  assert.deepEqual(
    found("//registry.npmjs.org/:_authToken=npm_abcdefghijklmnop0123", [...extraSecretDetectors()]),
    [["secret:npmrc-auth", "npm_abcdefghijklmnop0123"]],
  );
  assert.deepEqual(found("_auth = dXNlcjpwYXNz", [...extraSecretDetectors()]), [
    ["secret:npmrc-auth", "dXNlcjpwYXNz"],
  ]);
});

test("overlapping findings: the earlier detector wins, the text is not reported twice", () => {
  // A user that is an e-mail address (URL-encoded @) beside a URL password.
  const hits = found("postgres://bob%40example.com:pw12345678@db/x");
  assert.equal(hits.filter(([r]) => r === "secret:url-password").length, 1);
  for (const [, a] of hits) for (const [, b] of hits) if (a !== b) assert.ok(!a.includes(b));
});

test("a long value is scanned to its end (in overlapping windows)", () => {
  const text = `${"lorem ipsum ".repeat(1000)} AKIAIOSFODNN7EXAMPLQ ${"dolor ".repeat(500)}`;
  assert.deepEqual(found(text, secrets), [["secret:aws-access-token", "AKIAIOSFODNN7EXAMPLQ"]]);
});

test("gitleaks entropy is Shannon's, in bits per character", () => {
  assert.equal(shannonEntropy("aaaa"), 0);
  assert.equal(shannonEntropy("abcd"), 2);
});

test("a rule file that cannot be used is refused, naming the rule and field", () => {
  const bad = (config: unknown, pattern: RegExp) =>
    assert.throws(
      () => compileGitleaksRules(config),
      (e) => isGenlogError(e, "GENLOG_E_CONFIG") && pattern.test(e.message),
    );
  bad({}, /rules: expected a non-empty array/);
  bad({ rules: [{ id: "x", regex: "(" }] }, /rule x: regex: not an RE2/);
  bad({ rules: [{ id: "x", regex: "a", keywords: "a" }] }, /rule x: keywords: expected an array/);
  bad({ rules: [{ regex: "a" }] }, /rules\[0\]\.id/);
});

test("forms found in the wild: an IP with its port, a card with its expiry, an IBAN with its BIC, lower case, non-ASCII addresses", () => {
  assert.deepEqual(found("peer 203.0.113.7:51234 and http://198.51.100.2:8080/x"), [
    ["pii:ip", "203.0.113.7"],
    ["pii:ip", "198.51.100.2"],
  ]);
  assert.deepEqual(found("card 4111 1111 1111 1111 12/25"), [["pii:card", "4111 1111 1111 1111"]]);
  assert.deepEqual(found("FR76 3000 6000 0112 3456 7890 189 BIC AGRIFRPP"), [
    ["pii:iban", "FR76 3000 6000 0112 3456 7890 189"],
  ]);
  assert.deepEqual(found("iban de89370400440532013000"), [["pii:iban", "de89370400440532013000"]]);
  assert.deepEqual(found("écrire à josé.martínez@exämple.de merci"), [
    ["pii:email", "josé.martínez@exämple.de"],
  ]);
});

test("a long list of phone numbers is read to its end", () => {
  const numbers = Array.from({ length: 30 }, (_, i) => `06 12 34 ${String(10 + i)} 78`);
  const hits = found(numbers.join("\n"));
  assert.deepEqual(
    hits.map(([rule]) => rule),
    numbers.map(() => "pii:phone"),
  );
});

test("hostile 60 KB values are scanned to the end and found what they hold", () => {
  const N = 60_000;
  for (const text of [
    "a.".repeat(N / 2) + "@",
    "a@" + "a-".repeat(N / 2),
    "1.".repeat(N / 2),
    "1 ".repeat(N / 2),
    "key=".repeat(N / 4),
    "-----BEGIN A-----" + "x".repeat(N),
    "token secret password key ".repeat(N / 26),
  ]) {
    const withSecret = `${text} AKIAIOSFODNN7EXAMPLQ`;
    assert.ok(
      found(withSecret).some(([rule]) => rule === "secret:aws-access-token") ||
        text.startsWith("-----BEGIN"),
      text.slice(0, 20),
    );
  }
  // Many findings: the overlap test is a binary search, not a scan of every kept finding.
  const emails = Array.from({ length: 3000 }, (_, i) => `u${i}@example.com`).join(" ");
  assert.equal(found(emails).length, 3000);
});
