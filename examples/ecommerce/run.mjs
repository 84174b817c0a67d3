// E-commerce: a shop's platform generates product pages and catalogues, some for a given
// customer. A customer asks for their data (GDPR Art. 15/20), then to be forgotten (Art. 17):
// the erasure is cryptographic, so the log still verifies, and the GDPR report says so.
//
//   npm run build && node examples/ecommerce/run.mjs [DATA_DIR]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLog } from "genlog";

const dataDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "genlog-ecommerce-"));
const log = await openLog({ dataDir, tenant: "boutique-lille" });
try {
  const customers = ["client-1042", "client-2077", "client-3111"];
  for (let i = 0; i < 24; i++) {
    await log.append({
      type: i % 3 === 0 ? "catalogue" : "product-page",
      sector: "ecommerce",
      user: customers[i % 3],
      meta: {
        sku: `SKU-${1000 + i}`,
        locale: "fr-FR",
        deliveryNote: `livrer à ${customers[i % 3]}, 12 rue des Arts, Lille`,
      },
    });
  }

  // The shop's DPO answers an access request, then an erasure request.
  const dpo = log.as({
    principal: "local:dpo-boutique",
    role: "dpo",
    scope: "boutique-lille",
    purpose: "GDPR request #58",
    via: "library",
  });
  const exported = await dpo.exportSubject({ subject: "client-2077" });
  const erased = await dpo.eraseSubject({
    subject: "client-2077",
    reason: "GDPR Art. 17 request #58",
  });
  // After the erasure the records stay, pseudonymous for good, and every proof still holds.
  const verify = await dpo.verify();
  const gdpr = await dpo.gdprReport();

  console.log(
    JSON.stringify(
      {
        example: "ecommerce",
        dataDir,
        exportedRecords: exported.records.length,
        erasedPseudonyms: erased.pseudonyms,
        verifiedAfterErasure: verify.ok,
        gdpr: {
          subjects: gdpr.subjects,
          erasures: gdpr.erasures.count,
          exports: gdpr.exports.count,
        },
      },
      null,
      2,
    ),
  );
} finally {
  await log.close();
}
