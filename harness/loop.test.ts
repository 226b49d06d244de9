import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SimBackend } from "../sim/backend.ts";
import { OBS_V1_CODEC, registerCodec, type StateCodec } from "./core/codecs.ts";
import { Action, type Decision, type FaultInjection, type Policy } from "./core/contract.ts";
import { type GuardLimitsInput, guardLimitsSchema } from "./core/guard.ts";
import { generateSchedule } from "./core/schedule.ts";
import { type EpisodeOptions, type LoopEvent, runEpisode, type StepRecord } from "./loop.ts";

const slo = { latencyMs: 300, errorRate: 0.01 };

/** A policy that replays a fixed list of actions (noop once the list is exhausted). */
function scripted(actions: readonly number[], name = "scripted"): Policy {
  let i = 0;
  return { name, decide: (): Decision => ({ action: (actions[i++] ?? 0) as Action, confidence: 1 }) };
}

interface Recorded {
  steps: (Omit<StepRecord, "snapshot" | "state"> & { replicas: number })[];
  events: LoopEvent[];
}

async function run(
  policy: Policy,
  over: Partial<EpisodeOptions> & { guard?: GuardLimitsInput; seed?: number; workload?: object } = {},
): Promise<Recorded> {
  const out: Recorded = { steps: [], events: [] };
  const backend = new SimBackend({ seed: over.seed ?? 1, workload: over.workload });
  await runEpisode(
    {
      backend,
      policy,
      fallback: null,
      schedule: [],
      steps: 60,
      stepSeconds: 10,
      codec: { maxReplicas: 10, episodeSeconds: 600 },
      limits: guardLimitsSchema.parse(over.guard ?? {}),
      slo,
      confirmWindowS: 30,
      ...over,
    },
    {
      onStep: ({ snapshot, state: _state, ...r }) => out.steps.push({ ...r, replicas: snapshot.desiredReplicas }),
      onEvent: (e) => out.events.push(e),
    },
  );
  return out;
}

