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

import { type BackendCallOptions, BackendCalls, type CallSite, isRetryable } from "./backend-calls.ts";
import { codecByName, OBS_V1_CODEC, type StateCodec } from "./core/codecs.ts";
import {
  ACTION_COUNT,
  ACTION_NAMES,
  Action,
  type ActionOutcome,
  type Backend,
  BackendError,
  type BackendEvent,
  type CodecContext,
  copySnapshotScalars,
  createSnapshot,
  type Decision,
  type FaultInjection,
  isAction,
  type MaybePromise,
  Missing,
  type PodTable,
  type Policy,
  type ReplicaLimits,
  type Slo,
  type Snapshot,
  sloHolds,
} from "./core/contract.ts";
import { allowedActions, type GuardLimits, GuardReason, guard } from "./core/guard.ts";
import { createGuardContext, FaultTimeline, fillGuardContext, LiveFaults, SloChange, SloTracker } from "./core/step.ts";

/** What one step of the loop records: the audit row (who/what/when/why). Reused buffers. */
export interface StepRecord {
  step: number;
  /** Seconds since the episode start, at observation. */
  time: number;
  snapshot: Snapshot;
  /**
   * The observation encoded as `obs-v1` (the trace's `obs_*` columns, comparable across
   * policies whatever codec fed them): the state the policy saw when its codec is obs-v1.
   */
  state: Float32Array;
  /** Trace code of the codec that fed this step's decision (harness/core/codecs.ts); 0 when none did (noop fallback). */
  codec: number;
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
  /** The backend's offered load before load spikes (`Backend.offeredLoadRps`), NaN when it has none. */
  loadRps: number;
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
  | "fault-unreached"
  /** A backend call failed transiently and is tried again (detail: the call and the error). */
  | "backend-retry"
  /** A backend call failed after its retries; the step recorded what it could (detail says what). */
  | "backend-error"
  /** An allowed action the backend failed to carry out. */
  | "action-failed"
  /** Approve mode with an approval queue: the guard would run this action; a request is queued (detail has its id). */
  | "approval-requested"
  /** An approved request was executed (or failed to execute) at this step. */
  | "approval-executed"
  /**
   * Why the policy proposed `action` at the step at `time`: written by the controller after
   * the step (issue 15, part 4); detail is a `DecisionExplanation` as JSON (top attributions).
   */
  | "decision-explained";

export interface LoopEvent {
  readonly time: number;
  readonly kind: LoopEventKind;
  /** Action id for action events, else -1. */
  readonly action: number;
  /** The pod's id (`PodTable.id`), or -1 for an event about no pod. */
  readonly podId: number;
  /** The pod's name and uid, "" for an event about no pod (or one the backend could not name). */
  readonly podName: string;
  readonly podUid: string;
  readonly faultId: number;
  /** fault-injected on a pod: the target's rank among running pods; else -1 or absent. */
  readonly targetRank?: number;
  /**
   * fault-injected, fault-skipped, fault-unreached: the scheduled `FaultInjection` as JSON
   * (id, atS, spec, targetKey), so a recorded schedule can be replayed exactly.
   */
  readonly fault?: string;
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
  /**
   * Steps to run; absent (or `Infinity`) runs without end until `signal` aborts: the
   * long-running controller (harness/controller/).
   */
  readonly steps?: number;
  readonly stepSeconds: number;
  readonly codec: CodecContext;
  readonly limits: GuardLimits;
  readonly slo: Slo;
  /** Seconds the SLO must hold to call a breach over, and the delay of the regression check. */
  readonly confirmWindowS: number;
  /**
   * Asked inline in `approve` mode about actions the guard would otherwise allow: for the
   * simulator, where an approval policy answers at once. A person never answers inline
   * (observation would stall while they decide): give the long-running loop `approvals`.
   */
  readonly approve?: (action: Action, snapshot: Snapshot) => MaybePromise<boolean>;
  /**
   * Approve mode's queue: a proposal awaiting approval becomes a request and the loop goes
   * on observing; a request approved meanwhile runs at a later step, through the guard again.
   * Takes precedence over `approve`.
   */
  readonly approvals?: ApprovalGate;
  /**
   * The guard's memory, shared with the caller so that it outlives the process: read at
   * the start (a restarted controller keeps the minimum interval) and written on every
   * executed action. Times are in `clock` seconds.
   */
  readonly guardState?: GuardState;
  /** The operator's pause switch, read every step (on top of `limits.paused`). */
  readonly paused?: () => boolean;
  readonly signal?: AbortSignal;
  /**
   * Retries of a backend call after a transient failure (backend-calls.ts). Defaults scale
   * with the step: 3 tries, back-off from min(100 ms, step/20) up to step/4, and a call
   * that has not answered within one step is cancelled and retried.
   */
  readonly retry?: Partial<Pick<BackendCallOptions, "attempts" | "initialDelayMs" | "maxDelayMs" | "callTimeoutMs">>;
  /**
   * What a terminal backend error of `execute` does (an API server's 403 or 422, a testbed
   * refusing the write): `stop` ends the episode, a run's rule (the scenario cannot go on as
   * written); `record` records the step as `ExecuteFailed` and goes on, as a transient error
   * that outlasts its retries does, so that the long-running controller survives the API
   * refusing writes and acts again by itself once they are accepted. Only typed backend
   * errors (`BackendError`); anything else (a bug) still ends the episode. @default "stop"
   */
  readonly terminalExecuteErrors?: "stop" | "record";
  /** Scores each transition for the trace (e.g. sim/reward.ts's `seedReward`). */
  readonly reward?: (
    prev: Readonly<Snapshot>,
    cur: Readonly<Snapshot>,
    action: Action,
    limits: ReplicaLimits,
  ) => number;
}

/** What the guard remembers between steps (and, persisted by the caller, between processes). */
export interface GuardState {
  /** Clock time of the last executed action other than noop; null when none yet. */
  lastActionAt: number | null;
}

/** An approved request the loop may run now. */
export interface ApprovedRequest {
  readonly id: string;
  readonly action: Action;
}

/**
 * The approval queue as the loop sees it; every call is synchronous (a decision by a person
 * arrives through the queue, never through the loop). harness/controller/approvals.ts
 * implements it with expiry and persistence.
 */
export interface ApprovalGate {
  /** The oldest approved, unexpired request at clock time `now`, or null. */
  approved(now: number): ApprovedRequest | null;
  /**
   * The guard would run `action` once approved: queue a request (or return the id of the
   * one already pending for the same action) and go on.
   */
  request(action: Action, snapshot: Readonly<Snapshot>, now: number, reason: string): string;
  /** An approved request ran (`applied`) or failed at the backend: it leaves the queue either way. */
  settle(id: string, outcome: "executed" | "failed", now: number, detail: string): void;
}

/** Every bit of `Snapshot.missing`: an observation that failed altogether. */
const ALL_MISSING = Object.values(Missing).reduce((a, b) => a | b, 0);

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
  // Each policy is fed its own codec; the trace keeps obs-v1 beside it (see StepRecord.state).
  const policyFeed = feedFor(policy, o.codec);
  const fallbackFeed = o.fallback === null ? null : feedFor(o.fallback, o.codec, policyFeed);
  const traceFeed =
    policyFeed.codec === OBS_V1_CODEC ? policyFeed : feedFor({ codec: OBS_V1_CODEC.name }, o.codec, fallbackFeed);
  const record = {} as StepRecord;
  // The pod rows of the latest observation: where a pod's name and uid are looked up when
  // a backend's outcome or event carries its id only.
  let pods: PodTable | null = null;
  const emit = (time: number, kind: LoopEventKind, detail: string, action = -1, pod: PodRef = NO_POD, faultId = -1) =>
    sink.onEvent?.({ time, kind, detail, action, ...podIdentity(pods, pod), faultId });
  // A scheduled fault that never acted, recorded with its schedule entry (so it can be replayed).
  const emitScheduled = (time: number, kind: LoopEventKind, f: FaultInjection, detail: string) =>
    sink.onEvent?.({ time, kind, detail, action: -1, ...NO_POD_ROW, faultId: f.id, fault: JSON.stringify(f) });
  const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
  // Backend calls: direct, and retried with back-off only after a transient failure.
  const stepMs = o.stepSeconds * 1000;
  const callOptions = {
    initialDelayMs: Math.min(100, stepMs / 20),
    maxDelayMs: stepMs / 4,
    callTimeoutMs: stepMs,
    ...o.retry,
    onRetry: (site: CallSite, attempt: number, err: unknown) =>
      emit(clock.now(), "backend-retry", `${site} attempt ${attempt} failed: ${message(err)}; retrying`),
  };
  const calls = new BackendCalls({ ...callOptions, ...(o.signal ? { signal: o.signal } : {}) });
  // Cleanup must outlive the run's abort (Ctrl-C): its calls never see that signal.
  const cleanupCalls = new BackendCalls(callOptions);
  // What a failed observation records: the last values, every metric flagged missing (so
  // the guard refuses to act on them), no pod rows.
  const blind = createSnapshot();

