/**
 * Writes scenarios/scenario.schema.json from the zod schema in scenarios/schema.ts, for
 * editors (`# yaml-language-server: $schema=./scenario.schema.json`). A test fails when the
 * committed file is stale: run `npx tsx scripts/gen-scenario-schema.ts` after changing the
 * schema, or any schema it embeds (sim parameters, fault specs, policy parameters).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderScenarioJsonSchema } from "../scenarios/schema.ts";

const out = fileURLToPath(new URL("../scenarios/scenario.schema.json", import.meta.url));
writeFileSync(out, renderScenarioJsonSchema());
console.log(`wrote ${out}`);
