import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../../harness/cli-errors.ts";
import { ACTION_NAMES, OBS_V1 } from "../../harness/core/contract.ts";
import { createPolicy, preparePolicy } from "../index.ts";
import { loadOnnxModel, ModelError, ModelErrorCode, type OnnxPolicyModel } from "../onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../rl.ts";
import { steadySnapshot, testContext } from "../test-helpers.ts";
import { buildAgentApp } from "./app.ts";
import { serve } from "./cli.ts";
import { PROBLEM_MEDIA_TYPE } from "./problem.ts";
import {
  MAX_BATCH_STATES,
  predictBatchResponseSchema,
  predictResponseSchema,
  problemSchema,
  readyResponseSchema,
} from "./schemas.ts";

const quiet = { logger: { warn: () => {} } };
const GOOD = [0.3, 0, 0, 0.5, 0.3, 0.05, 0, 1, 0.3];

function seededStates(n: number, seed: number): number[][] {
  const rng = xoroshiro128plus(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: OBS_V1.dim }, () => Math.fround((rng.next() >>> 0) / 0x1_0000_0000)),
  );
}

let model: OnnxPolicyModel;
let app: FastifyInstance;

beforeAll(async () => {
  model = await loadOnnxModel(resolveModelPath(DEFAULT_MODEL), quiet);
  app = await buildAgentApp({ model });
});
afterAll(async () => {
  await app?.close();
  await model?.dispose();
});

async function post(url: string, payload: string, contentType = "application/json") {
  return app.inject({ method: "POST", url, payload, headers: { "content-type": contentType } });
}

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers["content-type"]).split(";")[0]).toBe(PROBLEM_MEDIA_TYPE);
  const p = problemSchema.parse(JSON.parse(res.body));
  expect(p.status).toBe(status);
  return p;
}

