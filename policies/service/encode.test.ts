import { describe, expect, it } from "vitest";
import { ACTION_COUNT } from "../../harness/core/contract.ts";
import type { BatchDecisions } from "../onnx-model.ts";
import { decisionAt, modelRefJson, predictBatchJson, predictJson } from "./encode.ts";
import { predictBatchResponseSchema, predictResponseSchema } from "./schemas.ts";

const ref = { sha256: "ab".repeat(32), codec: "obs-v1" as const };

function batch(withProbs: boolean, withValue: boolean): BatchDecisions {
  const probs = new Float32Array([0.1, 0.2, 0.3, 0.15, 0.25, 1, 0, 0, 0, 0, 0.2, 0.2, 0.2, 0.2, 0.2]);
  return {
    actions: new Uint8Array([2, 0, 1]),
    confidence: new Float32Array([0.3, 1, 0.2]),
    probs: withProbs ? probs : null,
    value: withValue ? new Float32Array([53.2, -1.5e-7, 0]) : null,
  };
}

describe("decision encoders write what JSON.stringify writes of the schema's object form", () => {
  for (const [probs, value] of [
    [true, true],
    [true, false],
    [false, true],
  ] as const) {
    it(`with probs ${probs ? "present" : "null"} and value ${value ? "present" : "null"}`, () => {
      const out = batch(probs, value);
      for (let i = 0; i < 3; i++) {
        const text = predictJson(out, i, modelRefJson(ref));
        expect(text).toBe(JSON.stringify({ ...decisionAt(out, i), model: ref }));
        expect(predictResponseSchema.parse(JSON.parse(text)).probs?.length ?? ACTION_COUNT).toBe(ACTION_COUNT);
      }
      const all = predictBatchJson(out, 3, modelRefJson(ref));
      expect(all).toBe(JSON.stringify({ decisions: [0, 1, 2].map((i) => decisionAt(out, i)), model: ref }));
      expect(predictBatchResponseSchema.parse(JSON.parse(all)).decisions).toHaveLength(3);
    });
  }

  it("writes only the first n rows of a batch", () => {
    const text = predictBatchJson(batch(true, true), 2, modelRefJson(ref));
    expect(JSON.parse(text).decisions).toHaveLength(2);
  });
});