describe("controller loop", () => {
  it("records one audit row per step with the proposal, the guard's verdict and its reason", async () => {
    const r = await run(scripted([Action.ScaleUp, Action.ScaleUp]));
    expect(r.steps).toHaveLength(60);
    expect(r.steps[0]).toMatchObject({
      step: 0,
      time: 0,
      proposed: Action.ScaleUp,
      executed: Action.ScaleUp,
      reason: "Allowed",
      applied: true,
    });
    expect(r.steps[1]).toMatchObject({
      time: 10,
      proposed: Action.ScaleUp,
      executed: Action.Noop,
      reason: "MinInterval",
    });
    expect(r.steps[2]).toMatchObject({ proposed: Action.Noop, reason: "Noop" });
    expect(r.events.filter((e) => e.kind === "action-executed")).toHaveLength(1);
    expect(r.events.filter((e) => e.kind === "action-refused")).toHaveLength(1);
    expect(r.steps.at(-1)!.replicas).toBe(4);
  });

  it("turns a throwing policy into a fallback decision and keeps running", async () => {
    const throwing: Policy = {
      name: "broken",
      decide: () => {
        throw new Error("model file vanished");
      },
    };
    const fallback = scripted([Action.ScaleUp]);
    const r = await run(throwing, { fallback });
    expect(r.steps).toHaveLength(60);
    expect(r.steps[0]).toMatchObject({ executed: Action.ScaleUp, reason: "PolicyUnavailable" });
    expect(r.steps[5]).toMatchObject({ executed: Action.Noop, reason: "PolicyUnavailable" });
    expect(r.events.filter((e) => e.kind === "policy-error")).toHaveLength(60);
    expect(r.events[0]!.detail).toBe("model file vanished");
  });

  it("treats an out-of-range action as a policy failure", async () => {
    const r = await run(scripted([9]));
    expect(r.steps[0]).toMatchObject({ executed: Action.Noop, reason: "PolicyUnavailable" });
    expect(r.events[0]).toMatchObject({ kind: "policy-error", detail: "proposed invalid action 9" });
  });

  it("times out a policy that does not answer and falls back", async () => {
    const slow: Policy = { name: "slow", decide: () => new Promise<Decision>(() => {}) };
    const r = await run(slow, { steps: 2, guard: { policyTimeoutMs: 5 } });
    expect(r.steps.map((s) => s.reason)).toEqual(["PolicyUnavailable", "PolicyUnavailable"]);
    expect(r.events[0]!.detail).toBe("timed out after 5 ms");
  });

  it("executes nothing in observe-only mode but records every proposal", async () => {
    const r = await run(scripted(Array(60).fill(Action.ScaleUp)), { guard: { mode: "observe-only" } });
    expect(r.steps.every((s) => s.proposed === Action.ScaleUp && s.executed === Action.Noop)).toBe(true);
    expect(r.steps.every((s) => s.reason === "ObserveOnly")).toBe(true);
    expect(r.steps.at(-1)!.replicas).toBe(3);
  });

  it("asks the approver in approve mode and executes only what it approves", async () => {
    const asked: number[] = [];
    const r = await run(scripted([Action.ScaleUp, 0, 0, 0, 0, 0, 0, Action.ScaleUp]), {
      guard: { mode: "approve" },
      approve: (action) => {
        asked.push(action);
        return asked.length === 1;
      },
    });
    expect(asked).toEqual([Action.ScaleUp, Action.ScaleUp]);
    expect(r.steps[0]).toMatchObject({ executed: Action.ScaleUp, reason: "Allowed" });
    expect(r.steps[7]).toMatchObject({ executed: Action.Noop, reason: "AwaitingApproval" });
  });

  it("injects scheduled faults at their time and clears them when their duration ends", async () => {
    const schedule: FaultInjection[] = [
      { id: 0, atS: 100, spec: { type: "cpu-stress", durationS: 120, load: 0.6 }, targetKey: 0.1 },
      { id: 1, atS: 400, spec: { type: "pod-kill" }, targetKey: 0.5 },
    ];
    const r = await run(scripted([]), { schedule });
    const faults = r.events.filter((e) => e.kind.startsWith("fault-")).map((e) => [e.kind, e.time, e.faultId]);
    const end = r.events.find((e) => e.kind === "fault-ended" && e.faultId === 1)!.time;
    expect(faults).toEqual([
      ["fault-injected", 100, 0],
      ["fault-cleared", 220, 0],
      ["fault-ended", 220, 0],
      ["fault-injected", 400, 1],
      // The kill's effect ends when its replacement pod is ready.
      ["fault-ended", end, 1],
    ]);
    expect(end).toBeGreaterThan(400);
    // Live faults by the backend's events: the stress from 100 s to 220 s, the kill from 400 s.
    // A fault injected at a step's time is injected after that step's observation
    // (core/step.ts), so the observation at 400 s does not count the kill yet; 410 s does.
    expect(r.steps.find((s) => s.time === 150)!.activeFaults).toBe(1);
    expect(r.steps.find((s) => s.time === 230)!.activeFaults).toBe(0);
    expect(r.steps.find((s) => s.time === 400)!.activeFaults).toBe(0);
    expect(r.steps.find((s) => s.time === 410)!.activeFaults).toBe(1);
    expect(r.steps.find((s) => s.time === end)!.activeFaults).toBe(0);
  });

  it("records scheduled faults due after the last step as unreached", async () => {
    const schedule: FaultInjection[] = [
      { id: 0, atS: 100, spec: { type: "pod-kill" }, targetKey: 0 },
      { id: 1, atS: 5000, spec: { type: "pod-kill" }, targetKey: 0 },
    ];
    const r = await run(scripted([]), { schedule });
    expect(r.events.filter((e) => e.kind === "fault-unreached")).toEqual([
      expect.objectContaining({ faultId: 1, time: 5000 }),
    ]);
  });

  it("clears live faults when the episode is aborted", async () => {
    const controller = new AbortController();
    const schedule: FaultInjection[] = [
      { id: 0, atS: 0, spec: { type: "network-delay", durationS: 1000, delayMs: 300 }, targetKey: 0 },
    ];
    const cleared: number[] = [];
    const backend = new SimBackend({ seed: 1 });
    const clear = backend.clear.bind(backend);
    backend.clear = (f) => {
      cleared.push(f.id);
      clear(f);
    };
    const result = await runEpisode(
      {
        backend,
        policy: {
          name: "abort",
          decide: () => {
            controller.abort();
            return { action: Action.Noop, confidence: 1 };
          },
        },
        fallback: null,
        schedule,
        steps: 50,
        stepSeconds: 10,
        codec: { maxReplicas: 10, episodeSeconds: 500 },
        limits: guardLimitsSchema.parse({}),
        slo,
        confirmWindowS: 30,
        signal: controller.signal,
      },
      {},
    );
    expect(result).toEqual({ status: "aborted", steps: 1 });
    expect(cleared).toEqual([0]);
  });

  it("records a regression when the SLO is worse one window after an action", async () => {
    // At 240 rps, 3 replicas run at ~80% CPU; scaling down to 2 overloads them.
    const r = await run(scripted([Action.ScaleDown]), { workload: { baseRps: 240, noise: 0 } });
    const regression = r.events.find((e) => e.kind === "regression");
    expect(regression).toMatchObject({ time: 30, action: Action.ScaleDown });
  });

  it("records no regression for an action that helps", async () => {
    const r = await run(scripted([Action.ScaleUp]), { workload: { baseRps: 240, noise: 0 } });
    expect(r.events.some((e) => e.kind === "regression")).toBe(false);
  });

  it("records a breach and the recovery once the SLO holds for the confirmation window", async () => {
    const schedule: FaultInjection[] = [
      { id: 0, atS: 50, spec: { type: "network-delay", durationS: 100, delayMs: 400 }, targetKey: 0 },
    ];
    const r = await run(scripted([]), { schedule });
    const kinds = r.events.filter((e) => e.kind === "slo-breached" || e.kind === "recovered");
    expect(kinds.map((e) => e.kind)).toEqual(["slo-breached", "recovered"]);
    const firstBad = r.steps.find((s) => !s.sloOk)!.time;
    const lastBad = r.steps.findLast((s) => !s.sloOk)!.time;
    expect(kinds[0]!.time).toBe(firstBad);
    expect(kinds[1]!.time).toBe(lastBad + 10);
  });
});

