/**
 * A signer kept outside the keys directory (`openLog({ signer })`), as a KMS or HSM would be:
 * asynchronous, holding a key genlog never sees. Built here with the package's own note
 * helpers, as docs/guides/deployment.md shows.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import {
  GenlogError,
  ed25519KeyId,
  formatSignedNote,
  formatVerifierKey,
  type Signer,
} from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import { tempDir } from "./helpers/temp-dir.js";

/** A remote signing service stand-in: the private key stays in here; each call takes a while. */
function remoteSigner(name: string): Signer & { calls: number } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const keyId = ed25519KeyId(name, raw);
  const out = {
    name,
    verifierKey: formatVerifierKey(name, raw),
    calls: 0,
    async sign(body: string): Promise<string> {
      out.calls++;
      await new Promise((r) => setTimeout(r, 2)); // the network
      const signature = sign(null, Buffer.from(body, "utf8"), privateKey);
      return formatSignedNote(body, [{ name, keyId, signature }]);
    },
  };
  return out;
}

test("a signer kept elsewhere signs every checkpoint, asynchronously, with no key file written", async () => {
  const kms = remoteSigner("genlog.local/acme");
  const keysDir = tempDir();
  const dataDir = tempDir();
  const options = {
    dataDir,
    keysDir,
    tenant: "acme",
    signer: (tenant: string) => (tenant === "acme" ? kms : undefined),
  };
  const log = await openLog(options);
  const records = await Promise.all(
    Array.from({ length: 50 }, (_, i) => log.append({ type: "backend", meta: { i } })),
  );
  assert.equal(records.length, 50);
  assert.equal(await log.verifierKey(), kms.verifierKey);
  assert.ok(kms.calls > 0);
  // The published key verifies the log; nothing of acme's key is on this disk.
  const report = await log.verify({ verifierKey: kms.verifierKey });
  assert.ok(report.ok, JSON.stringify(report.problems));
  assert.ok(!readdirSync(keysDir).some((f) => f.startsWith("acme")), readdirSync(keysDir).join());
  // Its key lives in the signing service: rotating it is done there.
  await assert.rejects(
    log.rotateKey({ reason: "yearly" }),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_USAGE",
  );
  await log.close();

  // Another handle (another node) with the same signer continues the log.
  const again = await openLog(options);
  await again.append({ type: "frontend" });
  assert.ok((await again.verify({ verifierKey: kms.verifierKey })).ok);
  await again.close();

  // Without the signer, the key file is missing: no new key is made for this log.
  await assert.rejects(
    openLog({ dataDir, keysDir, tenant: "acme" }).then((l) => l.append({ type: "x" })),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_NOT_INITIALIZED",
  );
  assert.ok(!existsSync(`${keysDir}/acme.ed25519.pem`));
});

test("a signer of another name, or another key than the log's, is refused", async () => {
  const dataDir = tempDir();
  const keysDir = tempDir();
  await assert.rejects(
    openLog({ dataDir, keysDir, signer: () => remoteSigner("genlog.local/other") }),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_CONFIG",
  );
  const first = remoteSigner("genlog.local/default");
  const log = await openLog({ dataDir, keysDir, signer: () => first });
  await log.append({ type: "backend" });
  await log.close();
  // A different key for the same log would fork what auditors pinned.
  await assert.rejects(
    openLog({ dataDir, keysDir, signer: () => remoteSigner("genlog.local/default") }),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_KEY",
  );
});

test("what a signer returns is checked before anything is committed", async () => {
  const good = remoteSigner("genlog.local/default");
  let mode: "good" | "other key" | "other text" = "good";
  const impostor = remoteSigner("genlog.local/default");
  const flaky: Signer = {
    name: good.name,
    verifierKey: good.verifierKey,
    async sign(body) {
      if (mode === "other key") return impostor.sign(body); // a KMS key version changed
      if (mode === "other text") return good.sign(body.replace(/\n\d+\n/, "\n999\n"));
      return good.sign(body);
    },
  };
  const log = await openLog({ dataDir: tempDir(), keysDir: tempDir(), signer: () => flaky });
  try {
    await log.append({ type: "backend" });
    for (const m of ["other key", "other text"] as const) {
      mode = m;
      await assert.rejects(
        log.append({ type: "backend", meta: { m } }),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_KEY",
        m,
      );
    }
    mode = "good";
    await log.append({ type: "frontend" });
    assert.equal(await log.size(), 2, "nothing of the refused batches was committed");
    const report = await log.verify({ verifierKey: good.verifierKey });
    assert.ok(report.ok, JSON.stringify(report.problems));
  } finally {
    await log.close();
  }
});
