/** docs/reference/http.md is what the server's OpenAPI document says (`npm run docs:http`). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { format, resolveConfig } from "prettier";
import { openApiDocument, renderHttpReference } from "../../scripts/http-reference.js";

test("the HTTP reference is generated from the routes as they are", async () => {
  const path = new URL("../../docs/reference/http.md", import.meta.url);
  const config = (await resolveConfig(path.pathname)) ?? {};
  const expected = await format(renderHttpReference(await openApiDocument()), {
    ...config,
    parser: "markdown",
  });
  assert.equal(readFileSync(path, "utf8"), expected, "run `npm run docs:http` and commit the page");
});
