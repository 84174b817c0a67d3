/**
 * A real browser for the console's tests: Debian's Chromium driven by playwright-core, headless,
 * with no network beyond the loopback (the background services Chromium would call are off).
 * Without Chromium the tests skip, unless GENLOG_TEST_BROWSER=required (as in CI);
 * GENLOG_TEST_BROWSER=off skips them whatever is installed.
 */
import { existsSync } from "node:fs";
import { after } from "node:test";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

const EXECUTABLE = process.env.GENLOG_TEST_CHROMIUM ?? "/usr/bin/chromium";
const MODE = process.env.GENLOG_TEST_BROWSER ?? "auto";

if (MODE === "required" && !existsSync(EXECUTABLE)) {
  throw new Error(
    `GENLOG_TEST_BROWSER=required but there is no Chromium at ${EXECUTABLE}: apt-get install chromium, or set GENLOG_TEST_CHROMIUM`,
  );
}

/** Why the browser tests skip, or false when they run. */
export const NO_BROWSER: string | false =
  MODE === "off"
    ? "GENLOG_TEST_BROWSER=off"
    : existsSync(EXECUTABLE)
      ? false
      : `no Chromium at ${EXECUTABLE} (apt-get install chromium)`;

let launched: Promise<Browser> | undefined;
// Registered at load, so on the file (an `after` inside a test runs when that test ends).
after(async () => {
  await (await launched)?.close();
});

/** The one browser of the test file, closed after it. */
export function browser(): Promise<Browser> {
  if (launched === undefined) {
    launched = chromium.launch({
      executablePath: EXECUTABLE,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
      ],
    });
  }
  return launched;
}

export interface ConsolePage {
  context: BrowserContext;
  page: Page;
  /** Script errors and Content-Security-Policy violations the page reported. */
  problems: string[];
}

/** A fresh browser profile (its own storage) on a page, in `locale`, at a 1280 px desk. */
export async function openPage(
  locale = "en-GB",
  options: { timezoneId?: string; width?: number } = {},
): Promise<ConsolePage> {
  const context = await (
    await browser()
  ).newContext({
    locale,
    viewport: { width: options.width ?? 1280, height: 900 },
    timezoneId: options.timezoneId ?? "UTC",
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  after(() => context.close()); // called in a test: when the test ends
  return { context, page, problems };
}
