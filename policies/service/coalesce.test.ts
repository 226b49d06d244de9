import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBS_V1 } from "../../harness/core/contract.ts";
import { loadOnnxModel, type OnnxPolicyModel } from "../onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../rl.ts";
import { coalescer } from "./coalesce.ts";
import { decisionAt } from "./encode.ts";

let model: OnnxPolicyModel;
beforeAll(async () => {
  model = await loadOnnxModel(resolveModelPath(DEFAULT_MODEL), { logger: { warn: () => {} } });
});
afterAll(async () => model?.dispose());

function states(n: number): number[][] {
  const rng = xoroshiro128plus(7);
  return Array.from({ length: n }, () =>
    Array.from({ length: OBS_V1.dim }, () => Math.fround((rng.next() >>> 0) / 0x1_0000_0000)),
  );
}

/** The real model, with its runs counted. */
function counted() {
  const runs: number[] = [];
  return {
    runs,
    decideBatch: (s: Float32Array, n: number) => {
      runs.push(n);
      return model.decideBatch(s, n);
    },
  };
}

describe("coalescer", () => {
  it("answers states submitted together in one model run, each with its own state's decision", async () => {
    const input = states(40);
    const m = counted();
    const c = coalescer(m);
    const rows = await Promise.all(input.map((s) => c.decide(s)));
    expect(m.runs).toEqual([40]);
    for (const [k, s] of input.entries()) {
      const alone = await model.decideBatch(Float32Array.from(s), 1);
      expect(decisionAt(rows[k]!.out, rows[k]!.i)).toEqual(decisionAt(alone, 0));
    }
  });

  it("starts a new run for states submitted after a run was sent", async () => {
    const m = counted();
    const c = coalescer(m);
    const [a, b] = states(2);
    await c.decide(a!);
    await c.decide(b!);
    expect(m.runs).toEqual([1, 1]);
  });

  it("splits a round larger than its maximum batch", async () => {
    const m = counted();
    const c = coalescer(m, 16);
    await Promise.all(states(40).map((s) => c.decide(s)));
    expect(m.runs).toEqual([16, 16, 8]);
  });

  it("rejects every caller of a failed run", async () => {
    const c = coalescer({ decideBatch: () => Promise.reject(new Error("session gone")) });
    const results = await Promise.allSettled(states(3).map((s) => c.decide(s)));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
  });
});
