/**
 * docs/reference/http.md from the server's own OpenAPI document: `npm run docs:http` writes
 * it, and test/server/http-reference.test.ts fails when the page and the routes disagree.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLog } from "../src/index.js";
import { buildServer } from "../src/server/app.js";
import { httpStatusOf } from "../src/server/http-errors.js";
import { ERROR_CODES, type ErrorCode } from "../src/errors.js";

interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  description?: string;
  schema?: Record<string, unknown>;
}
interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
}
interface OpenApi {
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Record<string, unknown>> };
}

/** The OpenAPI document of a server over an empty, temporary data directory. */
export async function openApiDocument(): Promise<OpenApi> {
  const dir = mkdtempSync(join(tmpdir(), "genlog-openapi-"));
  try {
    const log = await openLog({ dataDir: dir });
    const app = await buildServer({ log, logger: false });
    try {
      await app.ready();
      return JSON.parse(JSON.stringify(app.swagger())) as OpenApi;
    } finally {
      await app.close();
      await log.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TAGS: [string, string][] = [
  ["events", "Events"],
  ["proofs", "Checkpoints, proofs and verify"],
  ["subjects", "Subjects and legal holds"],
  ["reports", "Access log and reports"],
  ["admin", "Administration"],
  ["session", "Session"],
];

/** The page. */
export function renderHttpReference(doc: OpenApi): string {
  const out: string[] = [
    "# HTTP API reference",
    "",
    "<!-- Generated from the server's OpenAPI document by `npm run docs:http`; do not edit by hand. -->",
    "",
    "`genlog serve` (or `genlog demo`) serves this API. The OpenAPI 3.1 document is at",
    "`/openapi.json` and a browsable UI at `/docs`; the [client](library.md#http-client-genlogclient)",
    "`genlog/client` and the [Python client](../../clients/python/README.md) call it.",
    "",
    "## Conventions",
    "",
    "- **Authentication**: every `/v1` request sends `Authorization: Bearer <token>`, a token made",
    "  by `genlog token create` (see the [access-control guide](../guides/access-control.md)).",
    "  Without one, or with one unknown, expired or revoked: `401` and",
    "  `WWW-Authenticate: Bearer`. `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/docs`",
    "  and the web console's files under `/console/` (see the [console guide](../guides/console.md))",
    "  need none.",
    "- **Tenant**: a request's tenant is the `{tenant}` of its path. A body that names another",
    "  is refused (`400`, pointer `/tenant`), never obeyed.",
    "- **Purpose**: `X-Genlog-Purpose: <why>` (at most 200 printable characters) is recorded",
    "  with the access.",
    "- **Access log**: every request that reads, exports, proves, erases or administers,",
    "  allowed or denied, is appended to the tenant's access log before the answer is sent; if",
    "  it cannot be, the request fails.",
    "- **Idempotency**: `POST events` with `Idempotency-Key: <key>` gives the events ids derived",
    "  from the key and their position; the same request again answers `200` with the first",
    "  records instead of logging twice.",
    '- **Errors**: `{"code", "message", "details"}`, with the codes of the',
    "  [error reference](errors.md); `details.pointer` names a bad field. `429` and `503`",
    "  carry `Retry-After`.",
    "- **Limits**: bodies up to 1 MiB (`--body-limit`), batches up to 1000 events",
    "  (`--max-batch`), 60,000 requests a minute per token (`--rate-limit`); an overloaded",
    "  server answers `503` with `Retry-After`. A body past the limit is `413` with",
    '  `GENLOG_E_INVALID_INPUT`, and `GENLOG_E_KEY` with `details.reason: "rotated"` (another',
    "  process rotated the tenant's key; the server loads the new one) is `503` with",
    "  `Retry-After`; the table gives the status of each code otherwise.",
    "",
    "| Code | HTTP |",
    "| ---- | ---- |",
    ...(Object.keys(ERROR_CODES) as ErrorCode[]).map((c) => `| \`${c}\` | ${httpStatusOf(c)} |`),
    "",
    "## Routes",
    "",
    "| Method | Path | Permission | What |",
    "| ------ | ---- | ---------- | ---- |",
  ];
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
  );
  const permissionOf = (op: Operation) =>
    /Permission: `([a-z.]+)`/.exec(op.description ?? "")?.[1] ?? "";
  for (const { path, method, op } of ops) {
    out.push(`| ${method} | \`${path}\` | \`${permissionOf(op)}\` | ${op.summary ?? ""} |`);
  }
  for (const [tag, title] of TAGS) {
    out.push("", `## ${title}`);
    for (const { path, method, op } of ops.filter((o) => o.op.tags?.includes(tag))) {
      out.push("", `### \`${method} ${path}\``, "", op.summary ?? "", "");
      const description = (op.description ?? "").replace(/\n\nPermission: `[a-z.]+`\.$/, "");
      if (description !== op.summary) out.push(description, "");
      out.push(`Permission: \`${permissionOf(op)}\`.`);
      const params = (op.parameters ?? []).filter((p) => !(p.in === "path" && p.name === "tenant"));
      if (params.length > 0) {
        out.push(
          "",
          "| Parameter | In | Type | Description |",
          "| --------- | -- | ---- | ----------- |",
        );
        for (const p of params) {
          out.push(
            `| \`${p.name}\`${p.required === true ? " (required)" : ""} | ${p.in} | ${typeOf(p.schema)} | ${(p.description ?? "").replace(/\|/g, "\\|")} |`,
          );
        }
      }
      const body = op.requestBody?.content["application/json"]?.schema;
      if (body !== undefined) out.push("", `Body: ${bodyOf(body)}.`);
    }
  }
  out.push(
    "",
    "## Operations",
    "",
    '- `GET /healthz`: `{"ok": true}` while the process runs.',
    '- `GET /readyz`: `{"ok": true}` when the store answers, else `503`.',
    "- `GET /metrics`: Prometheus text: `genlog_http_requests_total{route,method,status}`,",
    "  `genlog_events_appended_total`, `genlog_append_batch_size`, `genlog_append_seconds`,",
    "  `genlog_proof_seconds{kind}`, `genlog_denials_total{reason}`,",
    "  `genlog_hook_failures_total`; the followers `genlog serve` runs:",
    "  `genlog_follower_records_total{outcome}` (delivered, skipped, failed, dead_letter),",
    "  `genlog_followers`, `genlog_follower_lag_records`, `genlog_followers_retrying`,",
    "  `genlog_followers_disabled`, `genlog_follower_dead_letters`; and the process metrics",
    "  (`genlog_process_…`). No label carries a tenant, a principal or a token.",
    "- `GET /openapi.json`, `GET /docs`: this API, as OpenAPI 3.1 and as a UI.",
    "",
  );
  return out.join("\n");
}

function typeOf(schema: Record<string, unknown> | undefined): string {
  if (schema === undefined) return "";
  if (Array.isArray(schema["anyOf"])) {
    const values = (schema["anyOf"] as Record<string, unknown>[]).flatMap((s) =>
      Array.isArray(s["enum"]) ? (s["enum"] as string[]) : [],
    );
    if (values.length > 0) return values.map((v) => `\`${v}\``).join(", ");
  }
  const parts = [String(schema["type"] ?? "")];
  if (schema["pattern"] !== undefined)
    parts.push(`\`${String(schema["pattern"]).replace(/\|/g, "\\|")}\``);
  if (schema["minimum"] !== undefined) parts.push(`≥ ${String(schema["minimum"])}`);
  if (schema["maximum"] !== undefined) parts.push(`≤ ${String(schema["maximum"])}`);
  if (schema["maxLength"] !== undefined) parts.push(`≤ ${String(schema["maxLength"])} chars`);
  return parts.join(", ");
}

function bodyOf(schema: Record<string, unknown>): string {
  if (schema["x-validated-by"] === "library") {
    return "one event or an array of events, as the [input schema](../../schema/generation-event.schema.json) defines them (checked by the library, with its messages)";
  }
  const props = (schema["properties"] ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((schema["required"] ?? []) as string[]);
  const fields = Object.entries(props).map(
    ([name, p]) =>
      `\`${name}\`${required.has(name) ? "" : "?"} (${typeOf(p)}${p["description"] ? `: ${String(p["description"])}` : ""})`,
  );
  return fields.length === 0 ? "a JSON object" : `a JSON object: ${fields.join("; ")}`;
}
