import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACTION_COUNT, Action, Missing } from "./contract.ts";
import {
  allowedActions,
  GUARD_MODES,
  type GuardContext,
  type GuardLimits,
  type GuardLimitsInput,
  type GuardProposal,
  GuardReason,
  guard,
  guardLimitsSchema,
} from "./guard.ts";

const limits = (over: GuardLimitsInput = {}) =>
  guardLimitsSchema.parse({ minReplicas: 1, maxReplicas: 5, minIntervalS: 60, ...over });

/** A context in which every rule passes for every action. */
const ctx = (over: Partial<GuardContext> = {}): GuardContext => ({
  now: 1000,
  lastActionAt: null,
  desiredReplicas: 3,
  missing: 0,
  ...over,
});

const propose = (action: Action, policyError?: string): GuardProposal =>
  policyError === undefined ? { action } : { action, policyError };

describe("guard rules", () => {
  it("guard allows every action when no rule applies", () => {
    for (const action of [Action.RestartPod, Action.ScaleUp, Action.ScaleDown, Action.DrainPod]) {
      expect(guard(propose(action), ctx(), limits())).toMatchObject({ action, reason: GuardReason.Allowed });
    }
    expect(guard(propose(Action.ScaleUp), ctx(), limits()).message).toBe("scale-up allowed: 3 -> 4 replicas");
  });

  it("guard reports a proposed noop as Noop", () => {
    expect(guard(propose(Action.Noop), ctx(), limits())).toEqual({
      action: Action.Noop,
      reason: GuardReason.Noop,
      message: "policy proposed noop",
    });
  });

  it("guard refuses scale-down at minReplicas", () => {
    const r = guard(propose(Action.ScaleDown), ctx({ desiredReplicas: 1 }), limits());
    expect(r).toEqual({
      action: Action.Noop,
      reason: GuardReason.MinReplicas,
      message: "scale-down refused: 1 replica is the minimum",
    });
  });

  it("guard refuses scale-down below minReplicas", () => {
    const r = guard(propose(Action.ScaleDown), ctx({ desiredReplicas: 1 }), limits({ minReplicas: 2 }));
    expect(r.reason).toBe(GuardReason.MinReplicas);
    expect(r.message).toBe("scale-down refused: 2 replicas is the minimum");
  });

  it("guard refuses scale-up at maxReplicas", () => {
    const r = guard(propose(Action.ScaleUp), ctx({ desiredReplicas: 5 }), limits());
    expect(r).toEqual({
      action: Action.Noop,
      reason: GuardReason.MaxReplicas,
      message: "scale-up refused: 5 replicas is the maximum",
    });
  });

  it("guard allows scale-down at maxReplicas and scale-up at minReplicas", () => {
    expect(guard(propose(Action.ScaleDown), ctx({ desiredReplicas: 5 }), limits()).reason).toBe(GuardReason.Allowed);
    expect(guard(propose(Action.ScaleUp), ctx({ desiredReplicas: 1 }), limits()).reason).toBe(GuardReason.Allowed);
  });

  it("guard refuses any action sooner than minIntervalS after the last executed action", () => {
    for (const action of [Action.RestartPod, Action.ScaleUp, Action.ScaleDown, Action.DrainPod]) {
      const r = guard(propose(action), ctx({ now: 100, lastActionAt: 50 }), limits());
      expect(r.action).toBe(Action.Noop);
      expect(r.reason).toBe(GuardReason.MinInterval);
    }
    expect(guard(propose(Action.RestartPod), ctx({ now: 100, lastActionAt: 50 }), limits()).message).toBe(
      "restart-pod refused: 50 s since the last action, minimum is 60 s",
    );
  });

  it("guard refuses an action one second short of minIntervalS", () => {
    expect(guard(propose(Action.RestartPod), ctx({ now: 109, lastActionAt: 50 }), limits()).reason).toBe(
      GuardReason.MinInterval,
    );
  });

  it("guard allows an action exactly minIntervalS after the last one", () => {
    expect(guard(propose(Action.RestartPod), ctx({ now: 110, lastActionAt: 50 }), limits()).reason).toBe(
      GuardReason.Allowed,
    );
  });

  it("guard executes nothing in observe-only mode", () => {
    const r = guard(propose(Action.RestartPod), ctx(), limits({ mode: "observe-only" }));
    expect(r).toEqual({
      action: Action.Noop,
      reason: GuardReason.ObserveOnly,
      message: "restart-pod not executed: observe-only mode",
    });
  });

  it("guard executes nothing while paused by the limits", () => {
    const r = guard(propose(Action.ScaleUp), ctx(), limits({ paused: true }));
    expect(r).toMatchObject({ action: Action.Noop, reason: GuardReason.Paused });
  });

  it("guard executes nothing while paused by the runtime switch", () => {
    const r = guard(propose(Action.ScaleUp), ctx({ paused: true }), limits());
    expect(r).toMatchObject({ action: Action.Noop, reason: GuardReason.Paused });
  });

  it("guard refuses to act on a snapshot with missing metrics", () => {
    const r = guard(propose(Action.DrainPod), ctx({ missing: Missing.Cpu | Missing.Latency }), limits());
    expect(r).toEqual({
      action: Action.Noop,
      reason: GuardReason.MetricsUnavailable,
      message: "drain-pod refused: metrics unavailable (Cpu, Latency)",
    });
  });

  it("guard holds an action in approve mode until it is approved", () => {
    const l = limits({ mode: "approve" });
    expect(guard(propose(Action.ScaleUp), ctx(), l)).toEqual({
      action: Action.Noop,
      reason: GuardReason.AwaitingApproval,
      message: "scale-up awaits approval",
    });
    expect(guard(propose(Action.ScaleUp), ctx({ approved: true }), l)).toMatchObject({
      action: Action.ScaleUp,
      reason: GuardReason.Allowed,
    });
  });

  it("guard executes an allowed fallback action as PolicyUnavailable", () => {
    const r = guard(propose(Action.ScaleUp, "timed out after 1000 ms"), ctx(), limits());
    expect(r).toEqual({
      action: Action.ScaleUp,
      reason: GuardReason.PolicyUnavailable,
      message: "policy unavailable (timed out after 1000 ms); fallback scale-up executed: 3 -> 4 replicas",
    });
  });

  it("guard reports a noop fallback as PolicyUnavailable", () => {
    const r = guard(propose(Action.Noop, "threw: boom"), ctx(), limits());
    expect(r).toEqual({
      action: Action.Noop,
      reason: GuardReason.PolicyUnavailable,
      message: "policy unavailable (threw: boom); fallback proposed noop",
    });
  });

  it("guard refuses a fallback action by the same rules, naming the refusal", () => {
    const r = guard(propose(Action.ScaleUp, "threw: boom"), ctx({ desiredReplicas: 5 }), limits());
    expect(r).toEqual({
      action: Action.Noop,
      reason: GuardReason.MaxReplicas,
      message: "policy unavailable (threw: boom); fallback scale-up refused: 5 replicas is the maximum",
    });
  });
});

