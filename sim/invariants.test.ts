/**
 * Invariants over thousands of random steps: random seeds, parameters, workloads, fault
 * mixes, frequencies and action sequences (fast-check shrinks any counterexample).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Action, type FaultSpecInput, PodPhase, type Snapshot } from "../harness/core/contract.ts";
import type { FrequencyInput } from "../harness/core/schedule.ts";
import { SimBackend } from "./backend.ts";
import { SimEnv, type SimEnvConfig } from "./env.ts";
import type { SimParamsInput, WorkloadInput } from "./params.ts";

const paramsArb: fc.Arbitrary<SimParamsInput> = fc
  .record({
    minReplicas: fc.integer({ min: 1, max: 4 }),
    span: fc.integer({ min: 0, max: 8 }),
    initialOffset: fc.nat(),
    stepSeconds: fc.constantFrom(5, 10, 15, 30),
    podCapacityRps: fc.integer({ min: 20, max: 300 }),
    idleCpu: fc.double({ min: 0, max: 0.3, noNaN: true }),
    smoothing: fc.double({ min: 0.05, max: 1, noNaN: true }),
    startupLo: fc.integer({ min: 1, max: 3 }),
    restartLo: fc.integer({ min: 1, max: 4 }),
    extra: fc.integer({ min: 0, max: 2 }),
    backoffInitialS: fc.integer({ min: 1, max: 40 }),
    backoffResetS: fc.integer({ min: 20, max: 900 }),
    overloadCrashProb: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map((r) => {
    const maxReplicas = r.minReplicas + r.span;
    return {
      minReplicas: r.minReplicas,
      maxReplicas,
      initialReplicas: r.minReplicas + (r.initialOffset % (r.span + 1)),
      stepSeconds: r.stepSeconds,
      episodeSteps: 150,
      podCapacityRps: r.podCapacityRps,
      idleCpu: r.idleCpu,
      smoothing: r.smoothing,
      startupSteps: [r.startupLo, r.startupLo + r.extra] as [number, number],
      restartSteps: [r.restartLo, r.restartLo + r.extra] as [number, number],
      backoffInitialS: r.backoffInitialS,
      backoffResetS: r.backoffResetS,
      overloadCrashProb: r.overloadCrashProb,
    };
  });

const workloadArb: fc.Arbitrary<WorkloadInput> = fc.record({
  pattern: fc.constantFrom("constant", "diurnal", "random-walk"),
  baseRps: fc.integer({ min: 1, max: 1500 }),
  noise: fc.double({ min: 0, max: 1, noNaN: true }),
  amplitude: fc.double({ min: 0, max: 1, noNaN: true }),
  periodS: fc.integer({ min: 10, max: 5000 }),
  walkStep: fc.double({ min: 0, max: 1, noNaN: true }),
});

const duration = fc.integer({ min: 1, max: 900 });
const faultArb: fc.Arbitrary<FaultSpecInput> = fc.oneof(
  fc.constant({ type: "pod-kill" as const }),
  fc.record({ type: fc.constant("pod-failure" as const), durationS: duration }),
  fc.record({
    type: fc.constant("cpu-stress" as const),
    durationS: duration,
    load: fc.double({ min: 0.01, max: 1, noNaN: true }),
  }),
  fc.record({ type: fc.constant("memory-leak" as const), ratePerMin: fc.double({ min: 0.01, max: 1, noNaN: true }) }),
  fc.record({
    type: fc.constant("network-delay" as const),
    durationS: duration,
    delayMs: fc.integer({ min: 1, max: 20_000 }),
  }),
  fc.record({
    type: fc.constant("load-spike" as const),
    durationS: duration,
    factor: fc.double({ min: 1.01, max: 10, noNaN: true }),
  }),
);

const frequencyArb: fc.Arbitrary<FrequencyInput> = fc.oneof(
  fc.record({ kind: fc.constant("fixed" as const), intervalS: fc.integer({ min: 5, max: 400 }) }),
  fc.record({ kind: fc.constant("poisson" as const), meanIntervalS: fc.integer({ min: 5, max: 400 }) }),
);

const configArb: fc.Arbitrary<SimEnvConfig> = fc.record({
  params: paramsArb,
  workload: workloadArb,
  faults: fc.array(faultArb, { minLength: 1, maxLength: 4 }),
  frequency: frequencyArb,
});

const actionsArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 60, maxLength: 200 }) as fc.Arbitrary<
  Action[]
>;

function inUnit(x: number): boolean {
  return x >= 0 && x <= 1;
}

/** Throws an Error naming the first invariant a snapshot breaks (cheaper than expect() per value). */
function checkSnapshot(s: Snapshot, min: number, max: number, timeoutMs: number): void {
  const fail = (what: string) => {
    throw new Error(`invariant broken at t=${s.time}: ${what}; snapshot ${JSON.stringify({ ...s, podTable: null })}`);
  };
  if (s.desiredReplicas < min || s.desiredReplicas > max) fail("desiredReplicas within [min, max]");
  if (s.healthy + s.degraded + s.crashed + s.pending !== s.pods)
    fail("healthy + degraded + crashed + pending === pods");
  if (s.pods !== s.desiredReplicas) fail("pods === desiredReplicas (the ReplicaSet keeps the count)");
  if (s.readyReplicas !== s.healthy + s.degraded) fail("readyReplicas === healthy + degraded");
  if (s.drained > s.pods) fail("drained <= pods");
  if (!inUnit(s.cpu) || !inUnit(s.memory) || !inUnit(s.errorRate)) fail("cpu, memory, errorRate in 0..1");
  if (!(s.latencyMs >= 0 && s.latencyMs <= timeoutMs)) fail("latencyMs in [0, timeout]");
  if (!(s.sinceFailureS >= 0)) fail("sinceFailureS >= 0");
  if (!(s.requestRate >= 0)) fail("requestRate >= 0");
  for (const [k, v] of Object.entries(s)) if (typeof v === "number" && Number.isNaN(v)) fail(`${k} is NaN`);
  const t = s.podTable;
  if (t === null) throw new Error("the simulator always has pod rows");
  let previousId = -1;
  for (let i = 0; i < t.count; i++) {
    if (!(t.id[i] > previousId)) fail("pod rows sorted by unique id");
    previousId = t.id[i];
    if (t.phase[i] > PodPhase.Terminating) fail("phase is a PodPhase");
    if (!inUnit(t.cpu[i]) || !inUnit(t.memory[i]) || !inUnit(t.errorRate[i])) fail(`pod row ${i} metrics in 0..1`);
    if (!(t.latencyMs[i] >= 0 && t.latencyMs[i] <= timeoutMs)) fail(`pod row ${i} latency in [0, timeout]`);
    if (t.restarts[i] < 0) fail("restarts >= 0");
  }
}

