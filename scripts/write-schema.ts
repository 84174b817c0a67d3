// Writes schema/generation-event.schema.json from the TypeBox schema the code validates with.
// Run with `npm run schema`; a test fails when the file and the code disagree.
import { writeFileSync } from "node:fs";
import { generationEventJsonSchema } from "../src/core/event-schema.js";

const target = new URL("../schema/generation-event.schema.json", import.meta.url);
writeFileSync(target, JSON.stringify(generationEventJsonSchema(), null, 2) + "\n");
console.log(`wrote ${target.pathname}`);
