// Health: a clinic's platform generates AI models from patient data. The log keeps who
// generated what, with patients' personal data pseudonymised or encrypted (the health preset),
// and an external auditor's reads are themselves audited.
//
//   npm run build && node examples/health/run.mjs [DATA_DIR]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLog } from "genlog";

const dataDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "genlog-health-"));
const log = await openLog({ dataDir, tenant: "clinic-lyon" });
try {
  const patients = ["marie.curie@example.fr", "louis.pasteur@example.fr", "simone.veil@example.fr"];
  for (let i = 0; i < 30; i++) {
    await log.append({
      type: "ai-model",
      sector: "health",
      user: "dr.martin@clinic-lyon.example.fr",
      status: i % 10 === 9 ? "failed" : "succeeded",
      meta: {
        model: "triage-v2",
        note: `retrained on the file of ${patients[i % 3]} (phone +33 6 12 34 56 78)`,
      },
      artifacts: [
        { name: "triage-v2.onnx", digest: `sha256:${"0a".repeat(32)}`, size: 48_000_000 },
      ],
    });
  }

  // An external auditor reads with a declared purpose: pseudonyms, never a patient's address.
  const auditor = log.as({
    principal: "local:auditor-has",
    role: "auditor",
    scope: "clinic-lyon",
    purpose: "HAS certification audit 2026",
    via: "library",
  });
  const page = await auditor.query({ limit: 100 });
  const clear = page.records.filter((r) => patients.some((p) => JSON.stringify(r).includes(p)));
  let anonymised = 0;
  for await (const line of auditor.exportAnonymised()) if (line.length > 0) anonymised++;
  const verify = await auditor.verify();

  // And the clinic's DPO sees who read what.
  const dpo = log.as({
    principal: "local:dpo",
    role: "dpo",
    scope: "clinic-lyon",
    purpose: "quarterly access review",
    via: "library",
  });
  const access = await dpo.accessReport();
  const report = await dpo.generationReport();

  console.log(
    JSON.stringify(
      {
        example: "health",
        dataDir,
        records: page.records.length,
        recordsWithAPatientInClear: clear.length,
        anonymisedExportLines: anonymised,
        verified: verify.ok,
        failureRate: report.all.failureRate,
        redacted: report.redacted,
        accessesByPrincipal: access.principals.map((p) => ({
          principal: p.principal,
          allowed: p.allowed,
          records: p.records,
          purposes: p.purposes,
        })),
      },
      null,
      2,
    ),
  );
} finally {
  await log.close();
}
