/**
 * The privacy promise, checked on the bytes on disk: secrets of every detector kind under
 * innocent keys, named people, e-mail addresses, phone numbers, IP addresses, IBANs and card
 * numbers go in; afterwards no file under the data directory (database, WAL, shared memory,
 * keys) holds any of them in clear, while every proof still verifies and a caller with the
 * master key reads the people and the encrypted values back. Then a person is erased and old
 * records purged: nothing of the erased person's key is left on disk either.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Genlog } from "../../src/index.js";
import { openLog } from "../helpers/store-under-test.js";
import { tempDir } from "../helpers/temp-dir.js";
import { files, leakedBytes, leaks } from "../helpers/disk-scan.js";
import Database from "better-sqlite3";
import { join } from "node:path";
import { KEY_NAMES_ONLY } from "../../src/log/pipeline.js";

/** What must never be stored in clear: [what it is, the text a leak would show]. */
const SECRETS: [string, string][] = [
  ["AWS access key id", "AKIAIOSFODNN7EXAMPLQ"],
  ["GitHub token", "ghp_0123456789abcdefghijABCDEFGHIJ012345"],
  ["GitLab token", "glpat-Ab3dEf6hIj9kLm2nOp5q"],
  ["Slack bot token", "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"],
  ["Stripe key", "sk_live_4eC39HqLyjWDarjtT1zdp7dcXyZ"],
  ["database password in a URL", "Zq8-hunter2-Xw4"],
  ["bearer token", "0123456789abcdefXYZtok"],
  ["private key body", "MC4CAQAwBQYDK2VwBCIEIBf0Secretkeymaterial0"],
  ["npm token", "npm_abcdefghijklmnop0123"],
  ["generic API key", "x8Kp2Qz7Lm4Vt9Rw3Yb6"],
];
const PERSONAL: [string, string][] = [
  ["actor", "alice.martin"],
  ["actor", "bob.durand"],
  ["e-mail", "alice.martin@example.org"],
  ["e-mail", "bob@example.com"],
  ["phone", "06 12 34 56 78"],
  ["phone", "+33 7 98 76 54 32"],
  ["IPv4", "203.0.113.7"],
  ["IPv6", "2001:db8::8a2e:370:7334"],
  ["IBAN", "FR76 3000 6000 0112 3456 7890 189"],
  ["card", "4111 1111 1111 1111"],
];

/** Events that carry every value above under keys that give nothing away. */
function events(): Parameters<Genlog["append"]>[0][] {
  return [
    {
      type: "backend",
      user: "alice.martin",
      sector: "ecommerce",
      meta: {
        log: "deploy with AKIAIOSFODNN7EXAMPLQ and ghp_0123456789abcdefghijABCDEFGHIJ012345",
        db: "postgres://app:Zq8-hunter2-Xw4@db.internal:5432/shop",
        headers: ["Authorization: Bearer 0123456789abcdefXYZtok"],
        contact: "write to alice.martin@example.org or call 06 12 34 56 78",
      },
    },
    {
      type: "frontend",
      user: "bob.durand",
      meta: {
        chat: {
          slack: "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
          stripe: "sk_live_4eC39HqLyjWDarjtT1zdp7dcXyZ",
        },
        rc: "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnop0123",
        config: 'api_key = "x8Kp2Qz7Lm4Vt9Rw3Yb6"',
        from: "203.0.113.7 then 2001:db8::8a2e:370:7334",
        support: "bob@example.com, +33 7 98 76 54 32",
      },
      artifacts: [
        {
          name: "invoice FR76 3000 6000 0112 3456 7890 189.pdf",
          digest: `sha256:${"1".repeat(64)}`,
          size: 10,
        },
      ],
    },
    {
      type: "model",
      user: "alice.martin",
      meta: {
        blob: "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBf0Secretkeymaterial0\n-----END PRIVATE KEY-----",
        paid: "card 4111 1111 1111 1111",
        gitlab: "glpat-Ab3dEf6hIj9kLm2nOp5q",
      },
    },
  ];
}

