/**
 * The stacked codec `obs-v1-stack4` (obs-v1-stack.ts): its window order and start-up fill on
 * a simulator episode, against obs-v1 vectors encoded directly; and end to end, a tiny PPO
 * run that exports a 36-wide model the loop then feeds on the simulator (trace code 3).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runTraining } from "../harness/cli-train.ts";
import { codecByName } from "../harness/core/codecs.ts";
import { type CodecContext, encodeObsV1, OBS_V1 } from "../harness/core/contract.ts";
import { SimBackend } from "../sim/backend.ts";
import { OBS_V1_STACK4, STACK } from "./obs-v1-stack.ts";
import { loadOnnxModel } from "./onnx-model.ts";
import { ppoOptionsSchema } from "./ppo/options.ts";
import { rlScenarioEpisode } from "./test-helpers.ts";

const CTX: CodecContext = { maxReplicas: 10, episodeSeconds: 2000 };
const D = OBS_V1.dim;

const dir = mkdtempSync(join(tmpdir(), "obs-v1-stack-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("obs-v1-stack4", () => {
  it("is registered with trace code 3 and one feature name per float", () => {
    expect(codecByName("obs-v1-stack4")).toBe(OBS_V1_STACK4);
    expect(OBS_V1_STACK4).toMatchObject({ code: 3, dim: STACK * D });
    expect(new Set(OBS_V1_STACK4.features).size).toBe(STACK * D);
    expect(OBS_V1_STACK4.features.slice(0, D)).toEqual(OBS_V1.features);
  });

  it("lays out the last four obs-v1 vectors newest first, the oldest seen standing in for the missing past", () => {
    const backend = new SimBackend({ seed: 11 });
    const enc = OBS_V1_STACK4.create(CTX);
    const v1: Float32Array[] = [];
    const out = new Float32Array(OBS_V1_STACK4.dim);
    for (let t = 0; t < 8; t++) {
      const s = backend.observe();
      v1.push(encodeObsV1(s, CTX, new Float32Array(D)));
      enc.encode(s, out);
      for (let k = 0; k < STACK; k++) {
        // Observation t - k, or the episode's first one while fewer than k have passed.
        const want = v1[Math.max(0, t - k)]!;
        expect(Array.from(out.subarray(k * D, (k + 1) * D)), `step ${t}, slot ${k}`).toEqual(Array.from(want));
      }
      backend.execute(t % 3 === 0 ? 1 : 0);
    }
    // The simulator moved: the window holds different vectors, not one repeated.
    expect(Array.from(out.subarray(0, D))).not.toEqual(Array.from(out.subarray(3 * D)));
  });

  it("trains, exports a 36-wide model, and the loop feeds it stacked states on the simulator", async () => {
    const modelFile = join(dir, "stack.onnx");
    const options = ppoOptionsSchema.parse({
      codec: "obs-v1-stack4",
      threads: 1,
      nEnvs: 2,
      nSteps: 128,
      batchSize: 64,
      nEpochs: 1,
      totalTimesteps: 2 * 256,
      episodeSteps: 40,
      db: null,
      progress: false,
      checkpointEvery: 0,
      checkpointDir: join(dir, "ck"),
      out: modelFile,
    });
    const r = await runTraining({ options, skipEvaluation: true, log: () => {} });
    await r.trainer.close();
    expect(r.status).toBe("completed");
    const model = await loadOnnxModel(modelFile, { requireCard: true });
    try {
      expect(model.codec.name).toBe("obs-v1-stack4");
      expect(model.io.input.shape).toEqual(["batch", STACK * D]);
    } finally {
      await model.dispose();
    }
    const out = await rlScenarioEpisode(modelFile);
    expect(out.error).toBeNull();
    expect(out.status).toBe("completed");
    const codes = out.trace.columns.codec.subarray(0, out.trace.length);
    expect(codes.length).toBe(20);
    expect(codes.every((c) => c === 3)).toBe(true);
    // Every step decided by the model (a fallback would record confidence 0).
    expect(out.trace.columns.confidence.subarray(0, out.trace.length).every((c) => c > 0)).toBe(true);
  }, 120_000);
});
