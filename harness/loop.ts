/**
 * The controller loop (DESIGN.md, "The controller loop"): every observation interval,
 * observe -> encode -> decide -> guard -> execute -> record. Written against `Backend`
 * and `Clock` only, so the same function drives the simulator (virtual clock, as fast as
 * the CPU allows) and a cluster (wall clock). It never branches on which policy or
 * backend it runs.
 *
 * Synchronous backends and policies (the simulator path) run without a microtask per
 * step: a value is awaited only when it is a Promise.
 */
import {
  ACTION_NAMES,
  Action,
  type Backend,
  type BackendEvent,
  type CodecContext,
  copySnapshotScalars,
  createSnapshot,
  type Decision,
  encodeObsV1,
  type FaultInjection,
  isAction,
  type MaybePromise,
  OBS_V1,
  type Policy,
  type ReplicaLimits,
  type Slo,
  type Snapshot,
  sloHolds,
} from "./contract.ts";
import { type GuardLimits, type GuardReason, guard } from "./guard.ts";

/** What one step of the loop records: the audit row (who/what/when/why). Reused buffers. */
export interface StepRecord {
  step: number;
  /** Seconds since the episode start, at observation. */
  time: number;
  snapshot: Snapshot;
  /** The encoded state the policy saw (`obs-v1`). */
  state: Float32Array;
  proposed: Action;
  confidence: number;
  /** What the guard let through (noop when refused). */
  executed: Action;
  reason: GuardReason;
  message: string;
  /** Whether the backend actually carried out `executed` (false for noop). */
  applied: boolean;
  sloOk: boolean;
  /**
   * Reward of the transition that ended at this observation: `reward(previous snapshot,
   * this snapshot, action executed at the previous step)`; 0 at step 0 or without a
   * reward function. An episode's return is the sum over its steps.
   */
  reward: number;
  /**
   * Faults whose effect is live at this observation: injected and not yet ended, by the
   * backend's `fault-injected` and `fault-ended` events (contract.ts `FaultEndCause`).
   */
  activeFaults: number;
}

export type LoopEventKind =
  | BackendEvent["kind"]
  | "action-executed"
  | "action-refused"
  | "policy-error"
  | "regression"
  | "slo-breached"
  | "recovered"
  /** A scheduled fault whose time fell past the episode's last step: it never ran. */
  | "fault-unreached";

export interface LoopEvent {
  readonly time: number;
  readonly kind: LoopEventKind;
  /** Action id for action events, else -1. */
  readonly action: number;
  readonly podId: number;
  readonly faultId: number;
  /** fault-injected on a pod: the target's rank among running pods; else -1 or absent. */
  readonly targetRank?: number;
  readonly detail: string;
}

/** Hooks a recorder implements (DuckDB appender, progress, summaries). */
export interface EpisodeSink {
  onStep?(record: StepRecord): void;
  onEvent?(event: LoopEvent): void;
}

export interface EpisodeOptions {
  readonly backend: Backend;
  readonly policy: Policy;
  /** Decides when `policy` throws or times out; null means noop. */
  readonly fallback: Policy | null;
  /** Fault injections, sorted by time; computed from the seed alone. */
  readonly schedule: readonly FaultInjection[];
  readonly steps: number;
  readonly stepSeconds: number;
  readonly codec: CodecContext;
  readonly limits: GuardLimits;
  readonly slo: Slo;
  /** Seconds the SLO must hold to call a breach over, and the delay of the regression check. */
  readonly confirmWindowS: number;
  /** Asked in `approve` mode about actions the guard would otherwise allow. */
  readonly approve?: (action: Action, snapshot: Snapshot) => MaybePromise<boolean>;
  readonly signal?: AbortSignal;
  /** Scores each transition for the trace (e.g. sim/reward.ts's `seedReward`). */
  readonly reward?: (
    prev: Readonly<Snapshot>,
    cur: Readonly<Snapshot>,
    action: Action,
    limits: ReplicaLimits,
  ) => number;
}

export interface EpisodeResult {
  readonly status: "completed" | "aborted";
  readonly steps: number;
}

/**
 * The loop awaits only what is asynchronous (the cluster, an ONNX policy): the simulator's
 * calls return at once, and an `await` per call would cost a microtask each.
 */
