import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadOnnxModel, type OnnxPolicyModel } from "../onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../rl.ts";
import { buildAgentApp } from "./app.ts";
import { agentOpenApiDocument, OPENAPI_FILE, renderAgentOpenApi } from "./openapi.ts";
import { PROBLEM_MEDIA_TYPE } from "./problem.ts";
import * as s from "./schemas.ts";

// biome-ignore lint/suspicious/noExplicitAny: the test walks an OpenAPI document by path
type Json = Record<string, any>;

/** Every documented operation and the zod schemas it must carry: those clients import from schemas.ts. */
const OPERATIONS: Record<string, { body?: z.ZodType; responses: Record<string, z.ZodType> }> = {
  "POST /predict": { body: s.predictRequestSchema, responses: { 200: s.predictResponseSchema } },
  "POST /predict/batch": { body: s.predictBatchRequestSchema, responses: { 200: s.predictBatchResponseSchema } },
  "POST /explain": { body: s.explainRequestSchema, responses: { 200: s.explainResponseSchema } },
  "GET /health": { responses: { 200: s.healthResponseSchema } },
  "GET /ready": { responses: { 200: s.readyResponseSchema, 503: s.readyResponseSchema } },
  "GET /model": { responses: { 200: s.modelResponseSchema } },
  "GET /metrics": { responses: {} },
  "POST /update": { body: s.updateRequestSchema, responses: { 202: s.updateResponseSchema } },
  "GET /updates": { responses: { 200: s.updatesResponseSchema } },
  "POST /rollback": { responses: { 200: s.rollbackResponseSchema, 409: s.problemSchema } },
};

/** What @fastify/swagger's zod transform writes for a schema: zod's own OpenAPI 3.0 JSON Schema. */
function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "openapi-3.0", io }) as Json;
  return rest;
}

/** The routes an app serves, from fastify's route tree (`printRoutes`), as "METHOD /path". */
function servedRoutes(app: FastifyInstance): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const m = /^([│ ]*)[├└]── (.+?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join("");
    for (const method of m[3]!.split(", ")) if (method !== "HEAD") out.push(`${method} ${path}`);
  }
  return out.sort();
}

let doc: Json;
beforeAll(async () => {
  doc = await agentOpenApiDocument();
});

describe("policies/service/openapi.json", () => {
  it("is the document the service serves (npx tsx scripts/gen-agent-openapi.ts rewrites it)", () => {
    expect(readFileSync(OPENAPI_FILE, "utf8")).toBe(renderAgentOpenApi(doc));
  });

  it("documents every route the service serves, and no other", async () => {
    const app = await buildAgentApp({
      model: new Promise<OnnxPolicyModel>(() => {}),
      online: { dir: "/nonexistent-never-opened", jobEntry: new URL("file:///never-started.mjs") },
    });
    try {
      await app.ready();
      // The document itself and the docs page's assets are not part of the API.
      const served = servedRoutes(app).filter((r) => !/ \/(docs|openapi\.json)/.test(r));
      const documented = Object.entries(doc.paths as Json)
        .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
        .sort();
      expect(served.length).toBeGreaterThanOrEqual(10);
      expect(documented).toEqual(served);
      expect(documented).toEqual(Object.keys(OPERATIONS).sort());
    } finally {
      await app.close();
    }
  });

  it("carries exactly the zod schemas of schemas.ts for every body and response, and problem details for errors", () => {
    for (const [op, want] of Object.entries(OPERATIONS)) {
      const [method, path] = op.split(" ") as [string, string];
      const o = doc.paths[path][method.toLowerCase()];
      if (want.body) {
        expect(o.requestBody.content["application/json"].schema, `${op} request body`).toEqual(
          jsonSchemaOf(want.body, "input"),
        );
      } else expect(o.requestBody, `${op} has no body`).toBeUndefined();
      // Problem details under their own media type only (what sendProblem serves), the rest as JSON.
      const content = (schema: z.ZodType) => ({
        [schema === s.problemSchema ? PROBLEM_MEDIA_TYPE : "application/json"]: {
          schema: jsonSchemaOf(schema, "output"),
        },
      });
      for (const [status, schema] of Object.entries(want.responses)) {
        expect(o.responses[status].content, `${op} ${status}`).toEqual(content(schema));
      }
      if (want.body) {
        for (const status of ["400", "404", "413", "415", "422", "500"]) {
          expect(o.responses[status].content, `${op} ${status}`).toEqual(content(s.problemSchema));
        }
      }
    }
  });

  it("without --online, serves the same document minus the online-learning routes", async () => {
    const plain = await agentOpenApiDocument({ online: false });
    const { "/update": _u, "/updates": _us, "/rollback": _r, ...rest } = doc.paths as Json;
    expect(plain.paths).toEqual(rest);
  });
});

