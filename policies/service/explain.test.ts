import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBS_V1 } from "../../harness/core/contract.ts";
import { loadOnnxModel, type OnnxPolicyModel } from "../onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../rl.ts";
import { buildAgentApp } from "./app.ts";
import { explain, HEALTHY_BACKGROUND } from "./explain.ts";
import { explainResponseSchema } from "./schemas.ts";

let model: OnnxPolicyModel;
beforeAll(async () => {
  model = await loadOnnxModel(resolveModelPath(DEFAULT_MODEL), { logger: { warn: () => {} } });
});
afterAll(async () => model?.dispose());

/** A crashed pod under load: far from the healthy background. */
const INCIDENT = [0.2, 0, 0.1, 0.85, 0.4, 0.4, 0.08, 0.05, 0.3];

describe("exact Shapley attributions", () => {
  it("sum to f(state) - f(background) (efficiency), with f the chosen action's probability", async () => {
    for (const background of [
      HEALTHY_BACKGROUND,
      [HEALTHY_BACKGROUND[0]!, [0.5, 0.1, 0, 0.5, 0.5, 0.1, 0.01, 0.5, 0.5]],
    ]) {
      const e = await explain(model, INCIDENT, background);
      const sum = e.attributions.reduce((a, x) => a + x.phi, 0);
      const alone = await model.decideBatch(Float32Array.from(INCIDENT), 1);
      expect(e.action).toBe(alone.actions[0]);
      expect(e.output).toBeCloseTo(alone.probs![e.action]!, 6);
      const bg = await model.decideBatch(Float32Array.from(background.flat()), background.length);
      const base = background.reduce((a, _, b) => a + bg.probs![b * 5 + e.action]!, 0) / background.length;
      expect(e.base).toBeCloseTo(base, 6);
      expect(sum).toBeCloseTo(e.output - e.base, 6);
      // The state differs from the background, so something is attributed.
      expect(Math.max(...e.attributions.map((a) => Math.abs(a.phi)))).toBeGreaterThan(1e-4);
    }
  });

  it("gives exactly 0 to a feature equal in the state and every background row (dummy)", async () => {
    const state = [...INCIDENT];
    state[4] = HEALTHY_BACKGROUND[0]![4]!;
    const e = await explain(model, state);
    expect(e.attributions[4]!.phi).toBe(0);
    expect(e.attributions.map((a) => a.feature)).toEqual([...OBS_V1.features]);
  });

  it("POST /explain answers in its schema, naming the background it used", async () => {
    const app = await buildAgentApp({ model });
    try {
      const res = await app.inject({
        method: "POST",
        url: "/explain",
        payload: JSON.stringify({ state: INCIDENT }),
        headers: { "content-type": "application/json" },
      });
      expect(res.statusCode).toBe(200);
      const body = explainResponseSchema.parse(res.json());
      expect(body.background).toEqual(HEALTHY_BACKGROUND);
      expect(body.attributions.reduce((a, x) => a + x.phi, 0)).toBeCloseTo(body.output - body.base, 6);
      expect(body.model.sha256).toBe(model.sha256);
    } finally {
      await app.close();
    }
  });
});
