/**
 * The web console in a real browser (Chromium, headless) against a real server with real
 * data. The proof badge is attacked by altering the server's real answers in flight, as a
 * compromised server or a proxy would. With GENLOG_CONSOLE_SCREENSHOTS=<dir>, each view's
 * screenshot is written there (docs/images/console/ holds the docs' copies).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import type { GenerationRecord } from "../../src/index.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { NO_BROWSER, openPage } from "../helpers/browser.js";
import { CLI_PATH, childEnv } from "../helpers/run-cli.js";
import { tempDir } from "../helpers/temp-dir.js";

const SHOTS = process.env.GENLOG_CONSOLE_SCREENSHOTS;
const skip = NO_BROWSER;

let server: TestServer;
let acmeKey: string;
let otherAuditor: string;

// At the top level, so that the server lives as long as the file (startServer closes it after).
if (skip === false) await setUp();

async function setUp() {
  server = await startServer();
  const { log } = server;
  // A week of health and education generations, some failed, one with markup in its meta.
  const events = [];
  for (let i = 0; i < 60; i++) {
    events.push({
      tenant: "acme",
      type: ["backend", "frontend", "model"][i % 3]!,
      user: `user-${i % 7}@example.com`,
      sector: i % 2 === 0 ? "health" : "education",
      status: i % 9 === 0 ? ("failed" as const) : ("succeeded" as const),
      meta: { stack: i % 2 === 0 ? "Flask" : "Next.js", files: i },
    });
  }
  await log.appendBatch(events);
  await log.append({
    tenant: "acme",
    type: "frontend",
    sector: "health",
    meta: {
      title: "<script>window.__pwned = 1</script>",
      banner: '<img src="x" onerror="window.__pwned = 2">',
    },
  });
  acmeKey = await log.verifierKey("acme");
  otherAuditor = (await log.createToken({ scope: "other", role: "auditor", label: "other" })).token;
}

/** Logs in through the form, as a user does, and waits for the first view. */
async function logIn(page: Page, token: string, options: { pin?: string; tenant?: string } = {}) {
  await page.goto(`${server.url}/console/`);
  await page.getByLabel("API token").fill(token);
  if (options.tenant !== undefined) await page.getByLabel("Tenant").fill(options.tenant);
  if (options.pin !== undefined) await page.getByLabel("Pinned verifier key(s)").fill(options.pin);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

async function shot(page: Page, name: string) {
  if (SHOTS === undefined) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

/** The rows of the events table, as text. */
async function rows(page: Page): Promise<string[]> {
  return page.locator("table.records tbody tr").allInnerTexts();
}

test(
  "an auditor logs in, filters by sector and time, opens a record and sees its proof verified",
  { skip },
  async () => {
    // In Paris: the form's local times must reach the server as the same instants in UTC.
    const zone = "Europe/Paris";
    const { page, problems } = await openPage("en-GB", { timezoneId: zone });
    await logIn(page, server.tokens.auditor, { pin: acmeKey });
    await page.locator("table.records").waitFor();
    assert.equal((await rows(page)).length, 50, "the first page holds 50 records");
    await shot(page, "events");

    // Sector and a time window through the form; the server filters, and the URL says what.
    const minute = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000);
    const hourAgo = minute(Date.now() - 3_600_000);
    const inParis = (d: Date) =>
      new Intl.DateTimeFormat("sv-SE", { timeZone: zone, dateStyle: "short", timeStyle: "short" })
        .format(d)
        .replace(" ", "T"); // the value a datetime-local input takes: 2026-12-06T01:16
    await page.getByLabel("Sector").fill("health");
    await page.getByLabel("From").fill(inParis(hourAgo));
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/sector=health/);
    await page.locator("table.records").waitFor();
    const query = new URLSearchParams(page.url().split("?")[1]);
    assert.equal(query.get("since"), hourAgo.toISOString(), "the same instant, in UTC");
    const health = await rows(page);
    const expected = await server.log.query({
      tenant: "acme",
      sector: "health",
      since: hourAgo.toISOString(),
      limit: 1000,
    });
    assert.equal(health.length, expected.records.length);
    assert.ok(health.length > 0 && health.every((r) => r.includes("health")));

    // Each bound does filter: everything was logged after an hour ago, nothing after the next.
    await page.getByLabel("Until").fill(inParis(hourAgo));
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("No record matches.").waitFor();
    await page.goBack();
    await page.locator("table.records").waitFor();
    assert.equal(await page.getByLabel("Until").inputValue(), "", "the form follows the URL back");
    await page.getByLabel("From").fill(inParis(minute(Date.now() + 3_600_000)));
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("No record matches.").waitFor();
    await page.goBack();

    await page.locator("table.records").waitFor();
    await page.locator("table.records tbody tr").nth(2).getByRole("link").click();
    const badge = page.locator("[data-proof]");
    await badge.and(page.locator("[data-proof=verified]")).waitFor();
    assert.match(await badge.innerText(), /Proof verified in this browser/);
    await shot(page, "record");
    assert.deepEqual(problems, []);

    // The console's reads are in the access log like any other client's.
    const reads = (await server.log.accessLog({ tenant: "acme", limit: 1000 })).records.filter(
      (r) => r.meta["route"] === "GET /v1/tenants/:tenant/events/:id",
    );
    assert.ok(reads.length >= 1, "the record's read was recorded");
  },
);

