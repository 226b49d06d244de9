/** GAE against values computed by hand (gamma 0.9, lambda 0.8, so gamma * lambda = 0.72). */
import { describe, expect, it } from "vitest";
import { computeGae } from "./gae.ts";

function gae(
  rewards: number[],
  values: number[],
  starts: number[],
  lastValue: number,
  lastStart: number,
  nEnvs = 1,
): { adv: number[]; ret: number[] } {
  const n = rewards.length;
  const adv = new Float32Array(n);
  const ret = new Float32Array(n);
  computeGae(
    {
      nSteps: n / nEnvs,
      nEnvs,
      gamma: 0.9,
      gaeLambda: 0.8,
      rewards: Float32Array.from(rewards),
      values: Float32Array.from(values),
      episodeStarts: Uint8Array.from(starts),
      lastValues: new Float32Array(nEnvs).fill(lastValue),
      lastEpisodeStarts: new Uint8Array(nEnvs).fill(lastStart),
    },
    adv,
    ret,
  );
  return { adv: Array.from(adv), ret: Array.from(ret) };
}

describe("computeGae", () => {
  it("matches the hand-computed advantages and returns of one unbroken episode", () => {
    // delta2 = 3 + 0.9*2 - 1.5 = 3.3;   A2 = 3.3
    // delta1 = 2 + 0.9*1.5 - 1 = 2.35;  A1 = 2.35 + 0.72*3.3 = 4.726
    // delta0 = 1 + 0.9*1 - 0.5 = 1.4;   A0 = 1.4 + 0.72*4.726 = 4.80272
    const { adv, ret } = gae([1, 2, 3], [0.5, 1, 1.5], [1, 0, 0], 2, 0);
    expect(adv[2]).toBeCloseTo(3.3, 5);
    expect(adv[1]).toBeCloseTo(4.726, 5);
    expect(adv[0]).toBeCloseTo(4.80272, 5);
    expect(ret[0]).toBeCloseTo(4.80272 + 0.5, 5);
    expect(ret[1]).toBeCloseTo(4.726 + 1, 5);
    expect(ret[2]).toBeCloseTo(3.3 + 1.5, 5);
  });

  it("cuts the bootstrap where a new episode starts", () => {
    // The observation at t=2 starts a new episode: step 1 is terminal.
    // A2 = 3.3 (as above); delta1 = 2 - 1 = 1, A1 = 1; A0 = 1.4 + 0.72*1 = 2.12
    const { adv } = gae([1, 2, 3], [0.5, 1, 1.5], [1, 0, 1], 2, 0);
    expect(adv[2]).toBeCloseTo(3.3, 5);
    expect(adv[1]).toBeCloseTo(1, 5);
    expect(adv[0]).toBeCloseTo(2.12, 5);
  });

  it("does not bootstrap from the last value when the next observation starts an episode", () => {
    // delta2 = 3 - 1.5 = 1.5; A1 = 2.35 + 0.72*1.5 = 3.43; A0 = 1.4 + 0.72*3.43 = 3.8696
    const { adv } = gae([1, 2, 3], [0.5, 1, 1.5], [1, 0, 0], 2, 1);
    expect(adv[2]).toBeCloseTo(1.5, 5);
    expect(adv[1]).toBeCloseTo(3.43, 5);
    expect(adv[0]).toBeCloseTo(3.8696, 5);
  });

  it("keeps envs apart in the [nSteps, nEnvs] layout", () => {
    // Env 0 is the first case, env 1 the second, interleaved row by row.
    const r = gae([1, 1, 2, 2, 3, 3], [0.5, 0.5, 1, 1, 1.5, 1.5], [1, 1, 0, 0, 0, 1], 2, 0, 2);
    expect([r.adv[0], r.adv[2], r.adv[4]].map((x) => Number(x.toFixed(5)))).toEqual([4.80272, 4.726, 3.3]);
    expect([r.adv[1], r.adv[3], r.adv[5]].map((x) => Number(x.toFixed(5)))).toEqual([2.12, 1, 3.3]);
  });
});
