/**
 * The simulator's state: a struct of typed arrays, one row per pod, kept in creation
 * order (so rows are always sorted by pod id), plus a few scalars. The first ten arrays
 * (eight typed, and the pods' names and uids) are the contract's {@link PodTable} itself, which `observe` hands out without copying.
 *
 * Capacity is `maxReplicas + POD_HEADROOM` rows: non-terminating pods never exceed the
 * desired count (<= maxReplicas), and terminating pods live one step; when deletions in a
 * single step would exceed the headroom, the oldest terminating row is dropped early.
 */
import type { ActionOutcome, FaultEndCause, FaultType, PodTable } from "../harness/core/contract.ts";
import { faultEndsOn, PodPhase } from "../harness/core/contract.ts";
import { createRngState, type RngState, uniformIntFrom } from "../harness/core/rng.ts";
import { EventLog } from "./events.ts";
import type { SimParams, Workload } from "./params.ts";
import { simPodName, simPodUid } from "./pod-names.ts";
import { WorkloadState } from "./workload.ts";

export const POD_HEADROOM = 8;
/** Load spikes active at once; a spike injected while this many are active has no effect. */
export const MAX_SPIKES = 16;

/** The reused outcome of an action. */
export class MutableOutcome implements ActionOutcome {
  applied = false;
  podId = -1;
  message = "";
}

/**
 * Hands out the per-pod columns as views of one zeroed ArrayBuffer: a typed array with a
 * buffer of its own costs more than a microsecond to allocate, and the controller loop
 * builds a state for every episode. Each element type has its own region, so every view is
 * aligned; taking more columns of a type than declared throws.
 */
class ColumnSlab {
  private readonly buffer: ArrayBuffer;
  // Next free byte and end of each type's region, in buffer order.
  private readonly regions: Record<"f64" | "i32" | "u8", { at: number; readonly end: number }>;

  constructor(
    private readonly rows: number,
    counts: { readonly f64: number; readonly i32: number; readonly u8: number },
  ) {
    let bytes = 0;
    const region = (columns: number, elementBytes: number) => {
      const r = { at: bytes, end: bytes + columns * rows * elementBytes };
      bytes = r.end;
      return r;
    };
    this.regions = {
      f64: region(counts.f64, Float64Array.BYTES_PER_ELEMENT),
      i32: region(counts.i32, Int32Array.BYTES_PER_ELEMENT),
      u8: region(counts.u8, Uint8Array.BYTES_PER_ELEMENT),
    };
    this.buffer = new ArrayBuffer(bytes);
  }

  f64(): Float64Array {
    return this.take("f64", Float64Array);
  }

  i32(): Int32Array {
    return this.take("i32", Int32Array);
  }

  u8(): Uint8Array {
    return this.take("u8", Uint8Array);
  }

  private take<A extends Float64Array | Int32Array | Uint8Array>(
    kind: keyof ColumnSlab["regions"],
    View: new (buffer: ArrayBuffer, byteOffset: number, length: number) => A,
  ): A {
    const r = this.regions[kind];
    const a = new View(this.buffer, r.at, this.rows);
    r.at += a.byteLength;
    if (r.at > r.end) throw new Error(`ColumnSlab: more ${View.name} columns than declared`);
    return a;
  }
}

export class SimState {
  readonly params: SimParams;
  readonly workload: Workload;
  readonly stepSeconds: number;
  readonly capacity: number;

  /** The contract's view of the pod rows (the arrays below are the same objects). */
  readonly pods: PodTable;
  readonly id: Int32Array;
  /** Name and uid by row, from the seed and `id` (pod-names.ts): set when a pod is created, if `namePods`. */
  readonly name: string[];
  readonly uid: string[];
  readonly phase: Uint8Array;
  readonly drained: Uint8Array;
  readonly cpu: Float64Array;
  readonly memory: Float64Array;
  readonly latencyMs: Float64Array;
  readonly errorRate: Float64Array;
  readonly restarts: Int32Array;

