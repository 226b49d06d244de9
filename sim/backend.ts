/**
 * The simulator behind the contract's `Backend`, for the shared controller loop: the
 * same core as SimEnv, driven by the loop's calls instead of a schedule.
 *
 * - `clock.sleepUntil(t)` (the contract's) and `clock.sleep(seconds)` advance the dynamics
 *   by whole steps of `stepSeconds`; a remainder is carried to the next sleep (sleep(5)
 *   twice = one step). `clock.now()` is the virtual time slept so far.
 * - `execute(action)` applies the action now; `inject(fault)` / `clear(fault)` start and end
 *   a fault now: the loop injects faults at their times and clears them when their
 *   duration is over (pod-kill and memory-leak need no clear).
 * - `observe()` returns a reused snapshot (its `podTable` is the simulator's own rows).
 * - Everything is synchronous: plain values, never Promises.
 *
 * There is no terminal state here: a service with no serving pod stays observable, and
 * the loop decides what to do about it.
 */
import {
  type Action,
  type ActionOutcome,
  type Backend,
  type BackendEvent,
  type Clock,
  createSnapshot,
  type FaultInjection,
  isAction,
  type Snapshot,
} from "../harness/core/contract.ts";
import { type ParseCache, parseOnce } from "../harness/core/parse-once.ts";
import { advance, applyAction, clearFault, injectFault, observe, resetState, SimState } from "./core.ts";
import { copyEvent } from "./events.ts";
import {
  type SimParams,
  type SimParamsInput,
  simParamsSchema,
  type Workload,
  type WorkloadInput,
  workloadSchema,
} from "./params.ts";

export interface SimBackendOptions {
  /** Seed of the workload and dynamics streams. */
  readonly seed: number;
  readonly params?: SimParamsInput;
  readonly workload?: WorkloadInput;
  /**
   * A recorded offered load, one rate per step before load spikes (the trace's `load_rps`),
   * in place of the seed's workload series: a replay offers the load the recording saw.
   */
  readonly loadSeries?: ArrayLike<number>;
}

// Validated params and workload, by input object (one backend per episode, same scenario objects).
const PARAMS: ParseCache<SimParams> = new WeakMap();
const WORKLOADS: ParseCache<Workload> = new WeakMap();

export class VirtualClock implements Clock {
  private slept = 0;
  private carry = 0;
  constructor(private readonly backend: SimBackend) {}

  now(): number {
    return this.slept;
  }

  sleepUntil(deadline: number): void {
    this.sleep(deadline - this.slept);
  }

  /** Lets `seconds` of simulated time pass (whole steps of the dynamics, the rest carried). */
  sleep(seconds: number): void {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) {
      throw new Error(
        `Expected \`seconds\` to be a finite number >= 0, got \`${String(seconds)}\` (${typeof seconds})`,
      );
    }
    this.slept += seconds;
    const dt = this.backend.state.stepSeconds;
    this.carry += seconds;
    // A tolerance so that ten sleeps of 1 s make exactly one 10 s step despite rounding.
    while (this.carry >= dt - 1e-9) {
      this.carry -= dt;
      advance(this.backend.state);
    }
  }
}

export class SimBackend implements Backend {
  readonly clock: VirtualClock;
  /** The simulator state (for inspection and tests; do not mutate). */
  readonly state: SimState;
  private readonly snapshot = createSnapshot();
  private readonly pending: BackendEvent[] = [];

  constructor(options: SimBackendOptions) {
    const params = parseOnce(PARAMS, simParamsSchema, options.params ?? {});
    const workload = parseOnce(WORKLOADS, workloadSchema, options.workload ?? {});
    const state = new SimState(params, workload, true);
    this.state = resetState(state, options.seed, undefined, options.loadSeries ?? null);
    this.clock = new VirtualClock(this);
  }

  observe(): Snapshot {
    this.collect();
    return observe(this.state, this.snapshot);
  }

  execute(action: Action): ActionOutcome {
    if (!isAction(action)) {
      throw new Error(`Expected \`action\` to be an integer in 0..4, got \`${String(action)}\` (${typeof action})`);
    }
    this.collect();
    const o = applyAction(this.state, action);
    const id = o.podId;
    return {
      applied: o.applied,
      podId: id,
      podName: id >= 0 ? (this.state.namesById[id] ?? "") : "",
      podUid: id >= 0 ? (this.state.uidsById[id] ?? "") : "",
      message: o.message,
    };
  }

  inject(fault: FaultInjection): void {
    this.collect();
    injectFault(this.state, fault);
  }

  clear(fault: FaultInjection): void {
    this.collect();
    clearFault(this.state, fault.id);
  }

  /** The workload's rate this step, before load spikes: what a replay must offer again. */
  offeredLoadRps(): number {
    return this.state.workloadGen.rate;
  }

  /** Events since the previous call, as fresh objects owned by the caller. */
  drainEvents(): BackendEvent[] {
    this.collect();
    // Most steps have no event: hand over a fresh empty array, not a copy of one.
    if (this.pending.length === 0) return [];
    const out = this.pending.slice();
    this.pending.length = 0;
    return out;
  }

  /** Moves the core's pooled events into owned copies before the pool is reused. */
  private collect(): void {
    const items = this.state.events.items;
    if (items.length === 0) return;
    const s = this.state;
    for (const e of items) {
      const c = copyEvent(e);
      // Also for a pod whose row is gone (a killed pod's `fault-ended`): by id, built once at its creation.
      if (c.podId >= 0) {
        c.podName = s.namesById[c.podId] ?? "";
        c.podUid = s.uidsById[c.podId] ?? "";
      }
      this.pending.push(c);
    }
    s.events.clear();
  }
}
