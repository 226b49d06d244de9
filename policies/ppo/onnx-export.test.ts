/**
 * ONNX round trip: the exported model, loaded by onnxruntime-node through the `rl` policy's
 * loader, gives the tfjs network's action probabilities within 1e-5 on 1,000 random states,
 * with and without observation normalisation inside the graph.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBS_V1 } from "../../harness/core/contract.ts";
import { writeModelCard } from "../model-card.ts";
import { loadOnnxModel, roundTrip } from "../onnx-model.ts";
import { initParams } from "./init.ts";
import { paramLayout } from "./mlp.ts";
import { RunningMeanStd } from "./obs-norm.ts";
import { EXPORT_INPUT, EXPORT_OUTPUTS, exportOnnx, importOnnx } from "./onnx-export.ts";
import { TrainRng } from "./rng.ts";
import { initTf } from "./tf-backend.ts";
import { tfForward } from "./tf-model.ts";

const dir = mkdtempSync(join(tmpdir(), "ppo-onnx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await initTf();
});

const spec = { obsDim: OBS_V1.dim, hidden: [64, 64], nActions: 5 };

/** Random weights with a sharper policy head than the init's, so probabilities are far from uniform. */
function weights(seed: number): Float32Array {
  const layout = paramLayout(spec);
  const p = new Float32Array(layout.size);
  const rng = new TrainRng(seed);
  initParams(p, layout, rng);
  const head = layout.actor[layout.actor.length - 1]!;
  for (let i = head.w; i < head.w + head.outDim * head.inDim; i++) p[i]! *= 200;
  for (let i = head.b; i < head.b + head.outDim; i++) p[i] = rng.normal();
  return p;
}

async function exported(name: string, params: Float32Array, obsNorm: RunningMeanStd | null) {
  const file = join(dir, `${name}.onnx`);
  writeFileSync(file, exportOnnx({ spec, params, obsNorm, obsClip: 10 }));
  writeModelCard(file, {
    inputs: [EXPORT_INPUT],
    outputs: [...EXPORT_OUTPUTS],
    training: {},
    seed: 1,
    steps: 0,
    wallTimeS: 0,
    evaluation: {},
  });
  return loadOnnxModel(file, { requireCard: true });
}

describe("ONNX export", () => {
  it("onnxruntime's probabilities equal tfjs's within 1e-5 on 1,000 random states", async () => {
    const params = weights(1);
    const model = await exported("plain", params, null);
    const r = await roundTrip(model, (states, n) => tfForward(spec, params, states, n).probs);
    expect(r.samples).toBe(1000);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(r.sameAction).toBeGreaterThanOrEqual(995);
    expect(model.warnings).toEqual([]);
  });

  it("applies the observation normalisation inside the graph", async () => {
    const params = weights(2);
    const rms = new RunningMeanStd(OBS_V1.dim);
    const rng = new TrainRng(3);
    const batch = Float32Array.from({ length: 50 * OBS_V1.dim }, () => rng.uniform() * 2);
    rms.update(batch, 50);
    const model = await exported("norm", params, rms);
    const r = await roundTrip(model, (states, n) => {
      const x = new Float32Array(states.length);
      rms.normalize(states, n, 10, x);
      return tfForward(spec, params, x, n).probs;
    });
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5);
  });

  it("takes a dynamic batch and returns the value head", async () => {
    const params = weights(4);
    const model = await exported("batch", params, null);
    const states = Float32Array.from({ length: 7 * OBS_V1.dim }, (_, i) => (i % 11) / 10);
    const out = await model.decideBatch(states, 7);
    const ref = tfForward(spec, params, states, 7);
    expect(out.value).not.toBeNull();
    for (let i = 0; i < 7; i++) expect(out.value![i]).toBeCloseTo(ref.values[i]!, 4);
  });
});

describe("importOnnx", () => {
  it("reads back the shape, the parameters and the observation statistics it exported", () => {
    const params = weights(3);
    const norm = new RunningMeanStd(OBS_V1.dim);
    norm.update(
      Float32Array.from({ length: 9 * 50 }, (_, i) => Math.sin(i) * 3 + (i % 9)),
      50,
    );
    const back = importOnnx(exportOnnx({ spec, params, obsNorm: norm, obsClip: 7 }));
    expect(back.spec).toEqual(spec);
    expect(back.params).toEqual(params);
    expect(back.obsClip).toBe(7);
    for (let j = 0; j < OBS_V1.dim; j++) {
      expect(back.obsNorm!.mean[j]).toBeCloseTo(norm.mean[j]!, 5);
      expect(back.obsNorm!.var[j]).toBeCloseTo(norm.var[j]!, 3);
    }
    expect(importOnnx(exportOnnx({ spec, params, obsNorm: null, obsClip: 10 })).obsNorm).toBeNull();
  });

  it("refuses a model that is not a PPO export, naming what is missing", () => {
    expect(() => importOnnx(new Uint8Array())).toThrow(/initializer "pi.out.w"/);
  });
});