/** A record with its proof, as `GET events/{id}?proof=true` answers. */
interface Served {
  record: GenerationRecord;
  proof: { hashes: string[]; checkpoint: string };
}

/** Opens the record at `seq` with the server's answers rewritten by `alter`. */
async function openAltered(seq: number, alter: (body: Served) => Promise<Served> | Served) {
  const { page, problems } = await openPage();
  await logIn(page, server.tokens.auditor, { pin: acmeKey });
  await page.route(/\/v1\/tenants\/acme\/events\/[^/?]+\?proof=true$/, async (route) => {
    const response = await route.fetch();
    const body = (await response.json()) as Served;
    await route.fulfill({ response, json: await alter(body) });
  });
  const { records } = await server.log.query({ tenant: "acme", limit: 1000 });
  await page.goto(`${server.url}/console/#/acme/events/${records[seq]!.id}`);
  const badge = page.locator("[data-proof]:not([data-proof=checking])");
  await badge.waitFor();
  return {
    page,
    problems,
    state: await badge.getAttribute("data-proof"),
    text: await badge.innerText(),
  };
}

test(
  "a server that alters one record's text makes the badge fail in the page",
  { skip },
  async () => {
    const { state, text, page } = await openAltered(5, (b) => {
      b.record.meta["stack"] = "Rails"; // one value, nothing else
      return b;
    });
    assert.equal(state, "failed");
    assert.match(text, /The record shown is not the one committed/);
    await shot(page, "proof-failed");
    // The page shows what the server sent, under the red badge.
    assert.match(await page.locator(".record").innerText(), /Rails/);
  },
);

test("a server that serves a proof for another tree makes the badge fail", { skip }, async () => {
  // The real proof of the same record in the tree of an older checkpoint, passed off as the
  // latest one's.
  const older = (await server.log.query({ tenant: "acme", limit: 1000 })).records.length - 1;
  const { state, text } = await openAltered(5, async (b) => {
    const res = await fetch(
      `${server.url}/v1/tenants/acme/proofs/inclusion/${b.record.id}?treeSize=${older}`,
      { headers: { authorization: `Bearer ${server.tokens.auditor}` } },
    );
    assert.equal(res.status, 200, `a checkpoint at size ${older} to borrow a proof from`);
    const other = (await res.json()) as { hashes: string[] };
    assert.notDeepEqual(other.hashes, b.proof.hashes);
    b.proof.hashes = other.hashes;
    return b;
  });
  assert.equal(state, "failed");
  assert.match(text, /The proof does not lead to the signed root/);

  // And a checkpoint signed by another key (another tenant's) is refused as unsigned.
  const { state: s2, text: t2 } = await openAltered(6, async (b) => {
    const res = await fetch(`${server.url}/v1/tenants/other/checkpoint`, {
      headers: { authorization: `Bearer ${server.tokens.superadmin}` },
    });
    b.proof.checkpoint = await res.text();
    return b;
  });
  assert.equal(s2, "failed");
  assert.match(t2, /not signed by a pinned key/);
});

