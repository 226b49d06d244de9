/** Writes policies/service/openapi.json from the agent service's routes and zod schemas (openapi.test.ts checks it). */
import { writeFileSync } from "node:fs";
import { agentOpenApiDocument, OPENAPI_FILE, renderAgentOpenApi } from "../policies/service/openapi.ts";

writeFileSync(OPENAPI_FILE, renderAgentOpenApi(await agentOpenApiDocument()));
console.log(`wrote ${OPENAPI_FILE}`);