  /** Step at which the current timed phase (pending, restarting, crashed, terminating) ends. */
  readonly phaseEnd: Int32Array;
  /** Next kubelet back-off delay, seconds. */
  readonly backoffS: Float64Array;
  /** Step at which the container last became ready, or -1 while not running. */
  readonly readySince: Int32Array;
  /** Requests per second routed to the pod this step. */
  readonly rps: Float64Array;
  /** Smoothed memory utilisation before any leak. */
  readonly memBase: Float64Array;
  /** Leaked memory, share of the limit. */
  readonly leaked: Float64Array;
  /** Leak growth per step (memory-leak fault), share of the limit. */
  readonly leakPerStep: Float64Array;
  /** Extra CPU demand of a cpu-stress fault. */
  readonly stress: Float64Array;
  /** Extra latency of a network-delay fault, ms. */
  readonly delayMs: Float64Array;
  /** Id of the fault acting on the pod, per kind, or -1. */
  readonly failFault: Int32Array;
  readonly stressFault: Int32Array;
  readonly leakFault: Int32Array;
  readonly delayFault: Int32Array;
  /**
   * Id of a fault whose live span ends when this pod becomes ready (the replacement of a
   * killed pod, a container restarting after a leak's OOM kill, the fresh pod of a restart
   * action on a leaking pod), or -1. See contract.ts `FaultEndCause`.
   */
  readonly recoverFault: Int32Array;
  /** Faults injected and not yet ended, by id, with their type: each ends once (`fault-ended`). */
  readonly liveFaults = new Map<number, FaultType>();

  /** Steps completed since reset. */
  step = 0;
  /** Seconds since reset (step * stepSeconds). */
  time = 0;
  /** The ReplicaSet's desired count. */
  desired = 0;
  /** Creation counter: the id of the next pod. */
  nextId = 0;
  /** The seed's part of pod names and uids (pod-names.ts), set by reset. */
  podNamePrefix = "";
  podUidPrefix = "";
  /** The seed the prefixes were built for (a reset with the same seed keeps them). */
  podNamesSeed = Number.NaN;
  /**
   * Name and uid of every pod created since reset, by id (ids count up from 0): events
   * about a pod whose row is gone name it without building its strings again.
   */
  readonly namesById: string[] = [];
  readonly uidsById: string[] = [];
  /** Time of the last crash, kill or OOM kill (0 at reset). */
  lastFailureS = 0;
  /** Offered request rate of the current step, spikes included. */
  offeredRps = 0;
  /** Ready, non-drained pods at the last observation. */
  serving = 0;

  readonly spikeIds = new Int32Array(MAX_SPIKES);
  readonly spikeFactors = new Float64Array(MAX_SPIKES);
  spikeCount = 0;
  /** Product of the active spike factors. */
  spikeFactor = 1;

  readonly workloadGen = new WorkloadState();
  /** The `Dynamics` stream, stepped in place. */
  readonly dynamicsRng: RngState = createRngState();
  /** Scratch for single draws from the dynamics stream. */
  readonly draw = new Float64Array(1);
  readonly events = new EventLog();
  /** Scratch of the last fault target mapping. */
  readonly target = { row: -1, rank: -1 };
  readonly outcome = new MutableOutcome();

  // Derived constants, computed once.
  readonly backoffResetSteps: number;
  readonly latencySlope: number;
  readonly errorSlope: number;