test(
  "a server that answers with another record and its genuine proof makes the badge fail",
  { skip },
  async () => {
    const { records } = await server.log.query({ tenant: "acme", limit: 1000 });
    const { state, text, page } = await openAltered(7, async () => {
      const res = await fetch(`${server.url}/v1/tenants/acme/events/${records[8]!.id}?proof=true`, {
        headers: { authorization: `Bearer ${server.tokens.auditor}` },
      });
      return (await res.json()) as Served;
    });
    assert.equal(state, "failed");
    assert.match(text, /The server sent another record than the one asked for/);
    assert.match(await page.locator("h1").innerText(), /#8/);
  },
);

test(
  "without a pinned key the badge says nothing was checked, and offers the server's key as trust on first use",
  { skip },
  async () => {
    const { page } = await openPage();
    await logIn(page, server.tokens.auditor);
    await page.locator("table.records tbody tr").first().getByRole("link").click();
    await page.locator("[data-proof=unpinned]").waitFor();
    await page.getByRole("button", { name: "Show the server's key" }).click();
    await page.getByText(acmeKey).waitFor();
    await page.getByRole("button", { name: "Pin this key" }).click();
    await page.locator("[data-proof=verified]").waitFor();
  },
);

test(
  "a writer's token sees no records; an auditor of one tenant cannot reach another's, even by typing its URL",
  { skip },
  async () => {
    const writer = await openPage();
    await logIn(writer.page, server.tokens.writer);
    await writer.page.getByText("A writer token reads nothing in the console.").waitFor();
    assert.equal(await writer.page.locator("nav a").count(), 0);
    await writer.page.goto(`${server.url}/console/#/acme/events`);
    await writer.page.getByText("A writer token reads nothing in the console.").waitFor();
    assert.equal(await writer.page.locator("table.records").count(), 0);

    const other = await openPage();
    await logIn(other.page, otherAuditor);
    await other.page.locator("table.records").waitFor();
    await other.page.goto(`${server.url}/console/#/acme/events`);
    await other.page.getByRole("alert").waitFor();
    assert.match(
      await other.page.getByRole("alert").innerText(),
      /Not allowed for this token[\s\S]*GENLOG_E_FORBIDDEN/,
    );
    assert.equal(await other.page.locator("table.records").count(), 0);
    await other.page.goto(`${server.url}/console/#/acme/events/0`);
    await other.page.getByRole("alert").waitFor();
    assert.equal(await other.page.locator(".record").count(), 0);
    // The denials are in acme's access log.
    const denied = (await server.log.accessLog({ tenant: "acme", status: "failed", limit: 1000 }))
      .records;
    assert.ok(denied.some((r) => String(r.meta["reason"]).includes("scope other")));
  },
);

test(
  "a DPO finds a subject, exports, erases; the subject's records then show only pseudonyms, and the access report shows each step",
  { skip },
  async () => {
    const { page, problems } = await openPage();
    await logIn(page, server.tokens.dpo, { pin: acmeKey });
    await page.getByRole("link", { name: "GDPR" }).click();
    await page.getByLabel("Subject id or pseudonym").fill("alice");
    await page.getByRole("button", { name: "Find and export" }).click();
    await page.locator("[data-proof=verified]").waitFor();
    assert.match(
      await page.locator(".subject").innerText(),
      /All 1 proofs and decrypted values verified/,
    );
    await page.locator(".subject-record summary").first().click();
    assert.match(await page.locator(".subject-record").first().innerText(), /alice/);
    await shot(page, "gdpr");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download the export" }).click(),
    ]);
    const exported = JSON.parse(readFileSync((await download.path())!, "utf8")) as {
      format: string;
      subject: { keys: { pseudonym: string }[] };
      records: unknown[];
    };
    assert.equal(exported.records.length, 1);
    const pseudonym = exported.subject.keys[0]!.pseudonym;

    // A hold on the whole tenant: the erasure is refused until it is released.
    const tenantHold = page.locator(".hold-form", { hasText: "Legal hold on the whole tenant" });
    await tenantHold.getByLabel("Reason (recorded)").fill("litigation #77");
    await tenantHold.getByRole("button", { name: "Set a hold" }).click();
    await tenantHold.getByText("Hold set.").waitFor();
    await page.getByRole("listitem").filter({ hasText: "the whole tenant" }).waitFor();

    await page.getByLabel("Reason (recorded)").first().fill("GDPR Art. 17 request #1234");
    const erase = page.getByRole("button", { name: "Erase for good" });
    assert.equal(await erase.isDisabled(), true, "not before the confirmation");
    await page.getByLabel("Type alice to confirm").fill("alice");
    await erase.click();
    await page
      .locator("form.danger")
      .getByRole("alert")
      .getByText("Under a legal hold", { exact: true })
      .waitFor();

    await tenantHold.getByRole("button", { name: "Release the hold" }).click();
    await tenantHold.getByText("Hold released.").waitFor();
    await page.getByText("None.").waitFor();
    await erase.click();
    await page.getByText(`Erased: ${pseudonym}`).waitFor();
    // Their decrypted data leaves the screen with their key.
    assert.equal(await page.locator(".subject").count(), 0);
    assert.ok(!(await page.locator("main").innerText()).includes("alice"));

    // The record now shows its pseudonym only: nothing decrypts, and its proof still verifies.
    await page.goto(`${server.url}/console/#/acme/events?actor=${pseudonym}`);
    await page.locator("table.records").waitFor();
    assert.match((await rows(page)).join("\n"), new RegExp(pseudonym));
    await page.locator("table.records tbody tr").first().getByRole("link").click();
    await page.locator("[data-proof=verified]").waitFor();
    const detail = await page.locator(".record").innerText();
    assert.ok(!detail.includes("alice"), "no clear personal data");
    assert.match(detail, new RegExp(`Encrypted for subject ${pseudonym}`));
    // A new search finds nothing to decrypt.
    await page.getByRole("link", { name: "GDPR" }).click();
    await page.getByLabel("Subject id or pseudonym").fill(pseudonym);
    await page.getByRole("button", { name: "Find and export" }).click();
    await page.getByRole("alert").or(page.locator(".subject")).first().waitFor();
    assert.ok(!(await page.locator("main").innerText()).includes("alice"));

    // The access report lists the export and the erasure, and flags the erasure.
    await page.getByRole("link", { name: "Access report" }).click();
    await page.locator("table.access-log").waitFor();
    const report = await page.locator("main").innerText();
    assert.match(report, /exportSubject/);
    assert.match(report, /eraseSubject/);
    assert.match(report, /setHold/);
    assert.match(report, /releaseHold/);
    assert.match(report, /Erasure/);
    await shot(page, "access");
    assert.deepEqual(problems, []);
  },
);

