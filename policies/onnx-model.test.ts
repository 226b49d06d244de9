import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ACTION_COUNT } from "../harness/core/contract.ts";
import { cardPathFor, type OutputRole, writeModelCard } from "./model-card.ts";
import { loadOnnxModel, type ModelError, ModelErrorCode, type OnnxPolicyModel, roundTrip } from "./onnx-model.ts";
import { buildMlpOnnx, type MlpSpec, readSb3Vectors, SB3_FIXTURES } from "./onnx-test-models.ts";

const dir = mkdtempSync(join(tmpdir(), "onnx-model-"));
const loaded: OnnxPolicyModel[] = [];
afterAll(async () => {
  for (const m of loaded) await m.dispose();
});

/** Loads `file`, collecting warnings through an injected logger (no console output). */
async function load(file: string, options: { requireCard?: boolean } = {}) {
  const logged: string[] = [];
  const model = await loadOnnxModel(file, { ...options, logger: { warn: (m) => logged.push(m) } });
  loaded.push(model);
  return { model, logged };
}

let counter = 0;
/** Writes a generated MLP to a fresh file; returns its path and reference forward pass. */
function writeModel(spec: MlpSpec = {}) {
  const m = buildMlpOnnx(spec);
  const file = join(dir, `m${counter++}.onnx`);
  writeFileSync(file, m.bytes);
  return { file, ...m };
}

/** Writes a valid card for a generated model with the given output roles. */
function cardFor(
  file: string,
  roles: readonly OutputRole[],
  names: readonly string[],
  batch: string | number = "batch",
) {
  const shapes: Record<OutputRole, (string | number)[]> = {
    logits: [batch, 5],
    probabilities: [batch, 5],
    value: [batch, 1],
    action: [batch],
    "log-prob": [batch],
  };
  return writeModelCard(file, {
    inputs: [{ name: "obs", type: "float32", shape: [batch, 9] }],
    outputs: roles.map((role, i) => ({
      name: names[i]!,
      type: role === "action" ? "int64" : "float32",
      shape: shapes[role],
      role,
    })),
    training: { note: "test" },
    seed: 1,
    steps: 0,
    wallTimeS: 0,
    evaluation: {},
  });
}

async function refusal(file: string): Promise<ModelError> {
  try {
    loaded.push(await loadOnnxModel(file));
  } catch (err) {
    return err as ModelError;
  }
  throw new Error(`${file} was accepted`);
}

function softmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

describe("Stable-Baselines3 exports (policies/fixtures/sb3)", () => {
  it("the extractor recipe loads without a card, with a warning, its outputs found by type and shape", async () => {
    const { model, logged } = await load(SB3_FIXTURES.extractor);
    expect(model.card).toBeNull();
    expect(model.io).toMatchObject({
      batch: 1,
      scores: { name: "21", kind: "logits" },
      value: "22",
      action: null,
      logProb: null,
    });
    expect(logged).toEqual(model.warnings);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain("no model card");
    expect(logged[0]).toContain("sb3_ppo_k8s.json");
  });

  it("the extractor recipe reproduces SB3's action, probability and value on every test vector", async () => {
    const { model } = await load(SB3_FIXTURES.extractor);
    const { vectors } = readSb3Vectors(SB3_FIXTURES.extractor);
    expect(vectors).toHaveLength(32);
    for (const [i, v] of vectors.entries()) {
      const d = await model.decide(Float32Array.from(v.observation));
      expect(d.action, `vector ${i}`).toBe(v.sb3_predict_deterministic);
      const p = softmax(v.action_logits);
      for (let k = 0; k < ACTION_COUNT; k++) expect(d.probs![k]).toBeCloseTo(p[k]!, 5);
      expect(d.confidence).toBeCloseTo(p[v.sb3_predict_deterministic]!, 5);
      expect(d.value).toBeCloseTo(v.value, 2);
    }
  });

  it("the whole-policy recipe (action int64, value, log-prob) reproduces SB3's action on every test vector", async () => {
    const { model } = await load(SB3_FIXTURES.policy);
    expect(model.io).toMatchObject({ batch: 1, scores: null, action: "50", value: "23", logProb: "48" });
    const { vectors } = readSb3Vectors(SB3_FIXTURES.policy);
    for (const [i, v] of vectors.entries()) {
      const d = await model.decide(Float32Array.from(v.observation));
      expect(d.action, `vector ${i}`).toBe(v.sb3_predict_deterministic);
      expect(d.confidence).toBeCloseTo(Math.exp(v.log_prob!), 5);
      expect(d.probs).toBeNull();
    }
  });

  it("a batch on a fixed batch axis runs row by row and agrees with single decisions", async () => {
    const { model } = await load(SB3_FIXTURES.extractor);
    const { vectors } = readSb3Vectors(SB3_FIXTURES.extractor);
    const states = Float32Array.from(vectors.flatMap((v) => v.observation));
    const batch = await model.decideBatch(states, vectors.length);
    expect(Array.from(batch.actions)).toEqual(vectors.map((v) => v.sb3_predict_deterministic));
  });
});

