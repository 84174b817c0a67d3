// Education: one platform, one tenant per school. Each school's log has its own tree, key and
// access log; a school's auditor reads that school only, and each school gets its own
// generation report.
//
//   npm run build && node examples/education/run.mjs [DATA_DIR]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLog, isGenlogError } from "genlog";

const dataDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "genlog-education-"));
const schools = ["lycee-hugo", "college-sand", "ecole-zola"];
const log = await openLog({ dataDir });
try {
  for (const [s, school] of schools.entries()) {
    await log.createTenant(school);
    for (let i = 0; i < 10 + 5 * s; i++) {
      await log.append({
        tenant: school,
        type: i % 2 === 0 ? "frontend" : "backend",
        sector: "education",
        user: `student${i}@${school}.example.fr`,
        status: i % 7 === 6 ? "failed" : "succeeded",
        meta: { course: "NSI", project: `site-${i}` },
      });
    }
  }

  // The rector's auditor of one school reads that school, and is refused (and recorded) elsewhere.
  const auditor = log.as({
    principal: "local:inspecteur-hugo",
    role: "auditor",
    scope: "lycee-hugo",
    purpose: "inspection",
    via: "library",
  });
  const own = await auditor.query({ tenant: "lycee-hugo", limit: 100 });
  let refused = null;
  try {
    await auditor.query({ tenant: "college-sand", limit: 1 });
  } catch (e) {
    if (!isGenlogError(e, "GENLOG_E_FORBIDDEN")) throw e;
    refused = e.code;
  }

  const perSchool = [];
  for (const school of schools) {
    const report = await log.generationReport({ tenant: school });
    const verify = await log.verify({ tenant: school });
    perSchool.push({
      school,
      generations: report.all.total,
      failed: report.all.failed,
      byType: Object.fromEntries(report.byType.map((t) => [t.type, t.total])),
      verified: verify.ok,
      origin: report.origin,
    });
  }
  console.log(
    JSON.stringify(
      {
        example: "education",
        dataDir,
        auditorReadOwnSchool: own.records.length,
        auditorOnAnotherSchool: refused,
        schools: perSchool,
      },
      null,
      2,
    ),
  );
} finally {
  await log.close();
}