describe("agent service: decisions", () => {
  it("POST /predict answers a decision in the published schema, from the served model", async () => {
    const res = await post("/predict", JSON.stringify({ state: GOOD }));
    expect(res.statusCode).toBe(200);
    const body = predictResponseSchema.parse(res.json());
    expect(body.actionName).toBe(ACTION_NAMES[body.action]);
    expect(body.model).toEqual({ sha256: model.sha256, codec: "obs-v1" });
    expect(body.probs!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(body.confidence).toBe(body.probs![body.action]);
  });

  it("decides as the in-process rl policy does, state by state and batched", async () => {
    const states = seededStates(300, 15);
    await preparePolicy("rl", {}, quiet);
    const policy = createPolicy("rl", {}, testContext);
    const snapshot = steadySnapshot();
    const local: number[] = [];
    for (const s of states) local.push((await policy.decide(Float32Array.from(s), snapshot)).action);
    // The model is not constant on these states, or the comparison would prove little.
    expect(new Set(local).size).toBeGreaterThan(1);

    const single: number[] = [];
    for (const state of states)
      single.push(predictResponseSchema.parse((await post("/predict", JSON.stringify({ state }))).json()).action);
    expect(single).toEqual(local);

    const batch = predictBatchResponseSchema.parse((await post("/predict/batch", JSON.stringify({ states }))).json());
    expect(batch.decisions.map((d) => d.action)).toEqual(local);
  });

  it("answers concurrent requests each with its own state's decision", async () => {
    const states = seededStates(64, 7);
    const expected = (await model.decideBatch(Float32Array.from(states.flat()), states.length)).actions;
    const got = await Promise.all(
      states.map(
        async (state) => predictResponseSchema.parse((await post("/predict", JSON.stringify({ state }))).json()).action,
      ),
    );
    expect(got).toEqual(Array.from(expected));
  });
});

describe("agent service: bad input never reaches the model", () => {
  const cases: [string, string, string][] = [
    ["too few numbers", JSON.stringify({ state: GOOD.slice(0, 8) }), "state"],
    ["too many numbers", JSON.stringify({ state: [...GOOD, 0] }), "state"],
    ["a string among the numbers", JSON.stringify({ state: [0.3, 0, 0, "0.5", 0.3, 0.05, 0, 1, 0.3] }), "state[3]"],
    ["a null among the numbers", JSON.stringify({ state: [0.3, 0, 0, 0.5, null, 0.05, 0, 1, 0.3] }), "state[4]"],
    // JSON.parse reads 1e999 as Infinity: the schema, not the parser, refuses it.
    ["Infinity (1e999)", '{"state":[0.3,0,0,0.5,0.3,0.05,0,1e999,0.3]}', "state[7]"],
    ["-Infinity (-1e999)", '{"state":[-1e999,0,0,0.5,0.3,0.05,0,1,0.3]}', "state[0]"],
    ["no state", JSON.stringify({}), "state"],
    ["state not an array", JSON.stringify({ state: "0.3,0,0" }), "state"],
    ["an unknown key", JSON.stringify({ state: GOOD, extra: 1 }), "body"],
    ["a body that is an array", JSON.stringify([GOOD]), "body"],
  ];
  for (const [name, payload, field] of cases) {
    it(`POST /predict with ${name} is 422 naming \`${field}\``, async () => {
      const p = expectProblem(await post("/predict", payload), 422);
      expect(p.errors!.map((e) => e.field)).toContain(field);
      expect(p.instance).toBe("/predict");
    });
  }

  it("POST /predict with NaN (not JSON) is 400 malformed body", async () => {
    const p = expectProblem(await post("/predict", '{"state":[NaN,0,0,0.5,0.3,0.05,0,1,0.3]}'), 400);
    expect(p.errors![0]!.field).toBe("body");
  });

  it("POST /predict with an empty JSON body is 400", async () => {
    expectProblem(await post("/predict", ""), 400);
  });

  it("POST /predict as text/plain is 415", async () => {
    const p = expectProblem(await post("/predict", JSON.stringify({ state: GOOD }), "text/plain"), 415);
    expect(p.errors![0]!.field).toBe("content-type");
  });

  it("POST /predict/batch names the bad state and number", async () => {
    const states = [GOOD, GOOD, [0.3, 0, 0, 0.5, 0.3, 0.05, 0, "x", 0.3]];
    const p = expectProblem(await post("/predict/batch", JSON.stringify({ states })), 422);
    expect(p.errors!.map((e) => e.field)).toEqual(["states[2][7]"]);
  });

  it(`POST /predict/batch with more than ${MAX_BATCH_STATES} states is 422 naming \`states\``, async () => {
    const states = Array.from({ length: MAX_BATCH_STATES + 1 }, () => [0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const p = expectProblem(await post("/predict/batch", JSON.stringify({ states })), 422);
    expect(p.errors!.map((e) => e.field)).toEqual(["states"]);
  });

  it("POST /predict/batch with no states is 422", async () => {
    expectProblem(await post("/predict/batch", JSON.stringify({ states: [] })), 422);
  });

  it("a body over the size limit is 413 before it is parsed", async () => {
    const small = await buildAgentApp({ model, bodyLimit: 100, metrics: undefined });
    try {
      const res = await small.inject({
        method: "POST",
        url: "/predict",
        payload: JSON.stringify({ state: GOOD, pad: "x".repeat(200) }),
        headers: { "content-type": "application/json" },
      });
      const p = expectProblem(res, 413);
      expect(p.errors![0]!.field).toBe("body");
    } finally {
      await small.close();
    }
  });

  it("an unknown route is 404 problem details", async () => {
    const p = expectProblem(await app.inject({ method: "GET", url: "/predictions" }), 404);
    expect(p.detail).toBe("No route GET /predictions");
    expectProblem(await app.inject({ method: "GET", url: "/predict" }), 404);
  });

  it("no refused request was counted as a decision", async () => {
    const fresh = await buildAgentApp({ model });
    try {
      await fresh.inject({ method: "POST", url: "/predict", payload: { state: [1, 2] } });
      await fresh.inject({ method: "POST", url: "/predict/batch", payload: { states: [[1, 2]] } });
      const text = (await fresh.inject({ url: "/metrics" })).body;
      expect(text).not.toMatch(/^agent_decisions_total\{/m);
      expect(text).toMatch(/^agent_request_duration_seconds_count\{method="POST",route="\/predict",status="422"\} 1$/m);
    } finally {
      await fresh.close();
    }
  });
});

describe("agent service: health, readiness, model, metrics, OpenAPI", () => {
  it("/ready is 503 while the model loads and 200 once it has", async () => {
    let release!: (m: OnnxPolicyModel) => void;
    const pending = new Promise<OnnxPolicyModel>((resolve) => {
      release = resolve;
    });
    const loading = await buildAgentApp({ model: pending });
    try {
      expect((await loading.inject({ url: "/health" })).json()).toEqual({ status: "ok" });
      const before = await loading.inject({ url: "/ready" });
      expect(before.statusCode).toBe(503);
      expect(readyResponseSchema.parse(before.json()).ready).toBe(false);
      release(model);
      await pending;
      const after = await loading.inject({ url: "/ready" });
      expect(after.statusCode).toBe(200);
      expect(readyResponseSchema.parse(after.json()).model?.sha256).toBe(model.sha256);
    } finally {
      await loading.close();
    }
  });

  it("/model returns the card of the served model", async () => {
    const body = (await app.inject({ url: "/model" })).json();
    const card = JSON.parse(readFileSync(resolveModelPath("models/ppo-obs-v1.json"), "utf8"));
    expect(body.card.sha256).toBe(card.sha256);
    expect(body.sha256).toBe(model.sha256);
    expect(body.codec).toBe("obs-v1");
  });

  it("/metrics counts decisions by action and labels the model", async () => {
    const fresh = await buildAgentApp({ model });
    try {
      const res = await fresh.inject({
        method: "POST",
        url: "/predict/batch",
        payload: { states: [GOOD, GOOD, GOOD] },
      });
      const action = predictBatchResponseSchema.parse(res.json()).decisions[0]!.actionName;
      const text = (await fresh.inject({ url: "/metrics" })).body;
      expect(text).toMatch(new RegExp(`^agent_decisions_total\\{action="${action}"\\} 3$`, "m"));
      expect(text).toContain(`agent_model_info{sha256="${model.sha256}",codec="obs-v1"`);
      expect(text).toMatch(
        /^agent_request_duration_seconds_bucket\{le="0.001",method="POST",route="\/predict\/batch",status="200"\}/m,
      );
    } finally {
      await fresh.close();
    }
  });

  it("/openapi.json documents every route with its request schema", async () => {
    const doc = (await app.inject({ url: "/openapi.json" })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/explain",
      "/health",
      "/metrics",
      "/model",
      "/predict",
      "/predict/batch",
      "/ready",
    ]);
    const state = doc.paths["/predict"].post.requestBody.content["application/json"].schema.properties.state;
    expect(state).toMatchObject({ type: "array", minItems: 9, maxItems: 9, items: { type: "number" } });
    expect(
      doc.paths["/predict/batch"].post.requestBody.content["application/json"].schema.properties.states.maxItems,
    ).toBe(MAX_BATCH_STATES);
  });

  it("/docs serves the API page from the package's own assets", async () => {
    const res = await app.inject({ url: "/docs/" });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers["content-type"])).toMatch(/^text\/html/);
    expect(res.body).toContain("swagger-ui");
    const json = await app.inject({ url: "/docs/json" });
    expect(json.json().paths["/predict"]).toBeDefined();
  });
});

describe("agent serve", () => {
  it("answers over a real socket on loopback", async () => {
    const real = await buildAgentApp({ model });
    try {
      const url = await real.listen({ port: 0, host: "127.0.0.1" });
      const res = await fetch(`${url}/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ state: GOOD }),
      });
      expect(res.status).toBe(200);
      expect(predictResponseSchema.parse(await res.json()).model.sha256).toBe(model.sha256);
      const missing = await fetch(`${url}/nope`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    } finally {
      await real.close();
    }
  });

  it("refuses a model whose card names another codec, in one line (exit 2)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-codec-"));
    const onnx = join(dir, "other.onnx");
    copyFileSync(resolveModelPath(DEFAULT_MODEL), onnx);
    const card = JSON.parse(readFileSync(resolveModelPath("models/ppo-obs-v1.json"), "utf8"));
    writeFileSync(join(dir, "other.json"), JSON.stringify({ ...card, file: "other.onnx", codec: "obs-v9" }));
    const err = await serve({ model: onnx, port: 0, host: "127.0.0.1" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe(ModelErrorCode.CodecMismatch);
    const { code, message } = failure(err);
    expect(code).toBe(2);
    expect(message).not.toContain("\n");
    expect(message).toContain('got "obs-v9"');
  });
});