describe("output identification", () => {
  it("probabilities are recognised as such (no second softmax) and match the reference", async () => {
    const m = writeModel({ outputs: ["probabilities", "value"], headScale: 4 });
    const { model } = await load(m.file);
    expect(model.io.scores).toEqual({ name: "20", kind: "probabilities" });
    const r = await roundTrip(model, (states, n) =>
      Array.from({ length: n }, (_, i) => m.forward(states.subarray(i * 9, (i + 1) * 9)).probs).flat(),
    );
    expect(r.maxAbsDiff).toBeLessThan(1e-5);
    expect(r.sameAction).toBe(1000);
  });

  it("logits get a softmax, and the batched run (dynamic axis) matches the reference", async () => {
    const m = writeModel({ outputs: ["logits", "value"] });
    const { model } = await load(m.file);
    expect(model.io).toMatchObject({ batch: "dynamic", scores: { kind: "logits" }, value: "21" });
    const r = await roundTrip(model, (states, n) =>
      Array.from({ length: n }, (_, i) => m.forward(states.subarray(i * 9, (i + 1) * 9)).probs).flat(),
    );
    expect(r.maxAbsDiff).toBeLessThan(1e-5);
  });

  it("with scores and an action output both, the scores decide (argmax) and the rest is kept", async () => {
    const m = writeModel({ outputs: ["action", "value", "log-prob", "logits"], batch: 1 });
    const { model } = await load(m.file);
    expect(model.io).toMatchObject({ scores: { name: "23" }, action: "20", value: "21", logProb: "22" });
    const obs = new Float32Array(9).fill(0.3);
    const d = await model.decide(obs);
    const ref = m.forward(obs);
    expect(d.action).toBe(ref.probs.indexOf(Math.max(...ref.probs)));
  });

  it("outputs of unknown shape are ignored with a warning naming them", async () => {
    const m = writeModel({ outputs: ["logits", "value", "value"], outputNames: ["pi", "v", "v2"] });
    const { model, logged } = await load(m.file);
    expect(model.io.ignored).toEqual(["v2"]);
    expect(logged[0]).toBe(`${m.file}: output "v2" (float32 [batch, 1]) is not a known kind; ignored`);
  });
});

describe("model cards", () => {
  it("a model with a valid card loads without warnings; the card's roles say probabilities or logits", async () => {
    const m = writeModel({ outputs: ["probabilities", "value"], outputNames: ["probs", "value"] });
    const { card } = cardFor(m.file, ["probabilities", "value"], ["probs", "value"]);
    const { model, logged } = await load(m.file, { requireCard: true });
    expect(logged).toEqual([]);
    expect(model.card).toEqual(card);
    expect(model.sha256).toBe(card.sha256);
    expect(model.io.scores).toEqual({ name: "probs", kind: "probabilities" });
  });

  it("requireCard refuses a model without one", async () => {
    const m = writeModel();
    await expect(loadOnnxModel(m.file, { requireCard: true })).rejects.toMatchObject({
      code: ModelErrorCode.CardMissing,
      message: `${m.file}: Expected a model card at ${cardPathFor(m.file)}, got none`,
    });
  });
});

