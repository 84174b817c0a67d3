/**
 * The web console's files, served under `/console/`. The console is static: a page and ES
 * modules with no build step, which call the public HTTP API with the user's token like any
 * other client. Its files are read once, when the server starts, from the package's
 * `console/` folder and two libraries (preact + htm, uPlot); nothing else on disk is
 * reachable through these routes.
 *
 * Caching: the page itself is revalidated on every load (`no-cache` with an ETag); every
 * other file is served under `/console/assets/<digest>/`, a digest of all the files, as
 * immutable. A new version changes the digest, so a browser never mixes two versions.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

/** The console's own folder: `console/` at the package's root, beside `src/` and `dist/`. */
const CONSOLE_DIR = fileURLToPath(new URL("../../console/", import.meta.url));

/**
 * The libraries the console loads, by the name it imports them as. htm's standalone build is
 * preact, its hooks and htm in one module (about 5 KB gzipped): no import map is needed, so
 * the page holds no inline script.
 */
const VENDORED: Record<string, () => string> = {
  "vendor/preact-htm.js": () => fileURLToPath(import.meta.resolve("htm/preact/standalone")),
  "vendor/uplot.js": () => join(uplotDir(), "uPlot.iife.min.js"),
  "vendor/uplot.css": () => join(uplotDir(), "uPlot.min.css"),
};

function uplotDir(): string {
  return dirname(fileURLToPath(import.meta.resolve("uplot")));
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json; charset=utf-8",
};

/**
 * The console's policy, stricter than the API's: scripts and styles from the server only (no
 * inline script or style attribute in markup), calls to the server only, no framing, no
 * plugins, no form posting elsewhere.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: Buffer;
  type: string;
}

/** Reads the console's files and the vendored libraries; the digest covers them all. */
function loadAssets(): { assets: Map<string, Asset>; page: string; digest: string } {
  const assets = new Map<string, Asset>();
  const add = (name: string, file: string) => {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, { body: readFileSync(file), type });
  };
  for (const entry of readdirSync(CONSOLE_DIR, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith(".d.ts")) continue;
    const file = join(entry.parentPath, entry.name);
    add(file.slice(CONSOLE_DIR.length).split("\\").join("/"), file);
  }
  for (const [name, file] of Object.entries(VENDORED)) add(name, file());
  const hash = createHash("sha256");
  for (const name of [...assets.keys()].sort()) hash.update(name).update(assets.get(name)!.body);
  const digest = hash.digest("hex").slice(0, 16);
  const index = assets.get("index.html");
  if (index === undefined) throw new Error(`the console's index.html is missing in ${CONSOLE_DIR}`);
  assets.delete("index.html");
  const page = index.body.toString("utf8").replaceAll("{{assets}}", `/console/assets/${digest}`);
  return { assets, page, digest };
}

/** Serves the console under `/console/` (hidden from the OpenAPI document). */
export function consoleRoutes(app: FastifyInstance): void {
  const { assets, page, digest } = loadAssets();
  const etag = `"${digest}"`;
  const hide = { schema: { hide: true } };

  app.get("/console", hide, (_request, reply) => reply.redirect("/console/", 301));
  app.get("/console/", hide, (request, reply) => {
    void reply
      .header("content-security-policy", CONSOLE_CSP)
      .header("cache-control", "no-cache")
      .header("etag", etag);
    if (request.headers["if-none-match"] === etag) return reply.code(304).send();
    return reply.type("text/html; charset=utf-8").send(page);
  });
  app.get("/console/assets/:digest/*", hide, (request, reply) => {
    const params = request.params as { digest: string; "*": string };
    const asset = assets.get(params["*"]);
    if (asset === undefined || params.digest !== digest) {
      // An old page asking for files of another version: reloading it gets this one's.
      return reply.code(404).header("cache-control", "no-store").send({
        code: "GENLOG_E_NOT_FOUND",
        message: "no such console file (reload the page)",
        details: {},
      });
    }
    return reply
      .header("content-security-policy", CONSOLE_CSP)
      .header("cache-control", "public, max-age=31536000, immutable")
      .type(asset.type)
      .send(asset.body);
  });
}