  // Which faults are due and which are over (the one step definition, core/step.ts).
  const timeline = new FaultTimeline();
  timeline.reset(o.schedule);
  // Every fault injected and not cleared yet: what cleanup must clear, whatever happens.
  const uncleared = new Map<number, FaultInjection>();
  // Faults whose effect is live, by the backend's events.
  const live = new LiveFaults();
  const byId = new Map(o.schedule.map((f) => [f.id, f]));
  const guardState: GuardState = o.guardState ?? { lastActionAt: null };
  const maxSteps = o.steps ?? Number.POSITIVE_INFINITY;
  const checks: { due: number; action: Action; pressure: number }[] = [];
  const sloTracker = new SloTracker(o.stepSeconds, o.confirmWindowS);
  // Scalars of the previous observation (the backend's snapshot is a reused buffer).
  const prev = createSnapshot();
  let prevExecuted: Action = Action.Noop;
  // The guard's arguments, refilled every step: it keeps no reference to them.
  const proposal: { action: Action; policyError: string | undefined } = { action: Action.Noop, policyError: undefined };
  const context = createGuardContext();
  const allowed = policy.actionMask === "guard" ? new Uint8Array(ACTION_COUNT) : undefined;

  let failure: unknown = null;
  // The grid's origin: the clock keeps one origin per run, an episode starts on it here.
  const startS = clock.now();
  try {
    for (let step = 0; step < maxSteps; step++) {
      if (o.signal?.aborted) return { status: "aborted", steps: step };
      const now = clock.now();

      // Observe and encode. An observation that fails after its retries is recorded blind.
      let snapshot: Snapshot;
      try {
        const observed = calls.call("observe", (signal) => backend.observe(signal));
        snapshot = isPromise(observed) ? await observed : observed;
      } catch (err) {
        if (!isRetryable(err)) throw err;
        emit(now, "backend-error", `observe failed after retries: ${message(err)}`);
        copySnapshotScalars(prev, blind);
        blind.time = now;
        blind.missing = ALL_MISSING;
        snapshot = blind;
      }
      pods = snapshot.podTable;
      const state = policyFeed.encode(snapshot, step);
      traceFeed.encode(snapshot, step);

      // Decide; a policy that throws or times out hands over to the fallback.
      let decision: Decision;
      let policyError: string | undefined;
      let fedBy = policyFeed.codec.code;
      try {
        // A masked policy chooses among what the guard's limits allow on this observation.
        if (allowed !== undefined) {
          fillGuardContext(context, now, snapshot, guardState.lastActionAt);
          allowedActions(context, limits, allowed);
        }
        const d = decideWithin(policy, state, snapshot, limits.policyTimeoutMs, o.signal, allowed);
        decision = isPromise(d) ? await d : d;
        if (!isAction(decision.action)) throw new Error(`proposed invalid action ${String(decision.action)}`);
      } catch (err) {
        policyError = err instanceof Error ? err.message : String(err);
        emit(now, "policy-error", policyError);
        const d =
          o.fallback && fallbackFeed
            ? decideWithin(o.fallback, fallbackFeed.encode(snapshot, step), snapshot, limits.policyTimeoutMs, o.signal)
            : NOOP_FALLBACK;
        fedBy = fallbackFeed?.codec.code ?? 0;
        decision = isPromise(d) ? await d : d;
      }

      // Guard: the only way to the backend. Approval is asked only for actions that would run.
      proposal.action = decision.action;
      proposal.policyError = policyError;
      fillGuardContext(context, now, snapshot, guardState.lastActionAt, o.paused?.() ?? false);
      let verdict = guard(proposal, context, limits);
      // Approval by queue: an approved request runs through the guard again, on this
      // step's metrics; a refused one waits for a later step (or its expiry).
      let approvedId: string | null = null;
      const queued = o.approvals?.approved(now) ?? null;
      if (queued !== null && verdict.action === Action.Noop) {
        context.approved = true;
        const again = guard({ action: queued.action, policyError: undefined }, context, limits);
        context.approved = false;
        if (again.action !== Action.Noop) {
          approvedId = queued.id;
          verdict = { ...again, message: `${again.message} (approved request ${queued.id})` };
        }
      }
      if (verdict.reason === "AwaitingApproval" && o.approvals) {
        const id = o.approvals.request(decision.action, snapshot, now, decision.reason ?? "");
        emit(now, "approval-requested", `request ${id}: ${ACTION_NAMES[decision.action]}`, decision.action);
      } else if (verdict.reason === "AwaitingApproval" && o.approve) {
        const ok = o.approve(decision.action, snapshot);
        if (isPromise(ok) ? await ok : ok) {
          context.approved = true;
          verdict = guard(proposal, context, limits);
        }
      }

      // Execute.
      let applied = false;
      let reason = verdict.reason;
      let reasonMessage = verdict.message;
      if (verdict.action !== Action.Noop) {
        const pressure = sloPressure(snapshot, slo);
        try {
          const done = calls.call("execute", (signal) => backend.execute(verdict.action, signal));
          const outcome = isPromise(done) ? await done : done;
          applied = outcome.applied;
          if (approvedId !== null) {
            o.approvals!.settle(approvedId, applied ? "executed" : "failed", now, outcome.message);
            emit(now, "approval-executed", `request ${approvedId}: ${outcome.message}`, verdict.action, outcome);
          }
          if (applied) {
            guardState.lastActionAt = now;
            checks.push({ due: now + o.confirmWindowS, action: verdict.action, pressure });
          }
          emit(now, applied ? "action-executed" : "action-refused", outcome.message, verdict.action, outcome);
        } catch (err) {
          const retried = isRetryable(err);
          if (!retried && !(o.terminalExecuteErrors === "record" && err instanceof BackendError)) throw err;
          // Nothing of the action is assumed done: the guard's clock and the regression check
          // stay as they were, so the next allowed proposal is tried again as if new.
          reason = GuardReason.ExecuteFailed;
          reasonMessage = `${ACTION_NAMES[verdict.action]} failed${retried ? " after retries" : " (terminal, not retried)"}: ${message(err)}`;
          if (approvedId !== null) o.approvals!.settle(approvedId, "failed", now, reasonMessage);
          emit(now, "action-failed", reasonMessage, verdict.action);
        }
      } else if (decision.action !== Action.Noop) {
        emit(now, "action-refused", verdict.message, decision.action);
      }
      forwardEvents();

      // Record: the audit row, then what the SLO did.
      const ok = sloHolds(snapshot, slo);
      record.step = step;
      record.time = now;
      record.snapshot = snapshot;
      record.state = traceFeed.out;
      record.codec = fedBy;
      record.proposed = decision.action;
      record.confidence = decision.confidence;
      record.executed = verdict.action;
      record.reason = reason;
      record.message = reasonMessage;
      record.applied = applied;
      record.sloOk = ok;
      record.reward = step > 0 && o.reward ? o.reward(prev, snapshot, prevExecuted, limits) : 0;
      record.activeFaults = live.count;
      record.loadRps = backend.offeredLoadRps ? backend.offeredLoadRps() : Number.NaN;
      sink.onStep?.(record);
      trackSlo(ok, now);
      checkRegressions(snapshot, now);
      copySnapshotScalars(snapshot, prev);
      prevExecuted = verdict.action;

      // Faults come from the schedule alone, after the step's action (core/step.ts): end the
      // timed ones that are over, then inject the due ones. The backend reports each as an
      // event, with the pod it hit; the next observation is the first to see them.
      for (let f = timeline.nextClear(now); f !== null; f = timeline.nextClear(now)) {
        try {
          const cleared = calls.call("clear", (signal) => backend.clear(f!, signal));
          if (isPromise(cleared)) await cleared;
          uncleared.delete(f.id);
        } catch (err) {
          if (!isRetryable(err)) throw err;
          // Left in `uncleared`: the episode's cleanup tries again and reports it if it fails.
          emit(now, "backend-error", `clear failed after retries: ${message(err)}`, -1, NO_POD, f.id);
        }
      }
      for (let fault = timeline.nextDue(now); fault !== null; fault = timeline.nextDue(now)) {
        try {
          const injected = calls.call("inject", (signal) => backend.inject(fault!, signal));
          if (isPromise(injected)) await injected;
        } catch (err) {
          if (!isRetryable(err)) throw err;
          emitScheduled(
            now,
            "fault-skipped",
            fault,
            `${fault.spec.type}: inject failed after retries: ${message(err)}`,
          );
          continue;
        }
        uncleared.set(fault.id, fault);
        timeline.injected(fault, now);
      }

      forwardEvents();

      // Absolute time: step k+1 is due at start + (k+1) × stepSeconds on the clock's own
      // timeline, however long this step took, so the grid never drifts (a late step runs
      // at once and the next is due on the grid again).
      const slept = clock.sleepUntil(startS + (step + 1) * o.stepSeconds, o.signal);
      if (isPromise(slept)) await slept;
    }
    // Record every scheduled fault: those due after the last observation never ran.
    for (const f of timeline.remaining()) {
      emitScheduled(f.atS, "fault-unreached", f, `${f.spec.type} due at ${f.atS} s, after the episode's last step`);
    }
    return { status: "completed", steps: maxSteps };
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    // Never leave chaos behind: on a cluster a live fault outlasts the process otherwise.
    // Each fault is cleared in its own guarded call, so one failure cannot leak the rest.
    const left: string[] = [];
    for (const fault of uncleared.values()) {
      try {
        const cleared = cleanupCalls.call("clear", (signal) => backend.clear(fault, signal));
        if (isPromise(cleared)) await cleared;
      } catch (err) {
        left.push(`fault ${fault.id} (${fault.spec.type}): ${message(err)}`);
      }
    }
    if (left.length > 0) {
      // biome-ignore lint/correctness/noUnsafeFinally: a fault left behind outranks the error that ended the episode (kept as the cause)
      throw new BackendError("faults_not_cleared", false, `Faults left behind: ${left.join("; ")}`, {
        ...(failure === null ? {} : { cause: failure }),
      });
    }
  }