describe("refusals (documented in policies/README.md)", () => {
  it("a card naming a codec that is not registered: CodecMismatch, with the file and the codecs", async () => {
    const m = writeModel({ outputNames: ["logits", "value"] });
    const { path } = cardFor(m.file, ["logits", "value"], ["logits", "value"]);
    const card = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...card, codec: "obs-v9", obsDim: 14 }));
    const err = await refusal(m.file);
    expect(err.code).toBe(ModelErrorCode.CodecMismatch);
    expect(err.file).toBe(m.file);
    expect(err.message).toBe(
      `${m.file}: Expected \`codec\` of model card ${path} to be a registered state codec ("obs-v1" or "obs-v2" or "obs-v1-stack4"), got "obs-v9" (string)`,
    );
  });

  it("a card naming obs-v2 on a model that reads 9 floats: CodecMismatch; sized for obs-v1: CardInvalid", async () => {
    const m = writeModel({ outputNames: ["logits", "value"] });
    const { path } = cardFor(m.file, ["logits", "value"], ["logits", "value"]);
    const card = JSON.parse(readFileSync(path, "utf8"));
    const input = { ...card.inputs[0], shape: ["batch", 25] };
    writeFileSync(path, JSON.stringify({ ...card, codec: "obs-v2", obsDim: 25, inputs: [input] }));
    const err = await refusal(m.file);
    expect(err.code).toBe(ModelErrorCode.CodecMismatch);
    expect(err.message).toMatch(
      /Expected input `obs` to be float32 \[N or 1, 25\] \(the obs-v2 state its card names\), got float32 \[\w+, 9\]/,
    );
    writeFileSync(path, JSON.stringify({ ...card, codec: "obs-v2" }));
    expect((await refusal(m.file)).code).toBe(ModelErrorCode.CardInvalid);
  });

  it("an input of another size: InputMismatch, with the file and the input's shape", async () => {
    const m = writeModel({ inputDim: 8 });
    const err = await refusal(m.file);
    expect(err.code).toBe(ModelErrorCode.InputMismatch);
    expect(err.message).toBe(
      `${m.file}: Expected input \`obs\` to be float32 [N or 1, 9] (the obs-v1 state), got float32 [batch, 8]`,
    );
  });

  it("an input without a batch axis or of another type: InputMismatch", async () => {
    const rank1 = writeModel({ inputRank: 1 });
    expect((await refusal(rank1.file)).message).toBe(
      `${rank1.file}: Expected input \`obs\` to be float32 [N or 1, 9] (the obs-v1 state), got float32 [9]`,
    );
    const f64 = writeModel({ inputType: "float64" });
    expect((await refusal(f64.file)).message).toBe(
      `${f64.file}: Expected input \`obs\` to be float32 [N or 1, 9] (the obs-v1 state), got float64 [batch, 9]`,
    );
  });

  it("a card whose checksum is not the file's: ChecksumMismatch", async () => {
    const m = writeModel({ outputNames: ["logits", "value"] });
    const { path, card } = cardFor(m.file, ["logits", "value"], ["logits", "value"]);
    writeFileSync(m.file, writeModel({ seed: 2 }).bytes); // retrained, card not rewritten
    const err = await refusal(m.file);
    expect(err.code).toBe(ModelErrorCode.ChecksumMismatch);
    expect(err.message).toMatch(`${m.file}: Expected sha256 ${card.sha256} (from ${path}), got `);
  });

  it("a card that does not describe the model's outputs: CardMismatch, one line per problem", async () => {
    const m = writeModel({ outputNames: ["logits", "value"] });
    cardFor(m.file, ["value", "logits"], ["logits", "value"]);
    const err = await refusal(m.file);
    expect(err.code).toBe(ModelErrorCode.CardMismatch);
    expect(err.message).toContain(
      'Expected `outputs[0]` to be "logits" float32 [batch, 5] (the model\'s), got "logits" float32 [batch, 1]',
    );
    expect(err.message).toContain(
      'Expected `outputs[0].role` to fit float32 [batch, 5] (logits or probabilities), got "value"',
    );
  });

  it("an invalid card: CardInvalid, listing the schema's issues", async () => {
    const m = writeModel();
    writeFileSync(cardPathFor(m.file), JSON.stringify({ codec: "obs-v1", steps: -3 }));
    const err = await refusal(m.file);
    expect(err.code).toBe(ModelErrorCode.CardInvalid);
    expect(err.message).toContain("✖ Expected `steps` to be >= 0, got -3 (number)");
    expect(err.message).toContain("✖ Expected `sha256` to be a string, got nothing (missing key)");
  });

  it("no usable output: OutputsUnrecognised, listing what the model has", async () => {
    const m = writeModel({ outputs: ["value"], outputNames: ["v"] });
    const err = await refusal(m.file);
    expect(err.code).toBe(ModelErrorCode.OutputsUnrecognised);
    expect(err.message).toBe(
      `${m.file}: Expected an output of action scores, float32 [N, 5], or of action ids, int64 [N], got "v" float32 [batch, 1]`,
    );
  });

  it("a missing file and a file that is not ONNX: ModelNotFound and ModelUnreadable", async () => {
    const missing = join(dir, "nope.onnx");
    expect(await refusal(missing)).toMatchObject({
      code: ModelErrorCode.ModelNotFound,
      message: `Model file ${missing} not found`,
    });
    const junk = join(dir, "junk.onnx");
    writeFileSync(junk, "definitely not protobuf");
    const err = await refusal(junk);
    expect(err.code).toBe(ModelErrorCode.ModelUnreadable);
    expect(err.message).toMatch(`${junk}: onnxruntime cannot load it: `);
  });
});