test(
  "a server that shows a DPO decrypted values the record does not hold fails the check",
  { skip },
  async () => {
    const { page } = await openPage();
    await logIn(page, server.tokens.dpo, { pin: acmeKey });
    await page.route(/\/v1\/tenants\/acme\/subjects\/export$/, async (route) => {
      const response = await route.fetch();
      const body = (await response.json()) as {
        records: { revealed: { actor: string; values: Record<string, unknown> } }[];
      };
      body.records[0]!.revealed.actor = "mallory@example.org"; // one value, nothing else
      await route.fulfill({ response, json: body });
    });
    await page.getByRole("link", { name: "GDPR" }).click();
    await page.getByLabel("Subject id or pseudonym").fill("carol");
    await page.getByRole("button", { name: "Find and export" }).click();
    await page.locator(".subject [data-proof=failed]").waitFor();
    assert.match(
      await page.locator(".subject [data-proof]").innerText(),
      /FAILED[\s\S]*not what its envelope holds/,
    );
  },
);

test("a record whose meta holds <script> or <img onerror> renders as text", { skip }, async () => {
  const { page, problems } = await openPage();
  await logIn(page, server.tokens.auditor, { pin: acmeKey });
  const { records } = await server.log.query({ tenant: "acme", limit: 1000 });
  const hostile = records.find((r) => JSON.stringify(r.meta).includes("<script>"))!;
  await page.goto(`${server.url}/console/#/acme/events/${hostile.id}`);
  await page.locator("[data-proof=verified]").waitFor();
  const text = await page.locator("pre.json").innerText();
  assert.match(text, /<script>window.__pwned = 1<\/script>/);
  assert.match(text, /<img src=\\"x\\" onerror=\\"window.__pwned = 2\\">/);
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    undefined,
  );
  assert.equal(await page.locator(".record img, .record script").count(), 0);
  assert.deepEqual(problems, []);
});