describe("invariants under random seeds, params, faults and actions", () => {
  it("SimEnv: replicas within limits, counts add up, metrics in range, no NaN, terminated iff nothing serves", () => {
    let steps = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), configArb, actionsArb, (seed, config, actions) => {
        const env = new SimEnv();
        const p = config.params as Required<Pick<SimParamsInput, "minReplicas" | "maxReplicas">>;
        let r = env.reset(seed, config);
        checkSnapshot(r.info.snapshot, p.minReplicas, p.maxReplicas, 10_000);
        let episode = 0;
        for (const action of actions) {
          const res = env.step(action);
          steps++;
          const s = res.info.snapshot;
          checkSnapshot(s, p.minReplicas, p.maxReplicas, 10_000);
          for (const x of res.obs) if (!Number.isFinite(x)) throw new Error(`non-finite obs ${res.obs}`);
          if (!Number.isFinite(res.reward)) throw new Error(`non-finite reward ${res.reward}`);
          if (res.terminated !== (s.readyReplicas - countDrainedReady(s) === 0)) {
            throw new Error("terminated must hold exactly when no ready, non-drained pod is left");
          }
          if (res.terminated || res.truncated) {
            r = env.reset(seed + ++episode, config);
            checkSnapshot(r.info.snapshot, p.minReplicas, p.maxReplicas, 10_000);
          }
        }
      }),
      { numRuns: 120, seed: 20261125 },
    );
    expect(steps).toBeGreaterThan(4000);
  });

  it("SimBackend: the same invariants when the loop injects and clears faults itself", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), configArb, actionsArb, (seed, config, actions) => {
        const p = config.params as Required<Pick<SimParamsInput, "minReplicas" | "maxReplicas" | "stepSeconds">>;
        const b = new SimBackend({ seed, params: config.params, workload: config.workload });
        const specs = config.faults ?? [];
        actions.forEach((action, k) => {
          if (k % 5 === 0) {
            const spec = specs[k % specs.length];
            const f = { id: k, atS: b.clock.now(), spec: spec as never, targetKey: (k * 0.37) % 1 };
            b.inject(f);
            if (k % 10 === 0) b.clear(f);
          }
          b.execute(action);
          b.clock.sleep(p.stepSeconds);
          checkSnapshot(b.observe(), p.minReplicas, p.maxReplicas, 10_000);
          b.drainEvents();
        });
      }),
      { numRuns: 30, seed: 7 },
    );
  });
});

/** Ready pods that are drained (from the pod rows). */
function countDrainedReady(s: Snapshot): number {
  const t = s.podTable;
  if (t === null) return 0;
  let n = 0;
  for (let i = 0; i < t.count; i++) if (t.phase[i] <= PodPhase.Degraded && t.drained[i] === 1) n++;
  return n;
}
