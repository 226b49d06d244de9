import { describe, expect, it } from "vitest";
import { Action, FAULT_TYPES } from "../../harness/core/contract.ts";
import { loadPpoOptions, ppoOptionsSchema } from "./options.ts";
import { randomiseEpisode, randomiseSchema, trainingSupport } from "./randomise.ts";
import { trainingScenarios, VecEnv } from "./vec-env.ts";

const R = randomiseSchema.parse({});
const O = ppoOptionsSchema.parse({ nEnvs: 4, nSteps: 16, batchSize: 16, randomise: {} });
const CELLS = trainingScenarios(O);

describe("randomiseEpisode", () => {
  it("is a function of the seed: the same seed gives an equal episode, twice", () => {
    for (const seed of [1_000_000, 1_000_001, 42]) {
      const a = randomiseEpisode(seed, CELLS[3]!.config, O.guard, R);
      const b = randomiseEpisode(seed, CELLS[3]!.config, O.guard, R);
      expect(b).toEqual(a);
    }
  });

  it("varies the deployment, load, replicas and fault parameters across seeds, within their ranges", () => {
    const eps = Array.from({ length: 200 }, (_, k) =>
      randomiseEpisode(1_000_000 + k, CELLS[k % CELLS.length]!.config, O.guard, R),
    );
    const params = eps.map((e) => e.config.params as Record<string, number>);
    const rps = eps.map((e) => e.config.workload?.baseRps as number);
    expect(new Set(rps).size).toBe(200);
    expect(Math.min(...rps)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...rps)).toBeLessThanOrEqual(300);
    const maxR = new Set(params.map((p) => p.maxReplicas));
    expect([...maxR].sort()).toEqual([10, 11, 12, 8, 9]);
    for (const e of eps) {
      expect(e.limits.maxReplicas).toBe((e.config.params as Record<string, number>).maxReplicas);
      const p = e.config.params as Record<string, number>;
      expect(p.initialReplicas).toBeGreaterThanOrEqual(2);
      expect(p.initialReplicas).toBeLessThanOrEqual(Math.min(5, p.maxReplicas));
    }
    for (const k of Object.keys(R.sim) as (keyof typeof R.sim)[]) {
      const [lo, hi] = R.sim[k]!;
      const xs = params.map((p) => p[k]!);
      expect(new Set(xs).size, k).toBe(200);
      expect(Math.min(...xs), k).toBeGreaterThanOrEqual(lo);
      expect(Math.max(...xs), k).toBeLessThanOrEqual(hi);
    }
    // About a fifth are compound: two different fault types injected at the same moment.
    const compound = eps.filter((e) => e.config.schedule !== undefined);
    expect(compound.length).toBeGreaterThan(20);
    expect(compound.length).toBeLessThan(60);
    for (const e of compound) {
      const s = e.config.schedule!;
      for (let i = 0; i + 1 < s.length; i += 2) {
        expect(s[i]!.atS).toBe(s[i + 1]!.atS);
        expect(s[i]!.spec.type).not.toBe(s[i + 1]!.spec.type);
      }
    }
    const spikes = eps.flatMap((e) => (e.config.faults ?? []).filter((f) => f.type === "load-spike"));
    expect(new Set(spikes.map((f) => (f as { factor: number }).factor)).size).toBe(spikes.length);
  });

  it("leaves the cell alone with nothing to randomise: ranges of one point give that point", () => {
    const point = randomiseSchema.parse({
      sim: { podCapacityRps: [100, 100] },
      baseRps: [150, 150],
      maxReplicas: [10, 10],
      initialReplicas: [3, 3],
      compound: 0,
    });
    const e = randomiseEpisode(7, CELLS[0]!.config, O.guard, point);
    expect(e.config.params).toMatchObject({ podCapacityRps: 100, maxReplicas: 10, initialReplicas: 3 });
    expect(e.config.workload?.baseRps).toBe(150);
    expect(e.config.schedule).toBeUndefined();
  });
});

