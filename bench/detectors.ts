/**
 * (i) The value detectors alone: strings scanned per second by every detector of the default
 * pipeline (gitleaks' rules, genlog's own secret detectors, e-mail, phone, IP, IBAN, card),
 * with no verdict cache: every string is new. The strings are metadata values as a
 * code-generation platform sends them; a tenth hold a secret or a personal value.
 * Standalone: `node --import tsx bench/detectors.ts [n]`.
 */
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { scanText } from "../src/core/privacy/detectors.js";
import { valueDetectors } from "../src/log/pipeline.js";

/** The result of {@link benchDetectors}. */
export interface DetectorsResult {
  strings: number;
  stringsPerSec: number;
  /** The same for the strings that hold something, alone. */
  sensitivePerSec: number;
  /** Findings, as a check that the detectors ran. */
  findings: number;
}

const INNOCENT = [
  (n: number) => `Flask ${n % 7}.${n % 13}`,
  (n: number) => `generated ${n % 300} files in ${(n % 97) / 10} s`,
  (n: number) => `acme/shop-frontend-${n}`,
  (n: number) => `React ${16 + (n % 4)} with Vite, Tailwind and ${n % 9} routes`,
  (n: number) => `build ${n} of commit 9f86d081884c7d659a2feaa0c55ad015a3bf${n}`,
  (n: number) => `prompt: a landing page for a bakery in Lyon, variant ${n}`,
  (n: number) => `gpt-x-${n % 5}`,
  (n: number) => `/srv/app/src/routes/item-${n}.tsx`,
  (n: number) => `order ORD-2026${String(n).padStart(6, "0")}`,
];
const SENSITIVE = [
  (n: number) => `reach me at dev${n}@example.com`,
  (n: number) => `call 06 ${String(10 + (n % 90))} ${String(10 + ((n >> 3) % 90))} 34 56`,
  (n: number) => `from 10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
  (n: number) => `postgres://app:pw${n}x@db.internal:5432/shop`,
  (n: number) => `token ghp_${tokenOf(n)}`,
];

/** 36 random-looking letters and digits, as a GitHub token has (gitleaks checks entropy). */
function tokenOf(n: number): string {
  return createHash("sha256")
    .update(String(n))
    .digest("base64")
    .replace(/[^A-Za-z0-9]/g, "")
    .slice(0, 36);
}

/** String `n` of the benchmark: a tenth are sensitive. */
export function benchString(n: number): string {
  return n % 10 === 0
    ? SENSITIVE[(n / 10) % SENSITIVE.length]!(n)
    : INNOCENT[n % INNOCENT.length]!(n);
}

/** Scans `n` distinct strings with the default detectors. */
export function benchDetectors(n: number): DetectorsResult {
  const detectors = valueDetectors("FR");
  const strings = Array.from({ length: n }, (_, i) => benchString(i));
  const sensitive = strings.filter((_, i) => i % 10 === 0);
  for (let i = 0; i < Math.min(n, 5000); i++) scanText(strings[i]!, detectors); // warm-up
  let findings = 0;
  let t = performance.now();
  for (const s of strings) findings += scanText(s, detectors).length;
  const all = (performance.now() - t) / 1000;
  t = performance.now();
  for (const s of sensitive) scanText(s, detectors);
  const some = (performance.now() - t) / 1000;
  if (findings < sensitive.length) {
    throw new Error(
      `the detectors found ${findings} values in ${sensitive.length} sensitive strings`,
    );
  }
  return {
    strings: n,
    stringsPerSec: n / all,
    sensitivePerSec: sensitive.length / some,
    findings,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const r = benchDetectors(Number(process.argv[2] ?? 100_000));
  console.log(r);
}
