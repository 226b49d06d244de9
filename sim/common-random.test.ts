/**
 * Common random numbers on the simulator: the fault schedule and the workload series come
 * from the seed alone, never from what a policy does.
 */
import { describe, expect, it } from "vitest";
import { Action, FAULT_TYPES } from "../harness/core/contract.ts";
import { generateSchedule } from "../harness/core/schedule.ts";
import type { SimEnvConfig } from "./env.ts";
import { workloadSchema } from "./params.ts";
import { mean, noop, randomPolicy, runEpisode, type TestPolicy } from "./test-helpers.ts";
import { workloadSeries } from "./workload.ts";

const MIXED = FAULT_TYPES.map((type) => ({ type }));

describe("common random numbers across policies", () => {
  const config: SimEnvConfig = {
    faults: MIXED,
    frequency: { kind: "poisson", meanIntervalS: 70 },
    // Enough replicas that no policy here loses every pod (the episodes reach their limit).
    params: { episodeSteps: 150, initialReplicas: 6, minReplicas: 3, maxReplicas: 10 },
    workload: { pattern: "random-walk" },
  };
  // Restart and scale a lot, but never drain: keeps the episode alive to its limit.
  const busy = randomPolicy(77);
  const busyNoDrain: TestPolicy = (s, k) => {
    const a = busy(s, k);
    return a === Action.DrainPod ? Action.Noop : a;
  };
  const scaler: TestPolicy = (_s, k) => (k % 7 === 0 ? Action.ScaleUp : k % 11 === 0 ? Action.ScaleDown : 0);

  it("applies the identical schedule whatever the policy: times, fault ids, and target ranks", () => {
    const seed = 21;
    const schedule = generateSchedule({
      faults: MIXED,
      frequency: { kind: "poisson", meanIntervalS: 70 },
      episodeSeconds: 1500,
      seed,
    });
    expect(schedule.length).toBeGreaterThan(10);
    const runs = [noop, busyNoDrain, scaler].map((p) => runEpisode(seed, config, p));
    const ranks: number[][] = [];
    for (const e of runs) {
      expect(e.steps.at(-1)?.truncated).toBe(true);
      expect(e.env.faultSchedule).toEqual(schedule);
      // Every scheduled fault is either injected or skipped (no running pod), once.
      const acted = e.steps.flatMap((st) =>
        st.events.filter((ev) => ev.kind === "fault-injected" || ev.kind === "fault-skipped"),
      );
      expect(acted.map((ev) => ev.faultId)).toEqual(schedule.map((f) => f.id));
      // Injected at the first step boundary at or after atS.
      expect(acted.map((ev) => ev.time)).toEqual(schedule.map((f) => Math.ceil(f.atS / 10) * 10));
      // The target's rank is floor(targetKey * initialReplicas) modulo the running pods.
      const base = 6;
      const r: number[] = [];
      for (const ev of acted) {
        const f = schedule[ev.faultId];
        if (f.spec.type === "load-spike") continue;
        const k = Math.floor(f.targetKey * base);
        r.push(ev.kind === "fault-skipped" ? -1 : ev.targetRank);
        if (ev.kind === "fault-injected") {
          expect(ev.targetRank).toBeGreaterThanOrEqual(0);
          expect(ev.targetRank).toBeLessThanOrEqual(k);
        }
      }
      ranks.push(r);
    }
    // The rank depends on the draw and the running count only: policies that restart and
    // scale a lot still hit the same rank for most faults (they differ only while fewer pods
    // than the drawn rank run).
    for (const other of ranks.slice(1)) {
      const same = other.filter((x, i) => x === ranks[0]![i]).length;
      expect(same / other.length).toBeGreaterThan(0.7);
    }
  });

  it("offers the identical request-rate series whatever the policy", () => {
    const rates = [noop, busyNoDrain, scaler].map((p) =>
      runEpisode(21, config, p).steps.map((s) => s.snapshot.requestRate),
    );
    expect(rates[0]).toHaveLength(150);
    expect(rates[1]).toEqual(rates[0]);
    expect(rates[2]).toEqual(rates[0]);
  });
});

describe("workload", () => {
  const dt = 10;

  it("is the seed's series: step k offers rate k+1 of workloadSeries (rate 0 at reset)", () => {
    const w = workloadSchema.parse({ pattern: "diurnal" });
    const series = workloadSeries(w, dt, 8, 51);
    const e = runEpisode(8, { workload: { pattern: "diurnal" } }, noop, 50);
    expect(e.reset.snapshot.requestRate).toBe(series[0]);
    expect(e.steps.map((s) => s.snapshot.requestRate)).toEqual(Array.from(series.slice(1)));
  });

  it("constant: mean baseRps, relative spread ~ noise", () => {
    const xs = Array.from(workloadSeries(workloadSchema.parse({ noise: 0.1 }), dt, 1, 20_000));
    const m = mean(xs);
    const sd = Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
    expect(m / 150).toBeCloseTo(1, 2);
    expect(sd / m).toBeGreaterThan(0.09);
    expect(sd / m).toBeLessThan(0.11);
  });

  it("diurnal: a sinusoid of the given amplitude and period", () => {
    const w = workloadSchema.parse({ pattern: "diurnal", noise: 0, amplitude: 0.3, periodS: 2000 });
    const xs = workloadSeries(w, dt, 1, 200);
    expect(xs[0]).toBeCloseTo(150, 9);
    expect(xs[50]).toBeCloseTo(150 * 1.3, 9); // a quarter period: 500 s = 50 steps
    expect(xs[150]).toBeCloseTo(150 * 0.7, 9);
  });

  it("random-walk: moves, and stays within 1 ± amplitude of baseRps", () => {
    const w = workloadSchema.parse({ pattern: "random-walk", noise: 0, amplitude: 0.2, walkStep: 0.05 });
    const xs = Array.from(workloadSeries(w, dt, 3, 20_000));
    expect(Math.max(...xs)).toBeLessThanOrEqual(150 * 1.2 + 1e-9);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(150 * 0.8 - 1e-9);
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThan(150 * 0.3);
  });
});