test(
  "the French UI shows French labels, chosen from the browser's language, with a switch",
  { skip },
  async () => {
    const { page } = await openPage("fr-FR");
    await page.goto(`${server.url}/console/`);
    await page.getByRole("button", { name: "Se connecter" }).waitFor();
    assert.equal(await page.getAttribute("html", "lang"), "fr");
    await page.getByLabel("Jeton d'API").fill(server.tokens.auditor);
    await page.getByLabel("Clé(s) de vérification épinglée(s)").fill(acmeKey);
    await page.getByRole("button", { name: "Se connecter" }).click();
    await page.getByRole("link", { name: "Événements" }).waitFor();
    await page.locator("table.records tbody tr").first().getByRole("link").click();
    await page.getByText("Preuve vérifiée dans ce navigateur").waitFor();
    await shot(page, "record-fr");
    await page.getByRole("button", { name: "EN", exact: true }).click();
    await page.getByText("Proof verified in this browser").waitFor();
    assert.equal(await page.getAttribute("html", "lang"), "en");

    // Every message has its translation.
    const src = (await page.locator("script[type=module]").getAttribute("src"))!;
    const missing = await page.evaluate(async (base) => {
      const { MESSAGES } = await import(base.replace(/app\.js$/, "i18n.js"));
      const en = Object.keys(MESSAGES.en);
      const fr = Object.keys(MESSAGES.fr);
      return [...en.filter((k) => !fr.includes(k)), ...fr.filter((k) => !en.includes(k))];
    }, src);
    assert.deepEqual(missing, []);
  },
);

test("the reports, tenants and verify views work, by keyboard too", { skip }, async () => {
  const { page, problems } = await openPage();
  // Log in with the keyboard only.
  await page.goto(`${server.url}/console/`);
  await page.getByLabel("API token").focus();
  await page.keyboard.type(server.tokens.superadmin);
  await page.keyboard.press("Tab");
  await page.keyboard.type("acme");
  await page.keyboard.press("Tab");
  await page.keyboard.type(acmeKey);
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Log out" }).waitFor();

  await page.getByRole("link", { name: "Tenants" }).click();
  const tenantRows = page.locator("table.tenants tbody tr");
  await tenantRows.first().waitFor();
  assert.equal(await tenantRows.count(), (await server.log.tenants()).length);
  await page.getByText("365 days").first().waitFor();

  await page.getByRole("link", { name: "Reports" }).click();
  await page.locator(".chart canvas").first().waitFor();
  assert.match(await page.locator("main").innerText(), /By sector[\s\S]*health/);
  await shot(page, "reports");

  await page.getByRole("link", { name: "Verify" }).click();
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await page.locator("[data-verify=ok]").waitFor();
  await page.locator("[data-pinned=verified]").waitFor();
  await shot(page, "verify");

  // The tenants' list now shows that verification, kept by the server.
  await page.getByRole("link", { name: "Tenants" }).click();
  const acme = page.locator("table.tenants tbody tr", { hasText: "acme/events" });
  await acme.getByText("ok", { exact: true }).waitFor();
  assert.match(await acme.innerText(), /up to size \d+/);
  await shot(page, "tenants");
  assert.deepEqual(problems, []);
});