describe("masked policy (actionMask guard)", () => {
  it("is passed what the guard's limits allow each step, so it is never refused, and the rest of the policies are not", async () => {
    const masks: number[][] = [];
    // Always wants to scale up: whenever the mask allows it.
    const masked: Policy = {
      name: "masked",
      actionMask: "guard",
      decide: (_s, _snap, _signal, allowed): Decision => {
        masks.push([...allowed!]);
        return { action: allowed![Action.ScaleUp] === 1 ? Action.ScaleUp : Action.Noop, confidence: 1 };
      },
    };
    const r = await run(masked, { guard: { maxReplicas: 5, minIntervalS: 30 } });
    expect(masks).toHaveLength(60);
    // From 3 replicas, every 30 s (3 steps of 10 s) up to the ceiling of 5, then only noop.
    const ups = r.steps.filter((s) => s.executed === Action.ScaleUp).map((s) => s.time);
    expect(ups).toEqual([0, 30]);
    expect(r.steps.every((s) => s.reason === "Allowed" || s.reason === "Noop")).toBe(true);
    expect(masks[1]).toEqual([1, 0, 0, 0, 0]);
    expect(masks[3]).toEqual([1, 1, 1, 1, 1]);
    expect(masks.at(-1)).toEqual([1, 1, 0, 1, 1]);
    let given: Uint8Array | undefined = new Uint8Array(1);
    await run({
      name: "plain",
      decide: (_s, _snap, _signal, allowed): Decision => {
        given = allowed;
        return { action: Action.Noop, confidence: 1 };
      },
    });
    expect(given).toBeUndefined();
  });
});

