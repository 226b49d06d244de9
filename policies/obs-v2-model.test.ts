/**
 * An obs-v2 model end to end (issue 17): a tiny PPO run with `codec: obs-v2` exports a model
 * whose ONNX input, metadata and card name obs-v2; the rl policy takes the codec from the
 * card, so the loop feeds it 25-float states on the simulator (and a scenario run hands it
 * the deployment's capacity); the agent service serves it (25 floats in, 9 refused with 422
 * naming `state`), and an obs-v1 client of that service is refused.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTraining } from "../harness/cli-train.ts";
import { Action, type Policy } from "../harness/core/contract.ts";
import { guardLimitsSchema } from "../harness/core/guard.ts";
import { generateSchedule } from "../harness/core/schedule.ts";
import { deploymentCapacityRps } from "../harness/episode.ts";
import { runEpisode, type StepRecord } from "../harness/loop.ts";
import { scenarioSchema } from "../scenarios/schema.ts";
import { SimBackend } from "../sim/backend.ts";
import { createPolicy, preparePolicy } from "./index.ts";
import { parseModelCard } from "./model-card.ts";
import { OBS_V2 } from "./obs-v2.ts";
import { loadOnnxModel, ModelErrorCode, type OnnxPolicyModel } from "./onnx-model.ts";
import { importOnnx } from "./ppo/onnx-export.ts";
import { type PpoOptionsInput, ppoOptionsSchema } from "./ppo/options.ts";
import { buildAgentApp } from "./service/app.ts";
import { agentClient } from "./service/client.ts";
import { agentSchemas } from "./service/schemas.ts";
import { rlScenarioEpisode } from "./test-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "obs-v2-model-"));
const modelFile = join(dir, "ppo-obs-v2.onnx");
let model: OnnxPolicyModel;

/** 4 updates of 4 envs x 256 steps: about 4,000 steps, seconds. */
const SMALL: PpoOptionsInput = {
  codec: "obs-v2",
  threads: 1,
  nEnvs: 4,
  nSteps: 256,
  batchSize: 128,
  nEpochs: 2,
  totalTimesteps: 4 * 1024,
  episodeSteps: 50,
  db: null,
  progress: false,
  checkpointEvery: 0,
};

function options(over: PpoOptionsInput = {}) {
  return ppoOptionsSchema.parse({ ...SMALL, checkpointDir: join(dir, "ck"), out: modelFile, overwrite: true, ...over });
}

beforeAll(async () => {
  const r = await runTraining({ options: options(), skipEvaluation: true, log: () => {} });
  expect(r.status).toBe("completed");
  expect(r.modelPath).toBe(modelFile);
  await r.trainer.close();
  model = await loadOnnxModel(modelFile, { requireCard: true });
}, 240_000);

