/**
 * One definition of a step, shared by the controller loop (harness/loop.ts), the gym-style
 * simulator (sim/env.ts) and PPO's training environments (policies/ppo/vec-env.ts), so that
 * an agent is trained on the order it is evaluated on.
 *
 * A step at observation time t (t = start + k × stepSeconds):
 *   1. observe the deployment at t, encode it with the policy's codec;
 *   2. decide; the guard judges the proposal on that observation ({@link fillGuardContext});
 *   3. execute what the guard let through, at t;
 *   4. faults: clear every timed fault whose duration is over, then inject every scheduled
 *      fault due by t ({@link FaultTimeline});
 *   5. let time pass to t + stepSeconds (the simulator advances its dynamics).
 * So an observation never sees a fault injected at its own instant: on a cluster a fault
 * injected at t shows in the metrics of a later scrape, and on the simulator in the next
 * observation, alike. A fault's duration counts from its injection (as a Chaos Mesh
 * experiment's does from its creation).
 *
 * SLO tracking ({@link SloTracker}) follows the metric SQL (reports/views.ts): each
 * observation stands for the interval up to the next one (sample and hold), and the SLO has
 * held again once its held samples cover `confirmWindowS`.
 *
 * Everything here is allocation-free per step: the simulator's hot path runs through it.
 */
import type { FaultInjection, FaultSpec, Snapshot } from "./contract.ts";

/**
 * When a timed fault is taken away: its injection time plus its duration; `Infinity` for a
 * fault that ends by itself (pod-kill, memory-leak: contract.ts `FaultEndCause`).
 */
export function faultClearsAt(spec: FaultSpec, injectedAtS: number): number {
  return "durationS" in spec ? injectedAtS + spec.durationS : Number.POSITIVE_INFINITY;
}

/**
 * Which scheduled faults are due and which injected ones are over, at a step's time. The
 * caller injects and clears (synchronously or not) and reports each injection back:
 *
 *   for (let f; (f = timeline.nextClear(now)) !== null; ) backend.clear(f);
 *   for (let f; (f = timeline.nextDue(now)) !== null; ) { backend.inject(f); timeline.injected(f, now); }
 *
 * A fault whose injection failed is not reported, and so is never cleared by the timeline.
 */
export class FaultTimeline {
  private schedule: readonly FaultInjection[] = [];
  private next = 0;
  private timed: FaultInjection[] = [];
  private ends = new Float64Array(16);
  private count = 0;

  /** Starts over on `schedule` (sorted by `atS`). */
  reset(schedule: readonly FaultInjection[]): void {
    this.schedule = schedule;
    this.next = 0;
    this.count = 0;
  }

  /** A timed fault whose duration is over at `now` (removed from the timeline), or null. */
  nextClear(now: number): FaultInjection | null {
    for (let k = 0; k < this.count; k++) {
      if (this.ends[k]! <= now) {
        const f = this.timed[k]!;
        this.count--;
        this.timed[k] = this.timed[this.count]!;
        this.ends[k] = this.ends[this.count]!;
        return f;
      }
    }
    return null;
  }

  /** The next scheduled fault due by `now` (taken off the schedule), or null. */
  nextDue(now: number): FaultInjection | null {
    const s = this.schedule;
    if (this.next < s.length && s[this.next]!.atS <= now) return s[this.next++]!;
    return null;
  }