describe("controller loop properties", () => {
  const arbitraryRun = fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    actions: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 40, maxLength: 40 }),
    faults: fc.subarray(
      ["pod-kill", "pod-failure", "cpu-stress", "memory-leak", "network-delay", "load-spike"] as const,
      {
        minLength: 1,
      },
    ),
    meanIntervalS: fc.integer({ min: 30, max: 300 }),
    minReplicas: fc.integer({ min: 1, max: 3 }),
    extra: fc.integer({ min: 0, max: 5 }),
    minIntervalS: fc.integer({ min: 0, max: 90 }),
    throwEvery: fc.integer({ min: 0, max: 5 }),
  });

  it("keeps replicas within [min, max], spaces actions by the minimum interval, survives throwing policies", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryRun, async (c) => {
        const maxReplicas = c.minReplicas + c.extra;
        let calls = 0;
        const policy: Policy = {
          name: "chaotic",
          decide: () => {
            calls++;
            if (c.throwEvery > 0 && calls % c.throwEvery === 0) throw new Error("boom");
            return { action: c.actions[calls % c.actions.length] as Action, confidence: 1 };
          },
        };
        const schedule = generateSchedule({
          faults: c.faults.map((type) => ({ type })),
          frequency: { kind: "poisson", meanIntervalS: c.meanIntervalS },
          episodeSeconds: 400,
          seed: c.seed,
        });
        const r = await run(policy, {
          seed: c.seed,
          schedule,
          steps: 40,
          guard: { minReplicas: c.minReplicas, maxReplicas, minIntervalS: c.minIntervalS },
        });
        expect(r.steps).toHaveLength(40);
        const executedAt = r.steps.filter((s) => s.applied).map((s) => s.time);
        for (let i = 1; i < executedAt.length; i++) {
          expect(executedAt[i]! - executedAt[i - 1]!).toBeGreaterThanOrEqual(c.minIntervalS);
        }
        // The sim starts at 3 replicas; once within the limits the guard keeps it there.
        for (const s of r.steps) {
          if (s.executed === Action.ScaleUp) expect(s.replicas).toBeLessThan(maxReplicas);
          if (s.executed === Action.ScaleDown) expect(s.replicas).toBeGreaterThan(c.minReplicas);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("executes nothing in observe-only mode whatever the policy proposes", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryRun, async (c) => {
        const r = await run(scripted(c.actions), { seed: c.seed, steps: 40, guard: { mode: "observe-only" } });
        expect(r.steps.every((s) => s.executed === Action.Noop && !s.applied)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});

describe("codec per policy", () => {
  const errorCodec: StateCodec = {
    name: "test-loop-errors",
    code: 210,
    dim: 1,
    features: ["error rate x 2"],
    create: () => ({
      encode: (s, out) => {
        out[0] = s.errorRate * 2;
        return out;
      },
    }),
  };
  registerCodec(errorCodec);

  it("feeds a policy its own codec's vector, records that codec per step and keeps obs-v1 in the trace", async () => {
    const seen: number[][] = [];
    const policy: Policy = {
      name: "reads-errors",
      codec: errorCodec.name,
      decide: (state) => {
        seen.push([...state]);
        return { action: Action.Noop, confidence: 1 };
      },
    };
    const codes: number[] = [];
    const traced: number[][] = [];
    const errors: number[] = [];
    await runEpisode(
      {
        backend: new SimBackend({ seed: 3 }),
        policy,
        fallback: null,
        schedule: [],
        steps: 5,
        stepSeconds: 10,
        codec: { maxReplicas: 10, episodeSeconds: 50 },
        limits: guardLimitsSchema.parse({}),
        slo,
        confirmWindowS: 30,
      },
      {
        onStep: (r) => {
          codes.push(r.codec);
          traced.push([...r.state]);
          errors.push(r.snapshot.errorRate);
        },
      },
    );
    expect(seen.map((v) => v.length)).toEqual([1, 1, 1, 1, 1]);
    expect(seen.map((v) => v[0])).toEqual(errors.map((e) => Math.fround(e * 2)));
    expect(codes).toEqual([210, 210, 210, 210, 210]);
    expect(traced.every((v) => v.length === OBS_V1_CODEC.dim)).toBe(true);
  });

  it("records the fallback's codec on a step the fallback decided, and 0 with no fallback policy", async () => {
    let calls = 0;
    const flaky: Policy = {
      name: "flaky",
      codec: errorCodec.name,
      decide: () => {
        if (calls++ % 2 === 1) throw new Error("every other call fails");
        return { action: Action.Noop, confidence: 1 };
      },
    };
    const withFallback = await run(flaky, { steps: 4, fallback: scripted([]) });
    expect(withFallback.steps.map((s) => s.codec)).toEqual([210, OBS_V1_CODEC.code, 210, OBS_V1_CODEC.code]);
    calls = 0;
    const noFallback = await run(flaky, { steps: 2 });
    expect(noFallback.steps.map((s) => s.codec)).toEqual([210, 0]);
  });

  it("refuses a policy whose codec is not registered before the first step", async () => {
    await expect(run({ ...scripted([]), codec: "obs-v9" }, { steps: 2 })).rejects.toMatchObject({
      code: "CodecUnknown",
    });
  });
});

describe("pod identity in event rows", () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const podKill: FaultInjection = {
    id: 0,
    atS: 20,
    spec: { type: "pod-kill" } as FaultInjection["spec"],
    targetKey: 0.5,
  };

  it("names the pod of every action and pod event by name and uid, and no pod by empty strings", async () => {
    const r = await run(scripted([Action.RestartPod, 0, 0, 0, 0, 0, 0, 0, Action.DrainPod]), {
      schedule: [podKill],
      steps: 12,
    });
    const withPod = r.events.filter((e) => e.podId >= 0);
    expect(withPod.map((e) => e.kind)).toEqual(
      expect.arrayContaining(["action-executed", "fault-injected", "pod-replaced", "pod-ready"]),
    );
    for (const e of withPod) {
      expect(e.podName, `${e.kind} pod ${e.podId}`).toMatch(new RegExp(`^sim-[0-9a-f]{8}-${e.podId}$`));
      expect(e.podUid, `${e.kind} pod ${e.podId}`).toMatch(UUID);
    }
    for (const e of r.events.filter((x) => x.podId < 0)) expect(e).toMatchObject({ podName: "", podUid: "" });
  });

  it("takes name and uid from the observed pod rows when the backend reports a pod id only", async () => {
    const sim = new SimBackend({ seed: 3 });
    const seen = new Map<number, [string, string]>();
    // A backend that knows pods by id only (as a cluster backend may for an action's outcome).
    const idOnly = {
      clock: sim.clock,
      observe: () => {
        const s = sim.observe();
        const t = s.podTable!;
        for (let i = 0; i < t.count; i++) seen.set(t.id[i]!, [t.name[i]!, t.uid[i]!]);
        return s;
      },
      execute: (a: Action) => {
        const { podName: _n, podUid: _u, ...o } = sim.execute(a);
        return o;
      },
      inject: (f: FaultInjection) => sim.inject(f),
      clear: (f: FaultInjection) => sim.clear(f),
      drainEvents: () => sim.drainEvents().map(({ podName: _n, podUid: _u, ...e }) => e),
    };
    const events: LoopEvent[] = [];
    await runEpisode(
      {
        backend: idOnly,
        policy: scripted([Action.RestartPod]),
        fallback: null,
        schedule: [],
        steps: 3,
        stepSeconds: 10,
        codec: { maxReplicas: 10, episodeSeconds: 600 },
        limits: guardLimitsSchema.parse({}),
        slo,
        confirmWindowS: 30,
      },
      { onEvent: (e) => events.push(e) },
    );
    const restart = events.find((e) => e.kind === "action-executed")!;
    expect(restart.podId).toBeGreaterThanOrEqual(0);
    const [name, uid] = seen.get(restart.podId)!;
    expect(restart).toMatchObject({ podName: name, podUid: uid });
  });
});