test("no secret and no personal value is stored in clear, in the database, its WAL or anywhere in the data directory", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir });
  const records = [];
  for (const e of events()) records.push(await log.append(e));
  // While the log is open the WAL holds the latest pages: scanned too.
  assert.ok(
    files(dataDir).some((p) => p.endsWith("genlog.db-wal")),
    "the WAL is there to scan",
  );
  assert.deepEqual(leaks(dataDir, [...SECRETS, ...PERSONAL]), []);

  // Every value found was acted on, and the record says where and by which rule.
  const rules = new Set(records.flatMap((r) => r.redactions.map((x) => x.rule.split(":")[0])));
  assert.deepEqual([...rules].sort(), ["pii", "secret"]);
  assert.equal(records[0]!.actor, records[2]!.actor, "one person, one pseudonym");
  assert.notEqual(records[0]!.actor, records[1]!.actor);

  // The proofs hold, and the master key reads the people and encrypted values back.
  assert.equal((await log.verify()).ok, true);
  const revealed = await log.reveal(records);
  assert.deepEqual(
    revealed.map((r) => (r.revealed !== null && "actor" in r.revealed ? r.revealed.actor : null)),
    ["alice.martin", "bob.durand", "alice.martin"],
  );
  const first = revealed[0]!.revealed as { values: Record<string, unknown> };
  assert.equal(
    first.values["/meta/contact"],
    "write to alice.martin@example.org or call 06 12 34 56 78",
  );
  assert.equal((await log.query({ user: "alice.martin" })).records.length, 2);

  // The rest of a DPO's year: alice is erased, and the records before a cutoff are purged
  // while a later one of bob's (with another phone number) is kept.
  const alice = (await log.exportSubject({ subject: "alice.martin" })).subject.keys[0]!;
  const aliceRow = subjectRow(dataDir, alice.pseudonym);
  await log.eraseSubject({ subject: "alice.martin", reason: "GDPR Art. 17 request #12" });
  const cutoff = await (async () => {
    const last = Date.parse((await log.get((await log.size()) - 1)).ts);
    while (Date.now() <= last) await new Promise((r) => setTimeout(r, 1));
    return new Date().toISOString();
  })();
  await log.append({ type: "backend", user: "bob.durand", meta: { call: "+33 6 55 44 33 22" } });
  const purged = await log.purge({ before: cutoff });
  assert.equal(purged.purged, 3);
  assert.equal((await log.verify()).ok, true);
  await log.close();

  // Closed (WAL checkpointed into the database), still nothing; nothing of alice's key either.
  assert.deepEqual(leaks(dataDir, [...SECRETS, ...PERSONAL, ["phone", "+33 6 55 44 33 22"]]), []);
  assert.deepEqual(
    leakedBytes(dataDir, [
      ["alice's data key", Buffer.from(alice.dataKey, "base64")],
      ["alice's wrapped key", aliceRow.wrapped],
      ["alice's lookup", aliceRow.lookup],
    ]),
    [],
  );
});

/** A subject's row as stored, read as anyone with the file would. */
function subjectRow(dataDir: string, pseudonym: string): { lookup: Buffer; wrapped: Buffer } {
  const db = new Database(join(dataDir, "genlog.db"), { readonly: true });
  try {
    return db
      .prepare("SELECT lookup, wrapped_key AS wrapped FROM subjects WHERE pseudonym = ?")
      .get(pseudonym) as { lookup: Buffer; wrapped: Buffer };
  } finally {
    db.close();
  }
}

test("the scan sees what a pipeline without value detectors would leave (control)", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir, [KEY_NAMES_ONLY]: true });
  for (const e of events()) await log.append(e);
  await log.close();
  const found = leaks(dataDir, [...SECRETS, ...PERSONAL]);
  // Every secret and every personal value in meta is there; the actors are protected
  // whatever the policy (bob's id appears nowhere else).
  for (const [what, value] of [...SECRETS, ...PERSONAL]) {
    if (what === "actor") continue;
    const forms = [value, value.replace(/ /g, "")];
    assert.ok(
      found.some((f) => forms.some((v) => f.includes(`"${v}"`))),
      `${what} ${value}`,
    );
  }
  assert.ok(!found.some((f) => f.includes("bob.durand")));
});