describe("guard precedence", () => {
  // Each row breaks every rule from its own position on, so only precedence decides.
  const everythingWrong = (over: Partial<GuardContext> = {}) =>
    ctx({ desiredReplicas: 5, missing: Missing.Cpu, now: 10, lastActionAt: 0, paused: true, ...over });

  it("guard orders Paused > ObserveOnly > MetricsUnavailable > MaxReplicas > MinInterval > AwaitingApproval", () => {
    const up = propose(Action.ScaleUp);
    expect(guard(up, everythingWrong(), limits({ mode: "observe-only" })).reason).toBe(GuardReason.Paused);
    expect(guard(up, everythingWrong({ paused: false }), limits({ mode: "observe-only" })).reason).toBe(
      GuardReason.ObserveOnly,
    );
    expect(guard(up, everythingWrong({ paused: false }), limits({ mode: "approve" })).reason).toBe(
      GuardReason.MetricsUnavailable,
    );
    expect(guard(up, everythingWrong({ paused: false, missing: 0 }), limits({ mode: "approve" })).reason).toBe(
      GuardReason.MaxReplicas,
    );
    expect(
      guard(up, everythingWrong({ paused: false, missing: 0, desiredReplicas: 3 }), limits({ mode: "approve" })).reason,
    ).toBe(GuardReason.MinInterval);
    expect(
      guard(
        up,
        everythingWrong({ paused: false, missing: 0, desiredReplicas: 3, lastActionAt: null }),
        limits({ mode: "approve" }),
      ).reason,
    ).toBe(GuardReason.AwaitingApproval);
  });

  it("guard reports MinReplicas before MinInterval", () => {
    const r = guard(propose(Action.ScaleDown), ctx({ desiredReplicas: 1, now: 10, lastActionAt: 0 }), limits());
    expect(r.reason).toBe(GuardReason.MinReplicas);
  });

  it("guard reports a proposed noop as Noop whatever else holds", () => {
    expect(guard(propose(Action.Noop), everythingWrong(), limits({ mode: "observe-only" })).reason).toBe(
      GuardReason.Noop,
    );
  });
});