test(
  "the README's demo: its printed console URL and auditor token turn the proof badge green",
  { skip },
  async () => {
    const dir = tempDir("genlog-console-demo-");
    const child = spawn(
      process.execPath,
      [CLI_PATH, "--data-dir", dir, "demo", "--port", "0", "--json"],
      {
        env: childEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = once(child, "exit");
    try {
      // The walk-through's last line on stdout: the URLs and the tokens.
      let out = "";
      for await (const chunk of child.stdout) {
        out += String(chunk);
        if (out.includes("\n")) break;
      }
      const printed = JSON.parse(out.split("\n")[0]!) as {
        console: string;
        tokens: Record<string, string>;
      };
      const { page, problems } = await openPage();
      await page.goto(printed.console);
      // The link pins the tenant's key: the user only pastes the token.
      assert.match(
        await page.getByLabel("Pinned verifier key(s)").inputValue(),
        /^genlog\.local\/demo-health\+[0-9a-f]{8}\+/,
      );
      await page.getByLabel("API token").fill(printed.tokens["auditor"]!);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.locator("table.records tbody tr").first().getByRole("link").click();
      await page.locator("[data-proof=verified]").waitFor();
      assert.deepEqual(problems, []);
    } finally {
      child.kill("SIGINT");
      await exited;
    }
  },
);

/** Presses Tab until the focused element is the one named (at most 60 times). */
async function tabTo(page: Page, role: "link" | "button", name: string) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate<string>(
      // In the page (a string: the tests' TypeScript has no DOM types).
      `(() => { const el = document.activeElement; return el === null ? "" : el.tagName.toLowerCase() + ":" + el.innerText.trim(); })()`,
    );
    if (focused === `${role === "link" ? "a" : "button"}:${name}`) return;
  }
  assert.fail(`no ${role} "${name}" reached with Tab`);
}

test(
  "on a tablet, and with the keyboard alone, an auditor moves between views and opens a record",
  { skip },
  async () => {
    const { page, problems } = await openPage("en-GB", { width: 800 });
    await logIn(page, server.tokens.auditor, { pin: acmeKey });
    await page.locator("table.records").waitFor();
    // Nothing wider than the screen: no sideways scrolling.
    const overflow = await page.evaluate<number>(
      "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than an 800 px screen`);

    await tabTo(page, "link", "Access report");
    await page.keyboard.press("Enter");
    await page.waitForURL(/#\/acme\/access/);
    await page.locator("table.access-log").waitFor();
    await tabTo(page, "link", "Events");
    await page.keyboard.press("Enter");
    await page.locator("table.records").waitFor();
    await tabTo(page, "link", "3");
    await page.keyboard.press("Enter");
    await page.locator("[data-proof=verified]").waitFor();
    // The focus ring is drawn (an outline), not hidden.
    await tabTo(page, "link", "← Events");
    const outline = await page.evaluate<string>(
      "getComputedStyle(document.activeElement).outlineStyle",
    );
    assert.notEqual(outline, "none");
    await shot(page, "tablet");
    assert.deepEqual(problems, []);
  },
);