afterAll(async () => {
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A state of the simulator's first observation, as obs-v2 encodes it (for the service). */
const STATE_V2 = [
  0.3, 0, 0, 0, 0, 0.3, 0.3, 0.3, 0.05, 0, 1, 0.3, 0.09, 0.05, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
] as const;
const STATE_V1 = [0.3, 0, 0, 0.3, 0.3, 0.05, 0, 1, 0.3] as const;

describe("training an obs-v2 policy", () => {
  it("exports a model whose input, metadata and card name obs-v2 (25 floats)", () => {
    const card = parseModelCard(JSON.parse(readFileSync(join(dir, "ppo-obs-v2.json"), "utf8")));
    expect(card.success).toBe(true);
    if (!card.success) return;
    expect(card.card).toMatchObject({ codec: "obs-v2", obsDim: 25, inputs: [{ name: "obs", shape: ["batch", 25] }] });
    expect((card.card.training.options as { codec: string }).codec).toBe("obs-v2");
    const back = importOnnx(readFileSync(modelFile));
    expect(back.codec).toBe("obs-v2");
    expect(back.spec.obsDim).toBe(25);
    expect(model.codec.name).toBe("obs-v2");
    expect(model.io.input.shape).toEqual(["batch", 25]);
  });

  it("is seeded on obs-v2 too, and a run resumed from a checkpoint continues exactly", async () => {
    const tiny = { nEnvs: 2, nSteps: 64, batchSize: 32, totalTimesteps: 3 * 128, episodeSteps: 30 };
    const whole = await runTraining({
      options: options({ ...tiny, out: join(dir, "whole.onnx") }),
      skipEvaluation: true,
      log: () => {},
    });
    const again = await runTraining({
      options: options({ ...tiny, out: join(dir, "again.onnx") }),
      skipEvaluation: true,
      log: () => {},
    });
    const controller = new AbortController();
    const first = await runTraining({
      options: options({ ...tiny, out: join(dir, "first.onnx") }),
      signal: controller.signal,
      onUpdate: () => controller.abort(),
      skipEvaluation: true,
      log: () => {},
    });
    expect(first.status).toBe("interrupted");
    const resumed = await runTraining({
      resume: first.lastCheckpoint!,
      overrides: { out: join(dir, "resumed.onnx") },
      skipEvaluation: true,
      log: () => {},
    });
    const bytes = (p: Float32Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    expect(bytes(again.trainer.net.params).equals(bytes(whole.trainer.net.params))).toBe(true);
    expect(bytes(resumed.trainer.net.params).equals(bytes(whole.trainer.net.params))).toBe(true);
    // The rollout state after resuming (obs-v2 trends included) is the uninterrupted run's.
    expect(Array.from(resumed.trainer.vec.obs)).toEqual(Array.from(whole.trainer.vec.obs));
    for (const r of [whole, again, first, resumed]) await r.trainer.close();
  }, 120_000);
});

describe("the rl policy with an obs-v2 model", () => {
  it("names the card's codec, and the loop feeds its decisions 25-float obs-v2 states on the simulator", async () => {
    const params = { model: modelFile };
    await preparePolicy("rl", params);
    const ctx = {
      seed: 5,
      limits: guardLimitsSchema.parse({}),
      stepSeconds: 10,
      slo: { latencyMs: 300, errorRate: 0.01 },
    };
    const rl = createPolicy("rl", params, ctx);
    expect(rl.codec).toBe("obs-v2");
    const fed: number[] = [];
    const seen: Float32Array[] = [];
    const policy: Policy = {
      name: "rl",
      codec: rl.codec!,
      decide: (state, snapshot, signal) => {
        fed.push(state.length);
        seen.push(state.slice());
        return rl.decide(state, snapshot, signal);
      },
    };
    const steps: Pick<StepRecord, "codec" | "confidence" | "reason">[] = [];
    const result = await runEpisode(
      {
        backend: new SimBackend({ seed: 5 }),
        policy,
        fallback: null,
        schedule: generateSchedule({
          faults: [{ type: "pod-failure" }],
          frequency: { kind: "fixed", intervalS: 100 },
          episodeSeconds: 300,
          seed: 5,
        }),
        steps: 30,
        stepSeconds: 10,
        codec: { maxReplicas: 10, episodeSeconds: 300, podCapacityRps: 100 },
        limits: guardLimitsSchema.parse({}),
        slo: { latencyMs: 300, errorRate: 0.01 },
        confirmWindowS: 30,
      },
      { onStep: (r) => void steps.push({ codec: r.codec, confidence: r.confidence, reason: r.reason }) },
    );
    expect(result.status).toBe("completed");
    expect(fed).toHaveLength(30);
    expect(fed.every((n) => n === OBS_V2.dim)).toBe(true);
    // Trends (slots 15..24) come alive after the first observation: these are obs-v2 vectors, not obs-v1 padded.
    expect(seen.slice(1).some((v) => v.slice(15).some((x) => x !== 0))).toBe(true);
    expect(new Set(steps.map((s) => s.codec))).toEqual(new Set([2]));
    // The model decided every step (the policy never fell back): its confidence is a probability > 0.
    expect(steps.every((s) => s.confidence > 0 && s.reason !== "PolicyUnavailable")).toBe(true);
  });

  it("runs in a scenario on the simulator, which hands the codec the deployment's capacity", async () => {
    const out = await rlScenarioEpisode(modelFile);
    expect(out.error).toBeNull();
    expect(out.status).toBe("completed");
    const conf = out.trace.columns.confidence.subarray(0, out.trace.length);
    expect(conf.length).toBe(20);
    expect(conf.every((c) => c > 0)).toBe(true);
  });

  it("refuses a `codec` pin the card does not name (CodecMismatch)", async () => {
    await expect(preparePolicy("rl", { model: modelFile, codec: "obs-v1" })).rejects.toMatchObject({
      code: ModelErrorCode.CodecMismatch,
      message: expect.stringContaining('read codec "obs-v1"'),
    });
  });
});

describe("a cluster's capacity", () => {
  it("is the scenario's cluster.podCapacityRps, and nothing when the scenario states none", () => {
    const cluster = {
      namespace: "demo",
      deployment: "demo",
      service: "demo",
      prometheusUrl: "http://127.0.0.1:9090",
      allowedNamespaces: ["demo"],
    };
    const base = {
      name: "cap",
      backend: "cluster",
      seeds: [1],
      matrix: { fault: ["pod-kill"], frequency: { f: { kind: "fixed", intervalS: 60 } }, policy: ["none"] },
    };
    const stated = scenarioSchema.parse({ ...base, cluster: { ...cluster, podCapacityRps: 120 } });
    expect(deploymentCapacityRps(stated)).toBe(120);
    expect(deploymentCapacityRps(scenarioSchema.parse({ ...base, cluster }))).toBeUndefined();
  });
});

describe("the agent service with an obs-v2 model", () => {
  const post = (app: Awaited<ReturnType<typeof buildAgentApp>>, url: string, body: unknown) =>
    app.inject({ method: "POST", url, payload: JSON.stringify(body), headers: { "content-type": "application/json" } });

  it("decides 25-float states, names obs-v2 in every reply, and refuses 9 floats with 422 naming `state`", async () => {
    const app = await buildAgentApp({ model });
    const schemas = agentSchemas("obs-v2");
    try {
      const ok = await post(app, "/predict", { state: STATE_V2 });
      expect(ok.statusCode).toBe(200);
      const body = schemas.predictResponseSchema.parse(ok.json());
      expect(body.model).toEqual({ sha256: model.sha256, codec: "obs-v2" });
      expect(body.action).toBe((await model.decide(Float32Array.from(STATE_V2))).action);

      const short = await post(app, "/predict", { state: STATE_V1 });
      expect(short.statusCode).toBe(422);
      expect(short.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(short.json().errors.map((e: { field: string }) => e.field)).toContain("state");

      const batch = await post(app, "/predict/batch", { states: [STATE_V2, STATE_V2] });
      expect(schemas.predictBatchResponseSchema.parse(batch.json()).decisions).toHaveLength(2);
      const mixed = await post(app, "/predict/batch", { states: [STATE_V2, STATE_V1] });
      expect(mixed.statusCode).toBe(422);
      expect(mixed.json().errors.map((e: { field: string }) => e.field)).toEqual(["states[1]"]);

      const m = schemas.modelResponseSchema.parse((await app.inject({ url: "/model" })).json());
      expect(m.codec).toBe("obs-v2");
      expect((m.card as { codec: string }).codec).toBe("obs-v2");

      const doc = (await app.inject({ url: "/openapi.json" })).json();
      const state = doc.paths["/predict"].post.requestBody.content["application/json"].schema.properties.state;
      expect(state).toMatchObject({ type: "array", minItems: 25, maxItems: 25 });
    } finally {
      await app.close();
    }
  });

  it("explains with obs-v2's 25 feature names; sampled attributions still sum to output - base", async () => {
    const app = await buildAgentApp({ model });
    try {
      const incident: number[] = [...STATE_V2];
      incident[2] = 0.1; // a crashed pod
      incident[9] = 0.08; // errors
      incident[11] = 1.6; // load over what the serving pods can take
      const res = await post(app, "/explain", { state: incident });
      expect(res.statusCode).toBe(200);
      const e = agentSchemas("obs-v2").explainResponseSchema.parse(res.json());
      expect(e.attributions.map((a) => a.feature)).toEqual([...OBS_V2.features]);
      expect(e.method).toMatch(/^sampled: \d+ permutations/);
      expect(e.attributions.reduce((s, a) => s + a.phi, 0)).toBeCloseTo(e.output - e.base, 5);
      // Features equal in the state and the background are given exactly nothing.
      expect(e.attributions[20]!.phi).toBe(0);
      expect(e.background[0]).toHaveLength(25);
    } finally {
      await app.close();
    }
  });

  it("answers an obs-v2 client over HTTP and refuses an obs-v1 one (422, which the loop turns into its fallback)", async () => {
    const app = await buildAgentApp({ model });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const v2 = agentClient({ url, timeoutMs: 10_000, codec: "obs-v2" });
      const d = await v2(STATE_V2);
      expect(d.model.codec).toBe("obs-v2");
      expect(d.action).toBeGreaterThanOrEqual(Action.Noop);
      const v1 = agentClient({ url, timeoutMs: 10_000 });
      await expect(v1(STATE_V1)).rejects.toThrow(/HTTP 422/);
    } finally {
      await app.close();
    }
  });

  it("refuses to serve a pending model of another codec than the app's (ready stays 503)", async () => {
    const app = await buildAgentApp({ model: Promise.resolve(model) });
    try {
      const ready = await app.inject({ url: "/ready" });
      expect(ready.statusCode).toBe(503);
      const res = await post(app, "/predict", { state: STATE_V1 });
      expect(res.statusCode).toBe(500);
      expect(res.json().detail).toMatch(/Expected a model of codec "obs-v1".*got one of "obs-v2"/);
    } finally {
      await app.close();
    }
  });
});
