/** Writes docs/reference/http.md from the server's OpenAPI document (`npm run docs:http`). */
import { writeFileSync } from "node:fs";
import { openApiDocument, renderHttpReference } from "./http-reference.js";

const page = renderHttpReference(await openApiDocument());
writeFileSync(new URL("../docs/reference/http.md", import.meta.url), page);