describe("replies of a real model validate against the committed document", () => {
  let model: OnnxPolicyModel;
  let app: FastifyInstance;
  const committed = JSON.parse(readFileSync(OPENAPI_FILE, "utf8")) as Json;
  // OpenAPI 3.0 schemas are JSON Schema with a few keywords of its own (none of which we use
  // to constrain): ajv without strict mode reads them.
  const ajv = new Ajv({ strict: false, allErrors: true });
  const check = (path: string, method: string, status: number, body: unknown) => {
    const schema = committed.paths[path][method].responses[String(status)].content["application/json"].schema;
    const validate = ajv.compile(schema);
    expect(validate(body), `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  };
  const GOOD = [0.3, 0, 0, 0.5, 0.3, 0.05, 0, 1, 0.3];

  beforeAll(async () => {
    model = await loadOnnxModel(resolveModelPath(DEFAULT_MODEL), { logger: { warn: () => {} } });
    app = await buildAgentApp({ model });
  });
  afterAll(async () => {
    await app?.close();
    await model?.dispose();
  });

  /**
   * A served error against what the committed document declares for its operation and status:
   * the reply's media type must be one the document lists for it, and the body must validate
   * against the schema listed under that media type.
   */
  const checkError = (path: string, method: string, res: { statusCode: number; headers: Json; body: string }) => {
    const where = `${method.toUpperCase()} ${path} ${res.statusCode}`;
    const declared = committed.paths[path]?.[method]?.responses?.[String(res.statusCode)];
    expect(declared, `${where} is not in the document`).toBeDefined();
    const media = String(res.headers["content-type"]).split(";")[0]!.trim();
    expect(Object.keys(declared.content), `${where}: served as ${media}`).toContain(media);
    const validate = ajv.compile(declared.content[media].schema);
    expect(validate(JSON.parse(res.body)), `${where}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  };

  it("every error it serves has the media type the document declares for it (400, 404, 413, 415, 422, 500)", async () => {
    const send = (a: FastifyInstance, url: string, payload: string, contentType = "application/json") =>
      a.inject({ method: "POST", url, payload, headers: { "content-type": contentType } });
    const small = await buildAgentApp({ model, bodyLimit: 100 });
    // A model that fails every decision: the service's 500.
    const broken = Object.create(model, {
      decideBatch: { value: () => Promise.reject(new Error("model failed on purpose")) },
    }) as OnnxPolicyModel;
    const failing = await buildAgentApp({ model: broken });
    try {
      for (const path of ["/predict", "/predict/batch", "/explain"]) {
        const served = [
          await send(app, path, "{not json"),
          await send(app, path, JSON.stringify({ state: [1, 2], states: [[1, 2]] })),
          await send(app, path, JSON.stringify({ state: GOOD }), "text/plain"),
          await send(small, path, JSON.stringify({ state: GOOD, pad: "x".repeat(200) })),
        ];
        expect(served.map((r) => r.statusCode)).toEqual([400, 422, 415, 413]);
        for (const res of served) checkError(path, "post", res);
      }
      const failed = await send(failing, "/predict", JSON.stringify({ state: GOOD }));
      expect(failed.statusCode).toBe(500);
      checkError("/predict", "post", failed);
      // An unknown route has no operation of its own: its 404 must match every declared 404.
      const missing = await app.inject({ method: "GET", url: "/predictions" });
      expect(missing.statusCode).toBe(404);
      const declares404 = Object.entries(committed.paths as Json).flatMap(([path, ops]) =>
        Object.entries(ops as Json)
          .filter(([, o]) => (o as Json).responses["404"])
          .map(([method]) => [path, method] as const),
      );
      expect(declares404.length).toBeGreaterThanOrEqual(3);
      for (const [path, method] of declares404) checkError(path, method, missing);
    } finally {
      await small.close();
      await failing.close();
    }
  });

  it("for decisions, explanations, health, readiness and the model", async () => {
    const post = (url: string, payload: unknown) => app.inject({ method: "POST", url, payload: payload as object });
    let res = await post("/predict", { state: GOOD });
    check("/predict", "post", 200, res.json());
    res = await post("/predict/batch", { states: [GOOD, GOOD] });
    check("/predict/batch", "post", 200, res.json());
    res = await post("/explain", { state: GOOD });
    check("/explain", "post", 200, res.json());
    for (const path of ["/health", "/ready", "/model"]) {
      res = await app.inject({ url: path });
      check(path, "get", 200, res.json());
    }
    // The check can fail: a reply missing a required field does not validate.
    const { action: _a, ...noAction } = (await post("/predict", { state: GOOD })).json() as Json;
    const validate = ajv.compile(committed.paths["/predict"].post.responses["200"].content["application/json"].schema);
    expect(validate(noAction)).toBe(false);
  });
});