  /**
   * @param namePods give pods names and uids (pod-names.ts). The controller loop's backend
   *   does, for its event rows; the gym env (training, determinism checks) does not: with
   *   episodes of a few steps, building two strings per new pod costs it a measurable share
   *   of its steps/s, for names nobody reads. Its rows' `name` and `uid` stay "".
   */
  constructor(
    params: SimParams,
    workload: Workload,
    readonly namePods = false,
  ) {
    this.params = params;
    this.workload = workload;
    this.stepSeconds = params.stepSeconds;
    const cap = params.maxReplicas + POD_HEADROOM;
    this.capacity = cap;
    const slab = new ColumnSlab(cap, { f64: 11, i32: 9, u8: 2 });
    this.id = slab.i32();
    this.name = new Array<string>(cap).fill("");
    this.uid = new Array<string>(cap).fill("");
    this.phase = slab.u8();
    this.drained = slab.u8();
    this.cpu = slab.f64();
    this.memory = slab.f64();
    this.latencyMs = slab.f64();
    this.errorRate = slab.f64();
    this.restarts = slab.i32();
    this.pods = {
      count: 0,
      id: this.id,
      name: this.name,
      uid: this.uid,
      phase: this.phase,
      drained: this.drained,
      cpu: this.cpu,
      memory: this.memory,
      latencyMs: this.latencyMs,
      errorRate: this.errorRate,
      restarts: this.restarts,
    };
    this.phaseEnd = slab.i32();
    this.backoffS = slab.f64();
    this.readySince = slab.i32();
    this.rps = slab.f64();
    this.memBase = slab.f64();
    this.leaked = slab.f64();
    this.leakPerStep = slab.f64();
    this.stress = slab.f64();
    this.delayMs = slab.f64();
    this.failFault = slab.i32();
    this.stressFault = slab.i32();
    this.leakFault = slab.i32();
    this.delayFault = slab.i32();
    this.recoverFault = slab.i32();
    this.backoffResetSteps = Math.ceil(params.backoffResetS / params.stepSeconds - 1e-9);
    this.latencySlope = params.latencyGain / (1 - params.latencyKneeCpu);
    this.errorSlope = params.errorGain / (1 - params.errorKneeCpu);
  }
}

/** Copies every per-pod column of row `from` to row `to`. */
function copyRow(s: SimState, from: number, to: number): void {
  s.id[to] = s.id[from];
  s.name[to] = s.name[from];
  s.uid[to] = s.uid[from];
  s.phase[to] = s.phase[from];
  s.drained[to] = s.drained[from];
  s.cpu[to] = s.cpu[from];
  s.memory[to] = s.memory[from];
  s.latencyMs[to] = s.latencyMs[from];
  s.errorRate[to] = s.errorRate[from];
  s.restarts[to] = s.restarts[from];
  s.phaseEnd[to] = s.phaseEnd[from];
  s.backoffS[to] = s.backoffS[from];
  s.readySince[to] = s.readySince[from];
  s.rps[to] = s.rps[from];
  s.memBase[to] = s.memBase[from];
  s.leaked[to] = s.leaked[from];
  s.leakPerStep[to] = s.leakPerStep[from];
  s.stress[to] = s.stress[from];
  s.delayMs[to] = s.delayMs[from];
  s.failFault[to] = s.failFault[from];
  s.stressFault[to] = s.stressFault[from];
  s.leakFault[to] = s.leakFault[from];
  s.delayFault[to] = s.delayFault[from];
  s.recoverFault[to] = s.recoverFault[from];
}

/** Removes row `row`, shifting later rows down (keeps rows sorted by id). */
export function removeRow(s: SimState, row: number): void {
  const n = s.pods.count;
  for (let i = row + 1; i < n; i++) copyRow(s, i, i - 1);
  s.pods.count = n - 1;
}

/** Zeroes the metrics of a pod whose container is not running. */
export function clearMetrics(s: SimState, row: number): void {
  s.cpu[row] = 0;
  s.memory[row] = 0;
  s.latencyMs[row] = 0;
  s.errorRate[row] = 0;
  s.rps[row] = 0;
  s.memBase[row] = 0;
  s.leaked[row] = 0;
}

/** Metrics of a container that has just become ready (before any traffic). */
export function freshMetrics(s: SimState, row: number): void {
  const p = s.params;
  s.cpu[row] = p.idleCpu;
  s.memBase[row] = p.baseMemory;
  s.leaked[row] = 0;
  s.memory[row] = p.baseMemory;
  s.latencyMs[row] = p.baseLatencyMs;
  s.errorRate[row] = p.baseErrorRate;
  s.rps[row] = 0;
}