describe("VecEnv with randomise", () => {
  it("runs every env on its episode's randomised deployment, with the guard at its ceiling", () => {
    const vec = new VecEnv(O);
    vec.resetAll();
    const seen = new Set<string>();
    const actions = new Int32Array(O.nEnvs).fill(Action.ScaleUp);
    for (let t = 0; t < 600; t++) {
      vec.step(actions);
      for (const env of vec.envs) {
        const p = env.state.params;
        seen.add(`${p.maxReplicas}|${p.podCapacityRps}`);
        // Scaling up every step never passes the episode's own ceiling.
        expect(env.state.desired).toBeLessThanOrEqual(p.maxReplicas);
      }
    }
    expect(seen.size).toBeGreaterThanOrEqual(12);
    expect(vec.episodeCounter).toBeGreaterThanOrEqual(12);
  });

  it("is deterministic: two VecEnvs with the same options see the same observations", () => {
    const a = new VecEnv(O);
    const b = new VecEnv(O);
    a.resetAll();
    b.resetAll();
    const act = new Int32Array(O.nEnvs);
    for (let t = 0; t < 450; t++) {
      for (let e = 0; e < O.nEnvs; e++) act[e] = (t * 7 + e * 3) % 5;
      a.step(act);
      b.step(act);
      expect(b.obs).toEqual(a.obs);
      expect(b.rewards).toEqual(a.rewards);
    }
  });

  it("differs from the unrandomised run on the same seeds", () => {
    const plain = new VecEnv({ ...O, randomise: null });
    const rand = new VecEnv(O);
    plain.resetAll();
    rand.resetAll();
    const p = plain.envs.map((e) => e.state.params.podCapacityRps);
    const r = rand.envs.map((e) => e.state.params.podCapacityRps);
    expect(p).toEqual([100, 100, 100, 100]);
    expect(r.every((x) => x !== 100)).toBe(true);
  });

  it("a checkpointed state restores the randomised episodes bit for bit", () => {
    const a = new VecEnv(O);
    a.resetAll();
    const act = new Int32Array(O.nEnvs);
    for (let t = 0; t < 230; t++) {
      for (let e = 0; e < O.nEnvs; e++) act[e] = (t + e) % 5;
      a.step(act);
    }
    const b = new VecEnv(O);
    b.restoreState(a.snapshotState());
    expect(b.obs).toEqual(a.obs);
    for (let t = 0; t < 50; t++) {
      a.step(act);
      b.step(act);
      expect(b.obs).toEqual(a.obs);
    }
  });
});

describe("trainingSupport", () => {
  it("puts the randomised ranges inside and points beyond them outside", () => {
    const s = trainingSupport(O);
    const cell = {
      sim: { initialReplicas: 4, minReplicas: 1, maxReplicas: 12, podCapacityRps: 90 },
      workload: { pattern: "diurnal", baseRps: 280 },
      stepSeconds: 10,
      steps: 200,
      guard: { ...O.guard, maxReplicas: 12 },
      fault: {
        label: "pair",
        inject: "all" as const,
        faults: [
          { type: "load-spike" as const, factor: 2.4, durationS: 350 },
          { type: "cpu-stress" as const, load: 0.5, durationS: 150 },
        ],
      },
      frequency: { kind: "poisson" as const, meanIntervalS: 500 },
    };
    expect(s.outside(cell)).toEqual([]);
    expect(s.outside({ ...cell, workload: { pattern: "diurnal", baseRps: 600 } })).toEqual(["workload.baseRps 600"]);
    expect(trainingSupport({ ...O, randomise: null }).outside(cell)).toContain("fault cell pair");
    expect(FAULT_TYPES.length).toBe(6);
  });

  it("the committed randomised training config parses", () => {
    const o = loadPpoOptions("policies/ppo/configs/randomised.yaml");
    expect(o.randomise).not.toBeNull();
  });
});