  /** `fault` was injected at `now`: a timed one is cleared when its duration is over. */
  injected(fault: FaultInjection, now: number): void {
    const end = faultClearsAt(fault.spec, now);
    if (end === Number.POSITIVE_INFINITY) return;
    if (this.count === this.ends.length) {
      const ends = new Float64Array(this.ends.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.timed[this.count] = fault;
    this.ends[this.count] = end;
    this.count++;
  }

  /** Scheduled faults not injected yet (due after the last step, once an episode ends). */
  remaining(): readonly FaultInjection[] {
    return this.schedule.slice(this.next);
  }
}

/** What the guard reads about a step, besides the proposal (harness/core/guard.ts). */
export interface StepGuardContext {
  now: number;
  lastActionAt: number | null;
  desiredReplicas: number;
  missing: number;
  approved: boolean;
  paused: boolean;
}

export function createGuardContext(): StepGuardContext {
  return { now: 0, lastActionAt: null, desiredReplicas: 0, missing: 0, approved: false, paused: false };
}

/**
 * Fills the guard's context for a proposal made on `snapshot` at step time `now`: the
 * guard judges the observation the policy saw, at the time it was made.
 */
export function fillGuardContext(
  into: StepGuardContext,
  now: number,
  snapshot: Readonly<Snapshot>,
  lastActionAt: number | null,
  paused = false,
): StepGuardContext {
  into.now = now;
  into.lastActionAt = lastActionAt;
  into.desiredReplicas = snapshot.desiredReplicas;
  into.missing = snapshot.missing;
  into.approved = false;
  into.paused = paused;
  return into;
}

/** What one observation changed about the SLO. */
export const SloChange = { None: 0, Breached: 1, Recovered: 2 } as const;
export type SloChange = (typeof SloChange)[keyof typeof SloChange];

/** Float slack for comparing sums of step lengths with a window (as reports/views.ts does). */
const EPS = 1e-9;

/**
 * SLO breaches and recoveries, and recovery times from faults, one observation at a time.
 * A run of SLO-ok observations confirms once `heldSamples × stepSeconds >= confirmWindowS`
 * (sample and hold: 3 samples for a 30 s window at 10 s steps); a breach is over when its
 * ok run confirms, and it recovered at the start of that run.
 */
export class SloTracker {
  /** Time of the first breached observation of the open breach, or null. */
  breachedAt: number | null = null;
  /** Start of the current run of SLO-ok observations, or null while breached. */
  holdingSince: number | null = null;
  /** After a `Recovered` change: seconds from the breach to the start of the confirming run. */
  lastDowntimeS = 0;
  /** Earliest fault injection not yet recovered from (`faultInjected`), or null. */
  pendingFaultAt: number | null = null;
  /**
   * After an observation that confirmed an ok run with a fault pending: seconds from that
   * fault's injection to the start of the run (0 when the run began before it), else -1.
   */
  faultRecoveryS = -1;
  /** SLO-ok observations in the current run (0 while breached). */
  heldSamples = 0;

  constructor(
    readonly stepSeconds: number,
    readonly confirmWindowS: number,
  ) {}

  reset(): void {
    this.breachedAt = null;
    this.holdingSince = null;
    this.pendingFaultAt = null;
    this.faultRecoveryS = -1;
    this.heldSamples = 0;
  }

  /**
   * Resumes from saved counters (a training checkpoint): `heldSamples` ok observations up to
   * the one at `time`, and the pending fault. An open breach is not restored.
   */
  restore(time: number, heldSamples: number, pendingFaultAt: number | null): void {
    this.reset();
    this.heldSamples = heldSamples;
    this.holdingSince = heldSamples > 0 ? time - (heldSamples - 1) * this.stepSeconds : null;
    this.pendingFaultAt = pendingFaultAt;
  }

  /** A fault was injected at `time`: the next confirmed ok run measures its recovery. */
  faultInjected(time: number): void {
    if (this.pendingFaultAt === null) this.pendingFaultAt = time;
  }

  /** One observation at `time`, SLO held (`ok`) or not. */
  observe(time: number, ok: boolean): SloChange {
    this.faultRecoveryS = -1;
    if (!ok) {
      this.heldSamples = 0;
      this.holdingSince = null;
      if (this.breachedAt !== null) return SloChange.None;
      this.breachedAt = time;
      return SloChange.Breached;
    }
    this.heldSamples++;
    this.holdingSince ??= time;
    if (this.heldSamples * this.stepSeconds < this.confirmWindowS - EPS) return SloChange.None;
    if (this.pendingFaultAt !== null) {
      this.faultRecoveryS = Math.max(0, this.holdingSince - this.pendingFaultAt);
      this.pendingFaultAt = null;
    }
    if (this.breachedAt === null) return SloChange.None;
    this.lastDowntimeS = this.holdingSince - this.breachedAt;
    this.breachedAt = null;
    return SloChange.Recovered;
  }
}

/**
 * Faults whose effect is live, from a backend's events: from `fault-injected` to
 * `fault-ended` (contract.ts `FaultEndCause` defines the end by type). The metric SQL reads
 * the same two events to span a fault (reports/views.ts).
 */
export class LiveFaults {
  private readonly ids = new Set<number>();

  onEvent(kind: string, faultId: number): void {
    if (kind === "fault-injected") this.ids.add(faultId);
    else if (kind === "fault-ended") this.ids.delete(faultId);
  }

  get count(): number {
    return this.ids.size;
  }

  clear(): void {
    this.ids.clear();
  }
}