/**
 * Appends a new pod (ReplicaSet creation) in `phase` for `steps` steps and returns its row.
 * It carries no fault, is not drained, and starts with a fresh kubelet back-off.
 */
export function addPod(s: SimState, phase: PodPhase, steps: number, restarts: number): number {
  if (s.pods.count === s.capacity) dropOldestTerminating(s);
  const row = s.pods.count;
  s.pods.count = row + 1;
  const id = s.nextId++;
  s.id[row] = id;
  if (s.namePods) {
    const name = simPodName(s.podNamePrefix, id);
    const uid = simPodUid(s.podUidPrefix, id);
    s.name[row] = name;
    s.uid[row] = uid;
    s.namesById[id] = name;
    s.uidsById[id] = uid;
  }
  s.phase[row] = phase;
  s.drained[row] = 0;
  s.restarts[row] = restarts;
  s.phaseEnd[row] = s.step + steps;
  s.backoffS[row] = s.params.backoffInitialS;
  s.readySince[row] = -1;
  clearMetrics(s, row);
  s.leakPerStep[row] = 0;
  s.stress[row] = 0;
  s.delayMs[row] = 0;
  s.failFault[row] = -1;
  s.stressFault[row] = -1;
  s.leakFault[row] = -1;
  s.delayFault[row] = -1;
  s.recoverFault[row] = -1;
  return row;
}

function dropOldestTerminating(s: SimState): void {
  for (let i = 0; i < s.pods.count; i++) {
    if (s.phase[i] === PodPhase.Terminating) {
      removeRow(s, i);
      return;
    }
  }
  throw new Error(`sim: pod table full (${s.capacity} rows) with no terminating pod; this is a simulator bug`);
}

/** Creates the ReplicaSet's replacement for a deleted pod: Pending for `startupSteps`; returns its row. */
export function replacePod(s: SimState): number {
  return addPod(s, PodPhase.Pending, drawSteps(s, s.params.startupSteps), 0);
}

/**
 * Marks row `row` deleted: Terminating for one step, no traffic, then removed. Every fault
 * that lived on the pod ends here (`pod-deleted`), unless the caller handed it on first
 * (a restart action on a leaking pod: see `faultFollowsReplacement`).
 */
export function deletePod(s: SimState, row: number): void {
  s.phase[row] = PodPhase.Terminating;
  s.phaseEnd[row] = s.step + 1;
  s.readySince[row] = -1;
  clearMetrics(s, row);
  const podId = s.id[row];
  endFault(s, s.failFault[row], "pod-deleted", podId);
  endFault(s, s.stressFault[row], "pod-deleted", podId);
  endFault(s, s.leakFault[row], "pod-deleted", podId);
  endFault(s, s.delayFault[row], "pod-deleted", podId);
  endFault(s, s.recoverFault[row], "pod-deleted", podId);
  s.recoverFault[row] = -1;
}

/**
 * Ends fault `faultId`'s live span (emits `fault-ended`) when it is live and `cause` ends a
 * fault of its type; a no-op for -1, for a fault already ended, or for a cause that does not
 * end it (clearing a pod-kill).
 */
export function endFault(s: SimState, faultId: number, cause: FaultEndCause, podId: number): void {
  if (faultId < 0) return;
  const type = s.liveFaults.get(faultId);
  if (type === undefined || !faultEndsOn(type, cause)) return;
  s.liveFaults.delete(faultId);
  s.events.emit(s.time, "fault-ended", podId, faultId, `${type} effect over: ${cause}`);
}

/** A uniform draw of a phase length in steps from a [min, max] range, on the dynamics stream. */
export function drawSteps(s: SimState, range: readonly [number, number]): number {
  return range[0] === range[1] ? range[0] : uniformIntFrom(s.dynamicsRng, s.draw, range[0], range[1]);
}
