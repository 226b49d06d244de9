/** Writes harness/controller/config.schema.json from the controller config's zod schema (config.test.ts checks it). */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderControllerJsonSchema } from "../harness/controller/config.ts";

const out = fileURLToPath(new URL("../harness/controller/config.schema.json", import.meta.url));
writeFileSync(out, renderControllerJsonSchema());
console.log(`wrote ${out}`);
