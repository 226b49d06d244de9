import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ACTION_NAMES } from "../harness/core/contract.ts";
import { cardPathFor, type ModelCardInput, parseModelCard, sha256Hex, writeModelCard } from "./model-card.ts";

function validCard(over: Record<string, unknown> = {}): Record<string, unknown> {
  const card: ModelCardInput = {
    cardVersion: 1,
    codec: "obs-v1",
    obsDim: 9,
    actionNames: [...ACTION_NAMES],
    file: "ppo-obs-v1.onnx",
    sha256: "a".repeat(64),
    inputs: [{ name: "obs", type: "float32", shape: ["batch", 9] }],
    outputs: [
      { name: "probs", type: "float32", shape: ["batch", 5], role: "probabilities" },
      { name: "value", type: "float32", shape: ["batch", 1], role: "value" },
    ],
    training: { nSteps: 2048, batchSize: 64, gamma: 0.99 },
    seed: 1,
    steps: 200_000,
    wallTimeS: 93.5,
    evaluation: { scenario: "scenarios/full-matrix.yaml", uptime: 0.95 },
  };
  return { ...card, ...over };
}

function issuesOf(card: unknown): readonly string[] {
  const r = parseModelCard(card);
  return r.success ? [] : r.issues;
}

describe("model card schema", () => {
  it("accepts a complete card and keeps free-form training options and evaluation as they are", () => {
    const r = parseModelCard(validCard({ createdAt: "2025-01-01T00:00:00Z", description: "PPO, 200k steps" }));
    expect(r.success).toBe(true);
    if (r.success) {
      expect(r.card.training).toEqual({ nSteps: 2048, batchSize: 64, gamma: 0.99 });
      expect(r.card.outputs[0]!.role).toBe("probabilities");
    }
  });

  it("refuses a codec that is not registered, naming the field, the registered ones and the value", () => {
    expect(issuesOf(validCard({ codec: "obs-v9" }))).toEqual([
      'Expected `codec` to be "obs-v1" or "obs-v2" or "obs-v1-stack4", got "obs-v9" (string)',
    ]);
  });

  it("accepts an obs-v2 card with the codec's 25 floats, and refuses one sized for obs-v1 (CardInvalid's issues)", () => {
    const v2 = { codec: "obs-v2", obsDim: 25, inputs: [{ name: "obs", type: "float32", shape: ["batch", 25] }] };
    expect(issuesOf(validCard(v2))).toEqual([]);
    expect(issuesOf(validCard({ codec: "obs-v2" }))).toEqual([
      "Expected `obsDim` to be 25, got 9 (number)",
      "Expected `inputs[0].shape[1]` to be 25 (the input's last axis is the obs-v2 state), got 9 (number)",
    ]);
  });

  it("refuses another observation size", () => {
    expect(issuesOf(validCard({ obsDim: 12 }))).toEqual(["Expected `obsDim` to be 9, got 12 (number)"]);
  });

  it("refuses action names other than ACTION_NAMES (e.g. SB3's)", () => {
    const sb3 = ["noop", "restart_pod", "scale_up", "scale_down", "drain_traffic"];
    expect(issuesOf(validCard({ actionNames: sb3 }))).toEqual([
      `Expected \`actionNames\` to be ["noop","restart-pod","scale-up","scale-down","drain-pod"] (ACTION_NAMES of harness/core/contract.ts, in this order), got ["noop","restart_pod","scale_up","scale_down","drain_traffic"] (array)`,
    ]);
  });

  it("refuses a malformed sha256, a negative step count and a missing training object, one issue each", () => {
    const card = validCard({ sha256: "ABC", steps: -1 });
    delete card.training;
    expect(issuesOf(card)).toEqual([
      'Expected `sha256` to be a lowercase hex sha256 (64 characters), got "ABC" (string)',
      "Expected `training` to be an object, got nothing (missing key)",
      "Expected `steps` to be >= 0, got -1 (number)",
    ]);
  });

  it("refuses an unknown output role and points at it", () => {
    const outputs = [{ name: "q", type: "float32", shape: ["batch", 5], role: "q-values" }];
    expect(issuesOf(validCard({ outputs }))).toEqual([
      'Expected `outputs[0].role` to be "logits" or "probabilities" or "value" or "action" or "log-prob", got "q-values" (string)',
    ]);
  });

  it("refuses unknown keys (a typo is not silently dropped)", () => {
    expect(issuesOf(validCard({ wallTime: 3 }))).toEqual([
      "Expected `card` to have no key `wallTime` (unknown to the card format), got `wallTime`: 3 (number)",
    ]);
  });

  it("puts the card beside the model: NAME.onnx -> NAME.json", () => {
    expect(cardPathFor("models/ppo-obs-v1.onnx")).toBe("models/ppo-obs-v1.json");
    expect(cardPathFor("models/weird")).toBe("models/weird.json");
  });
});

describe("writeModelCard", () => {
  it("fills file, sha256, codec and action names from the ONNX file and writes a card that parses", () => {
    const dir = mkdtempSync(join(tmpdir(), "card-"));
    const onnx = join(dir, "m.onnx");
    writeFileSync(onnx, "not really onnx");
    const { card, path } = writeModelCard(onnx, {
      inputs: [{ name: "obs", type: "float32", shape: ["batch", 9] }],
      outputs: [{ name: "logits", type: "float32", shape: ["batch", 5], role: "logits" }],
      training: {},
      seed: 3,
      steps: 10,
      wallTimeS: 1,
      evaluation: {},
    });
    expect(path).toBe(join(dir, "m.json"));
    expect(card).toMatchObject({ file: "m.onnx", codec: "obs-v1", sha256: sha256Hex(readFileSync(onnx)) });
    expect(parseModelCard(JSON.parse(readFileSync(path, "utf8"))).success).toBe(true);
  });

  it("refuses to write an invalid card, listing the issues", () => {
    const dir = mkdtempSync(join(tmpdir(), "card-"));
    const onnx = join(dir, "m.onnx");
    writeFileSync(onnx, "x");
    expect(() =>
      writeModelCard(onnx, {
        inputs: [],
        outputs: [{ name: "logits", type: "float32", shape: ["batch", 5], role: "logits" }],
        training: {},
        seed: 3,
        steps: 10,
        wallTimeS: 1,
        evaluation: {},
      }),
    ).toThrow("✖ Expected `inputs` to have exactly 1 entry, got [] (array)");
  });
});
