/**
 * The clipped surrogate against hand-computed values, the hand-written network's loss and
 * every gradient against tfjs autodiff, and Adam/gradient clipping against their formulas.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { adamStep, clipGradNorm, createAdamState } from "./adam.ts";
import { ActorCritic, clippedSurrogate, emptyLossStats, type LossStats, type Minibatch, type MlpSpec } from "./mlp.ts";
import { initTf } from "./tf-backend.ts";
import { tfForward, tfLossAndGrad } from "./tf-model.ts";
import { normalizeAdvantages } from "./train.ts";

describe("clipped surrogate (clip 0.2)", () => {
  const c = 0.2;
  it("ratio 1.5, advantage +2: clipped at 1.2, no gradient", () => {
    const r = clippedSurrogate(Math.log(1.5), 0, 2, c);
    expect(r.ratio).toBeCloseTo(1.5, 12);
    expect(r.loss).toBeCloseTo(-2.4, 12); // max(-3, -2.4)
    expect(r.gLogp).toBe(0);
    expect(r.clipped).toBe(true);
  });
  it("ratio 1.5, advantage -2: the unclipped term is the max, gradient flows", () => {
    const r = clippedSurrogate(Math.log(1.5), 0, -2, c);
    expect(r.loss).toBeCloseTo(3, 12); // max(3, 2.4)
    expect(r.gLogp).toBeCloseTo(3, 12); // -adv * ratio
  });
  it("ratio 0.5, advantage +2: the unclipped term is the max, gradient flows", () => {
    const r = clippedSurrogate(Math.log(0.5), 0, 2, c);
    expect(r.loss).toBeCloseTo(-1, 12); // max(-1, -1.6)
    expect(r.gLogp).toBeCloseTo(-1, 12);
  });
  it("ratio 0.5, advantage -2: clipped at 0.8, no gradient", () => {
    const r = clippedSurrogate(Math.log(0.5), 0, -2, c);
    expect(r.loss).toBeCloseTo(1.6, 12); // max(1, 1.6)
    expect(r.gLogp).toBe(0);
  });
  it("ratio inside the clip range: -adv * ratio and its gradient", () => {
    const r = clippedSurrogate(Math.log(1.1), 0, 1, c);
    expect(r.loss).toBeCloseTo(-1.1, 12);
    expect(r.gLogp).toBeCloseTo(-1.1, 12);
    expect(r.clipped).toBe(false);
  });
});

/** A deterministic minibatch and network with spread-out values. */
function fixture(n = 64) {
  const spec = { obsDim: 9, hidden: [64, 64], nActions: 5 };
  const net = new ActorCritic(spec, n);
  for (let i = 0; i < net.params.length; i++) net.params[i] = Math.sin(i * 12.9898) * 0.3;
  const mb: Minibatch = {
    n,
    obs: Float32Array.from({ length: n * 9 }, (_, i) => Math.cos(i * 0.7)),
    actions: Int32Array.from({ length: n }, (_, i) => (i * 3) % 5),
    logProbs: Float32Array.from({ length: n }, (_, i) => -1.6 + 0.4 * Math.sin(i * 7)),
    advantages: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3)),
    returns: Float32Array.from({ length: n }, (_, i) => 0.5 + Math.cos(i)),
  };
  return { spec, net, mb };
}

