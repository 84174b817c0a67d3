/**
 * The `report` follower. Periods are hours of a clock the test moves (Node's mock timers move
 * `Date` only: I/O and timeouts run on the real one), so that an hour passes in a call; the
 * reports are read back from the real files and from a real receiver, whose signatures are
 * checked with the Standard Webhooks reference library.
 */
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { isGenlogError, type TenantReport } from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import { FAST } from "./helpers/followers.js";
import { tempDir } from "./helpers/temp-dir.js";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const LOCAL = { followerNetwork: { allowPrivate: true } };

test("a report follower reports each hour once it has ended: to files and to a signed endpoint, in order", async (t) => {
  mock.timers.enable({ apis: ["Date"], now: Date.parse("2026-12-04T10:15:00.000Z") });
  t.after(() => mock.timers.reset());
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  let failures = 1;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (failures-- > 0) return void res.writeHead(503).end();
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/reports`;

  const data = tempDir();
  const log = await openLog({ dataDir: data, ...LOCAL });
  t.after(() => log.close());
  for (const [config, pointer] of [
    [{ period: "month" }, "/config/period"],
    [{ url: "ftp://x" }, "/config/url"],
    [{ url }, "/secret"],
  ] as const) {
    await assert.rejects(
      log.addFollower({ name: "r", kind: "report", config }),
      (e: unknown) =>
        isGenlogError(e, "GENLOG_E_INVALID_INPUT") &&
        (e.details as { pointer: string }).pointer === pointer,
      JSON.stringify(config),
    );
  }
  const files = await log.addFollower({
    name: "hourly",
    kind: "report",
    config: { period: "hour" },
  });
  assert.equal(files.target, "hourly report written to files");
  await log.addFollower({
    name: "soc",
    kind: "report",
    config: { period: "hour", url },
    secret: SECRET,
  });
  for (const status of ["succeeded", "failed", "succeeded", "failed"] as const) {
    await log.append({ type: "backend", status, user: "alice", meta: {} });
  }
  await log.append({ type: "ai-model", sector: "health", meta: {} });
  // An auditor reads, and an unknown principal is refused: both in the access log.
  await log
    .as({ principal: "oidc:audit@example.com", role: "auditor", scope: "default", via: "http" })
    .query({});
  await assert.rejects(
    log
      .as({ principal: "token:intruder", role: "writer", scope: "default", via: "http" })
      .accessLog(),
  );
  const runner = log.followerRunner(FAST);

  // 10:59: the hour under way is not reported.
  mock.timers.tick(44 * 60_000);
  assert.equal((await runner.pass()).delivered, 0);
  assert.ok((await log.followers()).every((f) => f.behind === 0));

  // 11:01:30: 10:00 to 11:00 ended a minute and a half ago.
  mock.timers.tick(2.5 * 60_000);
  assert.ok((await log.followers()).every((f) => f.behind === 1));
  for (let i = 0; i < 50 && (await log.followers()).some((f) => f.behind > 0); i++) {
    await runner.pass();
    mock.timers.tick(10); // the clock moves past the retry's backoff
  }
  const dir = join(data, "followers", "default", "hourly");
  assert.deepEqual(readdirSync(dir), ["20261204T100000000Z.json"]);
  const report = JSON.parse(
    readFileSync(join(dir, "20261204T100000000Z.json"), "utf8"),
  ) as TenantReport;
  assert.equal(report.type, "genlog.report");
  assert.equal(report.from, "2026-12-04T10:00:00.000Z");
  assert.equal(report.until, "2026-12-04T11:00:00.000Z");
  assert.equal(report.generations.all.total, 5);
  assert.equal(report.generations.all.failed, 2);
  assert.equal(report.generations.all.failureRate, 2 / 5);
  assert.deepEqual(
    report.generations.byType.map((b) => [b.type, b.total]),
    [
      ["backend", 4],
      ["ai-model", 1],
    ],
  );
  assert.equal(report.checkpoint, await log.checkpoint());
  assert.equal(report.access.denied, 1);
  assert.ok(
    report.access.principals.some((p) => p.principal === "oidc:audit@example.com"),
    JSON.stringify(report.access.principals),
  );
  assert.ok(report.access.anomalies.length >= 1, "the refusal is an anomaly");

  // The endpoint failed once, then got the same report, signed.
  assert.equal(got.length, 1);
  const verified = new Webhook(SECRET).verify(got[0]!.body, {
    "webhook-id": String(got[0]!.headers["webhook-id"]),
    "webhook-timestamp": String(got[0]!.headers["webhook-timestamp"]),
    "webhook-signature": String(got[0]!.headers["webhook-signature"]),
  }) as TenantReport;
  // The same report as the file's, made a few milliseconds apart.
  const made = (r: TenantReport) => ({ ...r, generations: { ...r.generations, generatedAt: "" } });
  assert.deepEqual(made(verified), made(report));
  assert.match(String(got[0]!.headers["webhook-id"]), /^rpt_[0-9a-f]{32}_\d+$/);

  // Three hours later: the three hours, in order, each once, empty ones too.
  mock.timers.tick(3 * 3_600_000);
  for (let i = 0; i < 50 && (await log.followers()).some((f) => f.behind > 0); i++) {
    await runner.pass();
  }
  assert.deepEqual(readdirSync(dir).sort(), [
    "20261204T100000000Z.json",
    "20261204T110000000Z.json",
    "20261204T120000000Z.json",
    "20261204T130000000Z.json",
  ]);
  assert.deepEqual(
    got.map((g) => (JSON.parse(g.body) as TenantReport).from),
    [
      "2026-12-04T10:00:00.000Z",
      "2026-12-04T11:00:00.000Z",
      "2026-12-04T12:00:00.000Z",
      "2026-12-04T13:00:00.000Z",
    ],
  );
  assert.equal((JSON.parse(got[3]!.body) as TenantReport).generations.all.total, 0);
});