  function trackSlo(ok: boolean, now: number): void {
    const change = sloTracker.observe(now, ok);
    if (change === SloChange.Breached) emit(now, "slo-breached", "SLO breached");
    else if (change === SloChange.Recovered) {
      emit(sloTracker.holdingSince!, "recovered", `SLO held again after ${sloTracker.lastDowntimeS} s`);
    }
  }

  /** Hands the backend's events to the sink, with the schedule entry of every fault it injected or skipped. */
  function forwardEvents(): void {
    for (const e of backend.drainEvents()) {
      live.onEvent(e.kind, e.faultId);
      const scheduled = e.kind === "fault-injected" || e.kind === "fault-skipped" ? byId.get(e.faultId) : undefined;
      const who = podIdentity(pods, e);
      // One literal, not two spreads: the simulator reports several events a step.
      const row: LoopEvent = {
        time: e.time,
        kind: e.kind,
        action: -1,
        podId: who.podId,
        podName: who.podName,
        podUid: who.podUid,
        faultId: e.faultId,
        detail: e.detail,
      };
      if (e.targetRank !== undefined) (row as { targetRank?: number }).targetRank = e.targetRank;
      if (scheduled) (row as { fault?: string }).fault = JSON.stringify(scheduled);
      sink.onEvent?.(row);
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

/** What names a pod in an outcome or a backend event: its id, and its name and uid where the backend gave them. */
type PodRef = Pick<ActionOutcome, "podId" | "podName" | "podUid">;

const NO_POD: PodRef = Object.freeze({ podId: -1 });
const NO_POD_ROW = Object.freeze({ podId: -1, podName: "", podUid: "" });

/**
 * The id, name and uid an event row stores for `ref`: the backend's name and uid where it
 * gave them, else those of the row with its id in `pods` (the latest observation: the pod
 * an action hit, or a fault targeted, was in it), else "".
 */
function podIdentity(pods: PodTable | null, ref: PodRef): { podId: number; podName: string; podUid: string } {
  if (ref.podId < 0) return NO_POD_ROW;
  if (ref.podName !== undefined) return { podId: ref.podId, podName: ref.podName, podUid: ref.podUid ?? "" };
  if (pods !== null) {
    for (let i = 0; i < pods.count; i++) {
      if (pods.id[i] === ref.podId) return { podId: ref.podId, podName: pods.name[i]!, podUid: pods.uid[i]! };
    }
  }
  return { podId: ref.podId, podName: "", podUid: "" };
}

/** A codec's encoder for one episode and its reused output buffer. */
interface Feed {
  readonly codec: StateCodec;
  readonly out: Float32Array;
  /** Encodes `s` once per step (a feed shared by two policies encodes it once). */
  encode(s: Snapshot, step: number): Float32Array;
}

/**
 * The feed of `policy`'s codec; `shared` is reused when it is the same codec, so that a
 * stateful encoder (a history window) sees each observation once.
 */
function feedFor(policy: Pick<Policy, "codec">, ctx: CodecContext, shared: Feed | null = null): Feed {
  const codec = codecByName(policy.codec);
  if (shared !== null && shared.codec === codec) return shared;
  const encoder = codec.create(ctx);
  const out = new Float32Array(codec.dim);
  let encodedAt = -1;
  return {
    codec,
    out,
    encode(s, step) {
      if (step !== encodedAt) {
        encoder.encode(s, out);
        encodedAt = step;
      }
      return out;
    },
  };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : "no ready replica";
}

/**
 * A synchronous decision is returned as is; an asynchronous one races the timeout. The
 * policy gets the run's signal, so a remote call is cancelled when the run stops (its own
 * timeout, below `policyTimeoutMs`, cancels it when the service is slow); nothing is
 * allocated per decision for the simulator's synchronous policies.
 */
function decideWithin(
  policy: Policy,
  state: Float32Array,
  snapshot: Snapshot,
  timeoutMs: number,
  runSignal: AbortSignal | undefined,
  allowed?: Uint8Array,
): MaybePromise<Decision> {
  const d = policy.decide(state, snapshot, runSignal, allowed);
  if (!isPromise(d)) return d;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([d, timeout]).finally(() => clearTimeout(timer));
}