describe("guard limits schema", () => {
  it("guardLimitsSchema applies the documented defaults", () => {
    expect(guardLimitsSchema.parse({})).toEqual({
      mode: "autonomous",
      paused: false,
      minIntervalS: 60,
      minReplicas: 1,
      maxReplicas: 10,
      fallback: "noop",
      policyTimeoutMs: 1000,
    });
  });

  it("guardLimitsSchema refuses minReplicas 0 and min > max", () => {
    expect(guardLimitsSchema.safeParse({ minReplicas: 0 }).success).toBe(false);
    expect(guardLimitsSchema.safeParse({ minReplicas: 4, maxReplicas: 3 }).success).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// Properties: the guard alone, driving a toy deployment (replica count and clock).

interface Step {
  readonly action: Action;
  readonly dt: number;
  readonly fallback: boolean;
  readonly missing: boolean;
  readonly approved: boolean;
}

/** True about one time in ten (fast-check's doubles lean to 0, so `u < 0.1` would be nearly always). */
const rarely = fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 });

const stepArb: fc.Arbitrary<Step> = fc.record({
  action: fc.integer({ min: 0, max: ACTION_COUNT - 1 }) as fc.Arbitrary<Action>,
  // Step sizes around the usual 10 s step and around the intervals below, where off-by-one bugs live.
  dt: fc.oneof(fc.constantFrom(0, 1, 9, 10, 29, 30, 59, 60, 61), fc.double({ min: 0, max: 200, noNaN: true })),
  fallback: fc.boolean(),
  missing: rarely,
  approved: fc.boolean(),
});

const limitsArb: fc.Arbitrary<GuardLimits> = fc
  .record({
    mode: fc.constantFrom(...GUARD_MODES),
    paused: rarely,
    minIntervalS: fc.constantFrom(0, 10, 30, 60, 120),
    minReplicas: fc.integer({ min: 1, max: 4 }),
    span: fc.integer({ min: 0, max: 6 }),
  })
  .map(({ span, ...l }) => guardLimitsSchema.parse({ ...l, maxReplicas: l.minReplicas + span }));

interface Executed {
  readonly at: number;
  readonly action: Action;
}

/** Runs a proposal sequence through the guard, applying executed scale actions to the replica count. */
function simulate(limits: GuardLimits, start: number, steps: readonly Step[]) {
  let now = 0;
  let replicas = start;
  let lastActionAt: number | null = null;
  const executed: Executed[] = [];
  const replicaTrace: number[] = [replicas];
  for (const s of steps) {
    now += s.dt;
    const proposal = propose(s.action, s.fallback ? "threw" : undefined);
    const r = guard(
      proposal,
      { now, lastActionAt, desiredReplicas: replicas, missing: s.missing ? Missing.Pods : 0, approved: s.approved },
      limits,
    );
    // The guard never invents an action: it executes the proposal or nothing.
    if (r.action !== Action.Noop && r.action !== s.action) throw new Error(`guard executed ${r.action}`);
    if (r.action !== Action.Noop) {
      executed.push({ at: now, action: r.action });
      lastActionAt = now;
      if (r.action === Action.ScaleUp) replicas++;
      if (r.action === Action.ScaleDown) replicas--;
    }
    replicaTrace.push(replicas);
  }
  return { executed, replicaTrace };
}

const scenarioArb = limitsArb.chain((l) =>
  fc.record({
    limits: fc.constant(l),
    start: fc.integer({ min: l.minReplicas, max: l.maxReplicas }),
    steps: fc.array(stepArb, { maxLength: 200 }),
  }),
);

describe("guard properties", () => {
  it("replicas never leave [minReplicas, maxReplicas]", () => {
    fc.assert(
      fc.property(scenarioArb, ({ limits, start, steps }) => {
        const { replicaTrace } = simulate(limits, start, steps);
        for (const r of replicaTrace) {
          expect(r).toBeGreaterThanOrEqual(limits.minReplicas);
          expect(r).toBeLessThanOrEqual(limits.maxReplicas);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("no two executed actions are closer than minIntervalS", () => {
    fc.assert(
      fc.property(scenarioArb, ({ limits, start, steps }) => {
        const { executed } = simulate(limits, start, steps);
        for (let i = 1; i < executed.length; i++) {
          expect(executed[i].at - executed[i - 1].at).toBeGreaterThanOrEqual(limits.minIntervalS);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("observe-only and paused execute nothing", () => {
    fc.assert(
      fc.property(scenarioArb, ({ limits, start, steps }) => {
        const { executed } = simulate(limits, start, steps);
        if (limits.mode === "observe-only" || limits.paused) expect(executed).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it("approve mode executes only approved proposals, and nothing on missing metrics", () => {
    fc.assert(
      fc.property(scenarioArb, ({ limits, start, steps }) => {
        let now = 0;
        let replicas = start;
        let last: number | null = null;
        for (const s of steps) {
          now += s.dt;
          const missing = s.missing ? Missing.Cpu : 0;
          const r = guard(
            propose(s.action),
            { now, lastActionAt: last, desiredReplicas: replicas, missing, approved: s.approved },
            limits,
          );
          if (r.action === Action.Noop) continue;
          expect(missing).toBe(0);
          if (limits.mode === "approve") expect(s.approved).toBe(true);
          last = now;
          if (r.action === Action.ScaleUp) replicas++;
          if (r.action === Action.ScaleDown) replicas--;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("allowedActions", () => {
  it("masks exactly what an unpaused autonomous guard refuses, on complete metrics", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 0, max: 12 }),
        fc.option(fc.integer({ min: 0, max: 200 })),
        (minReplicas, extra, minIntervalS, replicas, last) => {
          const l = limits({ minReplicas, maxReplicas: minReplicas + extra, minIntervalS });
          const c = ctx({ now: 200, lastActionAt: last, desiredReplicas: replicas });
          const mask = allowedActions(c, l, new Uint8Array(ACTION_COUNT));
          for (let a = 0 as Action; a < ACTION_COUNT; a++) {
            const executes = a === Action.Noop || guard(propose(a), c, l).action === a;
            expect(mask[a], `action ${a}`).toBe(executes ? 1 : 0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("leaves the operator's switches and missing metrics to the guard, so proposals stay visible", () => {
    const mask = new Uint8Array(ACTION_COUNT);
    for (const over of [{ paused: true }, { mode: "observe-only" }, { mode: "approve" }] as const) {
      const c = ctx({ missing: Missing.Cpu, paused: "paused" in over });
      expect([...allowedActions(c, limits("mode" in over ? { mode: over.mode } : {}), mask)]).toEqual([1, 1, 1, 1, 1]);
    }
  });

  it("masks every action but noop within minIntervalS of the last action", () => {
    const mask = allowedActions(ctx({ now: 100, lastActionAt: 50 }), limits(), new Uint8Array(ACTION_COUNT));
    expect([...mask]).toEqual([1, 0, 0, 0, 0]);
  });
});
