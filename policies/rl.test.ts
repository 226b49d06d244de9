import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OBS_V1 } from "../harness/core/contract.ts";
import { runPlannedEpisode } from "../harness/episode.ts";
import { expandPlan } from "../harness/plan.ts";
import { parseScenario } from "../harness/scenario-file.ts";
import { createPolicy, modelChecksums, preparePolicy } from "./index.ts";
import { sha256Hex } from "./model-card.ts";
import { ModelErrorCode } from "./onnx-model.ts";
import { buildMlpOnnx, readSb3Vectors, SB3_FIXTURES } from "./onnx-test-models.ts";
import { DEFAULT_MODEL, PROJECT_ROOT, prepareRl } from "./rl.ts";
import { maskedCommittedModel, steadySnapshot, testContext } from "./test-helpers.ts";

const quiet = { logger: { warn: () => {} } };
// Every model file a test writes goes under one folder, removed at the end.
const scratch = mkdtempSync(join(tmpdir(), "rl-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const snapshot = steadySnapshot();

async function rlPolicy(model: string) {
  await preparePolicy("rl", { model }, quiet);
  return createPolicy("rl", { model }, testContext);
}

describe("rl policy", () => {
  for (const [recipe, file] of Object.entries(SB3_FIXTURES)) {
    it(`reproduces SB3's deterministic action on every test vector (${recipe} recipe)`, async () => {
      const policy = await rlPolicy(file);
      const { vectors } = readSb3Vectors(file);
      const got: number[] = [];
      for (const v of vectors) {
        const d = await policy.decide(Float32Array.from(v.observation), snapshot);
        expect(d.confidence).toBeGreaterThan(0);
        expect(d.confidence).toBeLessThanOrEqual(1);
        got.push(d.action);
      }
      expect(got).toEqual(vectors.map((v) => v.sb3_predict_deterministic));
    });
  }

  it("two policies of one model deciding at the same time each get their own state's decision", async () => {
    const file = SB3_FIXTURES.extractor;
    const [a, b] = [await rlPolicy(file), await rlPolicy(file)];
    const { vectors } = readSb3Vectors(file);
    expect(new Set(vectors.map((v) => v.sb3_predict_deterministic)).size).toBeGreaterThan(1);
    for (let i = 0; i + 1 < vectors.length; i += 2) {
      const [x, y] = await Promise.all([
        a.decide(Float32Array.from(vectors[i]!.observation), snapshot).then((d) => d.action),
        b.decide(Float32Array.from(vectors[i + 1]!.observation), snapshot).then((d) => d.action),
      ]);
      expect([x, y]).toEqual([vectors[i]!.sb3_predict_deterministic, vectors[i + 1]!.sb3_predict_deterministic]);
    }
  });

  it("reports the action probabilities, and the chosen one's as confidence", async () => {
    const policy = await rlPolicy(relative(PROJECT_ROOT, SB3_FIXTURES.extractor));
    const d = await policy.decide(new Float32Array(OBS_V1.dim).fill(0.2), snapshot);
    const probs = Array.from(d.probs!);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(d.action).toBe(probs.indexOf(Math.max(...probs)));
    expect(d.confidence).toBe(probs[d.action]);
  });

  it("a model whose card says actionMask guard chooses the best allowed action, confidence renormalised over them", async () => {
    const file = maskedCommittedModel(mkdtempSync(join(scratch, "mask-")));
    const plain = await rlPolicy(DEFAULT_MODEL);
    const masked = await rlPolicy(file);
    expect(plain.actionMask).toBe("none");
    expect(masked.actionMask).toBe("guard");
    const state = new Float32Array(OBS_V1.dim).fill(0.3);
    const free = await plain.decide(state, snapshot);
    const probs = Array.from(free.probs!);
    const all = Uint8Array.from([1, 1, 1, 1, 1]);
    expect((await masked.decide(state, snapshot, undefined, all)).action).toBe(free.action);
    // Mask the unmasked choice (unless it is noop, which is always allowed): the runner-up wins.
    const allowed = Uint8Array.from([1, 1, 1, 1, 1]);
    if (free.action !== 0) allowed[free.action] = 0;
    else allowed.fill(0, 1);
    const d = await masked.decide(state, snapshot, undefined, allowed);
    const candidates = probs.map((p, k) => (allowed[k] === 1 ? p : -1));
    expect(d.action).toBe(candidates.indexOf(Math.max(...candidates)));
    const mass = probs.reduce((a, p, k) => a + (allowed[k] === 1 ? p : 0), 0);
    expect(d.confidence).toBeCloseTo(probs[d.action]! / mass, 6);
  });

  it("resolves relative model paths against the project root, not the working directory", async () => {
    const rel = relative(PROJECT_ROOT, SB3_FIXTURES.extractor);
    const model = await prepareRl({ model: rel }, quiet);
    expect(model.file).toBe(SB3_FIXTURES.extractor);
  });

  it("caches a model by path and sha256, and loads it again when the file changes", async () => {
    const dir = mkdtempSync(join(scratch, "rl-"));
    const file = join(dir, "m.onnx");
    writeFileSync(file, buildMlpOnnx({ seed: 1 }).bytes);
    const a = await prepareRl({ model: file }, quiet);
    expect(await prepareRl({ model: file }, quiet)).toBe(a);
    writeFileSync(file, buildMlpOnnx({ seed: 2 }).bytes);
    const b = await prepareRl({ model: file }, quiet);
    expect(b).not.toBe(a);
    expect(b.sha256).toBe(sha256Hex(readFileSync(file)));
  });

  it("a missing model file is a clear error when the rl policy is used", async () => {
    const missing = join(tmpdir(), "rl-absent", "model.onnx");
    await expect(preparePolicy("rl", { model: missing }, quiet)).rejects.toMatchObject({
      code: ModelErrorCode.ModelNotFound,
      message: `rl: model file ${missing} not found (${missing}). Check the rl policy's \`model\` parameter (relative paths resolve against the project root)`,
    });
    expect(() => createPolicy("rl", { model: missing }, testContext)).toThrow(`rl: model file ${missing} not found`);
  });

  it("the committed default model loads, with its card", async () => {
    const model = await prepareRl({ model: DEFAULT_MODEL }, quiet);
    expect(model.card).toMatchObject({ codec: "obs-v1", obsDim: 9, sha256: model.sha256 });
    expect(model.warnings).toEqual([]);
  });

  it("createPolicy without preparePolicy says what to do", () => {
    const dir = mkdtempSync(join(scratch, "rl-"));
    const file = join(dir, "unprepared.onnx");
    copyFileSync(SB3_FIXTURES.extractor, file);
    expect(() => createPolicy("rl", { model: file }, testContext)).toThrow(
      `rl: model ${file} is not loaded; await preparePolicy("rl", params) before createPolicy`,
    );
  });

  it("refuses a model of another input size through the policy too", async () => {
    const dir = mkdtempSync(join(scratch, "rl-"));
    const file = join(dir, "eight.onnx");
    writeFileSync(file, buildMlpOnnx({ inputDim: 8 }).bytes);
    await expect(preparePolicy("rl", { model: file }, quiet)).rejects.toMatchObject({
      code: ModelErrorCode.InputMismatch,
      message: `${file}: Expected input \`obs\` to be float32 [N or 1, 9] (the obs-v1 state), got float32 [batch, 8]`,
    });
  });
});

describe("rl in the controller loop", () => {
  it("runs whole episodes with asynchronous decisions; a missing model fails its episode, not the run", async () => {
    const model = relative(PROJECT_ROOT, SB3_FIXTURES.extractor);
    const parsed = parseScenario(
      `
name: rl-loop
steps: 60
seeds: [3]
matrix:
  fault: [cpu-stress]
  frequency: { busy: { kind: poisson, meanIntervalS: 120 } }
  policy: [{ name: rl, params: { model: ${model} } }, { name: rl, label: missing, params: { model: models/nope.onnx } }]
`,
      "rl-loop.yaml",
    );
    if (!parsed.success) throw new Error(JSON.stringify(parsed.errors));
    const scenario = parsed.data.scenario;
    await preparePolicy("rl", { model }, quiet); // the first load's no-card warning, kept quiet
    const [ok, missing] = await Promise.all(expandPlan(scenario).map((e) => runPlannedEpisode(scenario, e)));
    expect(ok!.status).toBe("completed");
    expect(ok!.trace.length).toBe(60);
    expect(missing!.status).toBe("failed");
    expect(missing!.error).toContain("rl: model file models/nope.onnx not found");
  });
});

describe("modelChecksums", () => {
  it("maps every rl cell's model path (as written) to its sha256, skipping other policies and missing files", () => {
    const fixture = relative(PROJECT_ROOT, SB3_FIXTURES.policy);
    const scenario = {
      matrix: {
        policy: [
          { name: "heuristic", params: {} },
          { name: "rl", params: { model: fixture } },
          { name: "rl", params: { model: fixture } },
          { name: "rl", params: { model: "models/not-trained-yet.onnx" } },
        ],
      },
    };
    expect(modelChecksums(scenario)).toEqual({ [fixture]: sha256Hex(readFileSync(SB3_FIXTURES.policy)) });
  });
});
