/**
 * The agent service's OpenAPI 3 document as a file (`policies/service/openapi.json`), for
 * readers and client generators that do not run the service. It is what `GET /openapi.json`
 * serves, built the same way (fastify's routes with the zod schemas of schemas.ts through
 * @fastify/swagger), with the online-learning routes included (served only with
 * `--online`). `npx tsx scripts/gen-agent-openapi.ts` rewrites it; openapi.test.ts checks
 * that it has not drifted from the routes and schemas the service serves.
 */
import { fileURLToPath } from "node:url";
import type { OnnxPolicyModel } from "../onnx-model.ts";
import { buildAgentApp } from "./app.ts";

export const OPENAPI_FILE = fileURLToPath(new URL("./openapi.json", import.meta.url));

/** The served document, with the online routes; no model is loaded (the document does not depend on one). */
export async function agentOpenApiDocument(options: { online?: boolean } = {}): Promise<Record<string, unknown>> {
  // A model that never loads: routes and schemas do not depend on the model, and without it
  // the online updater is never opened, so nothing is read or written.
  const never = new Promise<OnnxPolicyModel>(() => {});
  const app = await buildAgentApp({
    model: never,
    ...(options.online === false
      ? {}
      : { online: { dir: "/nonexistent-never-opened", jobEntry: new URL("file:///never-started.mjs") } }),
  });
  try {
    const res = await app.inject({ url: "/openapi.json" });
    return res.json() as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

export function renderAgentOpenApi(doc: Record<string, unknown>): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