describe("hand-written network vs tfjs", () => {
  beforeAll(async () => {
    await initTf();
  });

  it("forward: the same logits, probabilities and values", () => {
    const { spec, net, mb } = fixture();
    net.forward(mb.obs, mb.n);
    const tf = tfForward(spec, net.params, mb.obs, mb.n);
    for (let i = 0; i < mb.n * 5; i++) {
      expect(net.logits[i]).toBeCloseTo(tf.logits[i]!, 5);
      expect(net.probs[i]).toBeCloseTo(tf.probs[i]!, 6);
    }
    for (let i = 0; i < mb.n; i++) expect(net.values[i]).toBeCloseTo(tf.values[i]!, 5);
  });

  /** The loss of `mb` by both engines (the js one first, so `net` keeps its forward pass), checked equal. */
  function expectLossLikeTf(spec: MlpSpec, net: ActorCritic, mb: Minibatch): LossStats {
    const coefs = { clipCoef: 0.2, entCoef: 0.01, vfCoef: 0.5 };
    const g = new Float32Array(net.params.length);
    const gTf = new Float32Array(net.params.length);
    const s = emptyLossStats();
    const sTf = emptyLossStats();
    net.lossAndGrad(mb, coefs, g, s);
    tfLossAndGrad(spec, net.params, mb, coefs, gTf, sTf);
    for (const k of ["pgLoss", "vLoss", "entropy", "approxKl", "clipFrac", "loss"] as const) {
      expect(Number.isFinite(s[k]), k).toBe(true);
      expect(s[k], k).toBeCloseTo(sTf[k], 5);
    }
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < g.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(gTf[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(g[i]! - gTf[i]!));
    }
    expect(maxAbs).toBeGreaterThan(1e-3);
    expect(maxDiff).toBeLessThan(1e-6);
    return s;
  }

  it("PPO loss terms and every gradient equal tfjs autodiff's", () => {
    const { spec, net, mb } = fixture();
    const s = expectLossLikeTf(spec, net, mb);
    expect(s.clipFrac).toBeGreaterThan(0); // the fixture exercises clipping
  });

  it("with action masks: masked actions have probability 0, and loss and gradients equal tfjs autodiff's", () => {
    const { spec, net, mb: base } = fixture();
    // Every row keeps noop and its own action; a varying share of the rest is masked.
    const masks = Uint8Array.from({ length: base.n * 5 }, (_, i) => {
      const row = Math.floor(i / 5);
      const k = i % 5;
      return k === 0 || k === base.actions[row] || (row + k) % 3 === 0 ? 1 : 0;
    });
    expect(masks.includes(0)).toBe(true);
    const s = expectLossLikeTf(spec, net, { ...base, masks });
    for (let i = 0; i < masks.length; i++) if (masks[i] === 0) expect(net.probs[i]).toBe(0);
    const unmasked = expectLossLikeTf(spec, net, base);
    expect(s.entropy).toBeLessThan(unmasked.entropy);
  });
});

describe("optimiser", () => {
  it("Adam's first step moves each parameter by lr * g / (|g| + eps)", () => {
    const p = Float32Array.from([1, -2, 0.5]);
    const g = Float32Array.from([0.5, -0.25, 0]);
    const s = createAdamState(3);
    adamStep(p, g, s, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    expect(p[0]).toBeCloseTo(1 - 0.1, 6);
    expect(p[1]).toBeCloseTo(-2 + 0.1, 6);
    expect(p[2]).toBe(0.5);
    expect(s.t).toBe(1);
  });

  it("gradient norm clipping scales to maxNorm and leaves small gradients alone", () => {
    const g = Float32Array.from([3, 4]);
    expect(clipGradNorm(g, 0.5)).toBeCloseTo(5, 6);
    expect(Math.hypot(g[0]!, g[1]!)).toBeCloseTo(0.5, 5);
    const small = Float32Array.from([0.03, 0.04]);
    clipGradNorm(small, 0.5);
    expect(Array.from(small)).toEqual([Math.fround(0.03), Math.fround(0.04)]);
  });

  it("advantage normalisation gives mean 0 and unbiased std 1", () => {
    const a = Float32Array.from([1, 2, 3, 4]);
    normalizeAdvantages(a, 4);
    const m = a.reduce((x, y) => x + y, 0) / 4;
    const v = a.reduce((x, y) => x + (y - m) ** 2, 0) / 3;
    expect(m).toBeCloseTo(0, 6);
    expect(v).toBeCloseTo(1, 5);
  });
});