function isPromise<T>(x: MaybePromise<T>): x is Promise<T> {
  return typeof (x as Promise<T> | null)?.then === "function";
}

/**
 * SLO pressure: the worse of latency and error rate as a multiple of their ceilings
 * (<= 1 while the SLO holds), infinite with no ready replica. A regression is an action
 * after which, one confirmation window later, the SLO is breached and the pressure is more
 * than 10% above what it was just before the action.
 */
export function sloPressure(s: Snapshot, slo: Slo): number {
  if (s.readyReplicas < 1) return Number.POSITIVE_INFINITY;
  return Math.max(s.latencyMs / slo.latencyMs, s.errorRate / slo.errorRate);
}

const REGRESSION_MARGIN = 1.1;
const NOOP_FALLBACK: Decision = Object.freeze({ action: Action.Noop, confidence: 0, reason: "fallback: noop" });

/** Runs one episode through the loop and reports every step and event to `sink`. */
export async function runEpisode(o: EpisodeOptions, sink: EpisodeSink): Promise<EpisodeResult> {
  const { backend, policy, limits, slo } = o;
  const clock = backend.clock;
  const state = new Float32Array(OBS_V1.dim);
  const record = {} as StepRecord;
  const emit = (time: number, kind: LoopEventKind, detail: string, action = -1, podId = -1) =>
    sink.onEvent?.({ time, kind, detail, action, podId, faultId: -1 });

  let nextFault = 0;
  // Timed faults to clear when their duration is over.
  const active: { fault: FaultInjection; endsAt: number }[] = [];
  // Faults whose effect is live, by the backend's events.
  const live = new Set<number>();
  let lastActionAt: number | null = null;
  const checks: { due: number; action: Action; pressure: number }[] = [];
  let breachedAt: number | null = null;
  let holdingSince: number | null = null;
  // Scalars of the previous observation (the backend's snapshot is a reused buffer).
  const prev = createSnapshot();
  let prevExecuted: Action = Action.Noop;
  // The guard's arguments, refilled every step: it keeps no reference to them.
  const proposal: { action: Action; policyError: string | undefined } = { action: Action.Noop, policyError: undefined };
  const context = { now: 0, lastActionAt: null as number | null, desiredReplicas: 0, missing: 0, approved: false };

  try {
    for (let step = 0; step < o.steps; step++) {
      if (o.signal?.aborted) return { status: "aborted", steps: step };
      const now = clock.now();

      // Faults come from the schedule alone: end the expired ones, then inject the due ones.
      // The backend reports each as an event, with the pod it hit.
      for (let i = active.length - 1; i >= 0; i--) {
        const a = active[i]!;
        if (a.endsAt <= now) {
          const cleared = backend.clear(a.fault);
          if (isPromise(cleared)) await cleared;
          active.splice(i, 1);
        }
      }
      while (nextFault < o.schedule.length && o.schedule[nextFault]!.atS <= now) {
        const fault = o.schedule[nextFault++]!;
        const injected = backend.inject(fault);
        if (isPromise(injected)) await injected;
        if ("durationS" in fault.spec) active.push({ fault, endsAt: fault.atS + fault.spec.durationS });
      }

      // Observe and encode.
      const observed = backend.observe();
      const snapshot = isPromise(observed) ? await observed : observed;
      encodeObsV1(snapshot, o.codec, state);

      // Decide; a policy that throws or times out hands over to the fallback.
      let decision: Decision;
      let policyError: string | undefined;
      try {
        const d = decideWithin(policy, state, snapshot, limits.policyTimeoutMs);
        decision = isPromise(d) ? await d : d;
        if (!isAction(decision.action)) throw new Error(`proposed invalid action ${String(decision.action)}`);
      } catch (err) {
        policyError = err instanceof Error ? err.message : String(err);
        emit(now, "policy-error", policyError);
        const d = o.fallback ? decideWithin(o.fallback, state, snapshot, limits.policyTimeoutMs) : NOOP_FALLBACK;
        decision = isPromise(d) ? await d : d;
      }

      // Guard: the only way to the backend. Approval is asked only for actions that would run.
      proposal.action = decision.action;
      proposal.policyError = policyError;
      context.now = now;
      context.lastActionAt = lastActionAt;
      context.desiredReplicas = snapshot.desiredReplicas;
      context.missing = snapshot.missing;
      context.approved = false;
      let verdict = guard(proposal, context, limits);
      if (verdict.reason === "AwaitingApproval" && o.approve) {
        const ok = o.approve(decision.action, snapshot);
        if (isPromise(ok) ? await ok : ok) {
          context.approved = true;
          verdict = guard(proposal, context, limits);
        }
      }

      // Execute.
      let applied = false;
      if (verdict.action !== Action.Noop) {
        const pressure = sloPressure(snapshot, slo);
        const done = backend.execute(verdict.action);
        const outcome = isPromise(done) ? await done : done;
        applied = outcome.applied;
        if (applied) {
          lastActionAt = now;
          checks.push({ due: now + o.confirmWindowS, action: verdict.action, pressure });
        }
        emit(now, applied ? "action-executed" : "action-refused", outcome.message, verdict.action, outcome.podId);
      } else if (decision.action !== Action.Noop) {
        emit(now, "action-refused", verdict.message, decision.action);
      }
      for (const e of backend.drainEvents()) {
        if (e.kind === "fault-injected") live.add(e.faultId);
        else if (e.kind === "fault-ended") live.delete(e.faultId);
        sink.onEvent?.({ ...e, action: -1 });
      }

      // Record: the audit row, then what the SLO did.
      const ok = sloHolds(snapshot, slo);
      record.step = step;
      record.time = now;
      record.snapshot = snapshot;
      record.state = state;
      record.proposed = decision.action;
      record.confidence = decision.confidence;
      record.executed = verdict.action;
      record.reason = verdict.reason;
      record.message = verdict.message;
      record.applied = applied;
      record.sloOk = ok;
      record.reward = step > 0 && o.reward ? o.reward(prev, snapshot, prevExecuted, limits) : 0;
      record.activeFaults = live.size;
      sink.onStep?.(record);
      trackSlo(ok, now);
      checkRegressions(snapshot, now);
      copySnapshotScalars(snapshot, prev);
      prevExecuted = verdict.action;

      const slept = clock.sleep(o.stepSeconds);
      if (isPromise(slept)) await slept;
    }
    // Record every scheduled fault: those due after the last observation never ran.
    for (let i = nextFault; i < o.schedule.length; i++) {
      const f = o.schedule[i]!;
      sink.onEvent?.({
        time: f.atS,
        kind: "fault-unreached",
        action: -1,
        podId: -1,
        faultId: f.id,
        detail: `${f.spec.type} due at ${f.atS} s, after the episode's last step`,
      });
    }
    return { status: "completed", steps: o.steps };
  } finally {
    // Never leave chaos behind: on a cluster a live fault outlasts the process otherwise.
    for (const a of active) {
      const cleared = backend.clear(a.fault);
      if (isPromise(cleared)) await cleared;
    }
  }

  function trackSlo(ok: boolean, now: number): void {
    if (!ok) {
      if (breachedAt === null) {
        breachedAt = now;
        emit(now, "slo-breached", "SLO breached");
      }
      holdingSince = null;
      return;
    }
    if (breachedAt === null) return;
    holdingSince ??= now;
    if (now - holdingSince >= o.confirmWindowS) {
      emit(holdingSince, "recovered", `SLO held again after ${holdingSince - breachedAt} s`);
      breachedAt = null;
      holdingSince = null;
    }
  }

  function checkRegressions(snapshot: Snapshot, now: number): void {
    while (checks.length > 0 && checks[0]!.due <= now) {
      const c = checks.shift()!;
      const after = sloPressure(snapshot, slo);
      if (after > 1 && after > c.pressure * REGRESSION_MARGIN) {
        emit(
          now,
          "regression",
          `SLO pressure ${fmt(c.pressure)} -> ${fmt(after)} after ${ACTION_NAMES[c.action]}`,
          c.action,
        );
      }
    }
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : "no ready replica";
}

/** A synchronous decision is returned as is; an asynchronous one races the timeout. */
function decideWithin(
  policy: Policy,
  state: Float32Array,
  snapshot: Snapshot,
  timeoutMs: number,
): MaybePromise<Decision> {
  const d = policy.decide(state, snapshot);
  if (!isPromise(d)) return d;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([d, timeout]).finally(() => clearTimeout(timer));
}
