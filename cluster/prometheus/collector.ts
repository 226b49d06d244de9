/**
 * The PromQL collector: one `Snapshot` per observation from one instant query at the
 * step's time (queries.ts), for any backend whose metrics land in Prometheus (the local
 * testbed now, a Kubernetes cluster later, unchanged).
 *
 * It keeps a little memory between observations, because Prometheus shows states, not
 * transitions: each pod's restart count and whether it has been ready since it last
 * (re)started, and when a pod last failed. That gives:
 * - phases: deleting -> terminating; Pending -> pending; Failed/Unknown/Succeeded, or a
 *   crash waiting reason (CrashLoopBackOff, OOMKilled, ...) -> crashed; Running and ready ->
 *   healthy, or degraded past the thresholds (the simulator's rule: latency, error rate,
 *   memory); Running and not ready -> crashed if it had been ready since it started (it
 *   stopped serving: frozen, hung), restarting if it restarted and has not been ready
 *   since, else pending (still starting);
 * - failures (for `sinceFailureS`): a restart count going up, a pod turning crashed, or a
 *   pod vanishing without having been seen terminating (a kill, as Chaos Mesh's pod-kill
 *   deletes with no grace period). Not failures: a graceful delete seen terminating, a pod
 *   the caller said it deleted (`noteDeleted`, the restart action, whose grace period may
 *   end between two scrapes), and as many vanished pods as `spec.replicas` dropped by.
 *
 * Aggregates follow the contract: cpu and memory are means over serving pods (ready, not
 * drained) that have the value; latency is the service's p95 over the requests pods served,
 * error rate 5xx over all requests, request rate all requests, including those no pod
 * received (no ready endpoint). With no serving pod: cpu and memory
 * 0, error rate 1, latency `timeoutLatencyMs`, as the simulator reports a down service.
 *
 * Missing (the guard then refuses to act): a value whose series are absent or stale sets
 * its `Missing` bit; pod rows and counts come as a whole or not at all (`Missing.Pods`, and
 * then cpu and memory too: they are means over serving pods).
 * No traffic is not missing: with zero requests in the window, error rate and latency are 0.
 *
 * Prometheus down, timing out or answering 5xx throws a transient {@link PrometheusError}.
 */
import {
  countPodPhases,
  createPodTable,
  createSnapshot,
  fillMissing,
  PodPhase as Phase,
  type PodPhase,
  type PodTable,
  type Snapshot,
} from "../../harness/core/contract.ts";
import { queryInstant, sampleValue, type VectorSample } from "./api.ts";
import {
  CRASH_WAITING_REASONS,
  defaultPodPattern,
  observationQuery,
  PART_LABEL,
  type QueryPart,
  rateWindowSeconds,
} from "./queries.ts";

/** Per-pod thresholds of "degraded", the simulator's defaults (sim/params.ts). */
export interface DegradedThresholds {
  /** @default 200 */
  readonly latencyMs: number;
  /** @default 0.05 */
  readonly errorRate: number;
  /** @default 0.9 */
  readonly memory: number;
}

export interface CollectorOptions {
  /** Prometheus base URL, e.g. `http://127.0.0.1:9090`. */
  readonly url: string;
  readonly namespace: string;
  readonly deployment: string;
  /** The loop's observation interval, seconds; sets the rate window with the scrape interval. */
  readonly stepSeconds: number;
  /** Prometheus's scrape interval, seconds. @default 1 */
  readonly scrapeIntervalS?: number;
  /** Regex of the deployment's pod names. @default `<deployment>-<hash>-<suffix>` (queries.ts) */
  readonly podPattern?: string;
  /** Unix seconds of the episode's start (`Snapshot.time` counts from it). @default the first observation */
  readonly startUnixS?: number;
  /** A gauge family whose newest sample is older than this is missing, seconds. @default 3 × scrapeIntervalS */
  readonly staleAfterS?: number;
  /** Per-query timeout, ms. @default 5000 */
  readonly timeoutMs?: number;
  /** Latency reported when no pod serves, ms (sim's `timeoutLatencyMs`). @default 10000 */
  readonly timeoutLatencyMs?: number;
  readonly degraded?: Partial<DegradedThresholds>;
}

/** A snapshot plus what the cluster side needs to act on its rows. */
export interface CollectedSnapshot extends Snapshot {
  /** Pod names by row (also `podTable.name`): rows are sorted by name. Empty when pods are missing. */
  readonly podNames: readonly string[];
  /** The Unix time the observation was evaluated at, seconds. */
  readonly atUnixS: number;
}

export interface Collector {
  /** The PromQL of one observation (for logs, dashboards and the fixture recorder). */
  readonly query: string;
  /** Rate window, seconds. */
  readonly windowS: number;
  /**
   * One observation evaluated at `atUnixS` (Unix seconds; default: now). One at a time and
   * in time order: the memory of restarts and failures follows the calls.
   */
  observe(atUnixS?: number, signal?: AbortSignal): Promise<CollectedSnapshot>;
  /**
   * Tells the collector that the caller deleted this pod (the restart action), so that its
   * disappearance is not taken for a kill. A scale-down needs no note: the drop of
   * `spec.replicas` explains as many vanished pods.
   */
  noteDeleted(pod: string): void;
}

/** What the collector remembers between observations (see the header). */
export interface CollectorMemory {
  startUnixS: number | null;
  lastFailureUnixS: number | null;
  readonly pods: Map<string, PodMemory>;
  /** Pods the caller deleted (a restart action): their disappearance is not a failure. */
  readonly deletedByCaller: Set<string>;
  /** `spec.replicas` at the previous observation (NaN when unknown): a drop explains vanished pods. */
  desired: number;
}

interface PodMemory {
  restarts: number;
  /** Ready at least once since it was first seen or last restarted. */
  readySinceStart: boolean;
  /** Restarted and not ready since. */
  restarting: boolean;
  phase: PodPhase;
}

export function createCollectorMemory(startUnixS?: number): CollectorMemory {
  return {
    startUnixS: startUnixS ?? null,
    lastFailureUnixS: null,
    pods: new Map(),
    deletedByCaller: new Set(),
    desired: Number.NaN,
  };
}

/** Settings of {@link assembleSnapshot} (the collector's options, resolved). */
export interface AssemblyOptions {
  readonly staleAfterS: number;
  readonly timeoutLatencyMs: number;
  readonly degraded: DegradedThresholds;
}

const DEFAULT_DEGRADED: DegradedThresholds = { latencyMs: 200, errorRate: 0.05, memory: 0.9 };

export function createCollector(options: CollectorOptions): Collector {
  const scrapeIntervalS = options.scrapeIntervalS ?? 1;
  const windowS = rateWindowSeconds(scrapeIntervalS, options.stepSeconds);
  const query = observationQuery({
    namespace: options.namespace,
    deployment: options.deployment,
    podPattern: options.podPattern ?? defaultPodPattern(options.deployment),
    windowS,
  });
  const assembly: AssemblyOptions = {
    staleAfterS: options.staleAfterS ?? 3 * scrapeIntervalS,
    timeoutLatencyMs: options.timeoutLatencyMs ?? 10_000,
    degraded: { ...DEFAULT_DEGRADED, ...options.degraded },
  };
  const memory = createCollectorMemory(options.startUnixS);
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    query,
    windowS,
    async observe(atUnixS = Date.now() / 1000, signal) {
      const reply = await queryInstant(options.url, query, atUnixS, { timeoutMs, signal });
      return assembleSnapshot(reply.data.result, atUnixS, assembly, memory);
    },
    noteDeleted(pod) {
      memory.deletedByCaller.add(pod);
    },
  };
}

/** The reply's samples sorted by part: scalars by part, per-pod values by part then pod. */
interface Parts {
  readonly scalar: Map<QueryPart, number>;
  readonly perPod: Map<QueryPart, Map<string, number>>;
  /** `pod_phase` and `pod_waiting` name their value in a label. */
  readonly phase: Map<string, string>;
  readonly waiting: Map<string, string>;
}

function sortParts(samples: readonly VectorSample[]): Parts {
  const parts: Parts = { scalar: new Map(), perPod: new Map(), phase: new Map(), waiting: new Map() };
  for (const s of samples) {
    const part = s.metric[PART_LABEL] as QueryPart | undefined;
    if (part === undefined) continue;
    const pod = s.metric.pod;
    if (pod === undefined) {
      parts.scalar.set(part, sampleValue(s));
      continue;
    }
    if (part === "pod_phase") parts.phase.set(pod, s.metric.phase ?? "Unknown");
    else if (part === "pod_waiting") parts.waiting.set(pod, s.metric.reason ?? "");
    else {
      let m = parts.perPod.get(part);
      if (m === undefined) {
        m = new Map();
        parts.perPod.set(part, m);
      }
      m.set(pod, sampleValue(s));
    }
  }
  return parts;
}

/** NaN unless the part exists and its family is fresh. */
function freshScalar(parts: Parts, part: QueryPart, agePart: QueryPart, staleAfterS: number): number {
  const age = parts.scalar.get(agePart);
  if (age === undefined || !(age <= staleAfterS)) return Number.NaN;
  return parts.scalar.get(part) ?? Number.NaN;
}

function finiteOr0(x: number | undefined): number {
  return x !== undefined && Number.isFinite(x) ? x : 0;
}

/**
 * Builds the snapshot of one observation from the samples of {@link observationQuery},
 * updating `memory`. Pure but for `memory`: the recorded-reply tests call it directly.
 */
export function assembleSnapshot(
  samples: readonly VectorSample[],
  atUnixS: number,
  options: AssemblyOptions,
  memory: CollectorMemory,
): CollectedSnapshot {
  const parts = sortParts(samples);
  memory.startUnixS ??= atUnixS;
  const snap = createSnapshot();
  snap.time = atUnixS - memory.startUnixS;
  snap.desiredReplicas = freshScalar(parts, "desired", "age_deployment", options.staleAfterS);
  snap.readyReplicas = freshScalar(parts, "ready_replicas", "age_deployment", options.staleAfterS);

  const podsAge = parts.scalar.get("age_pods");
  const podsKnown = parts.phase.size > 0 && podsAge !== undefined && podsAge <= options.staleAfterS;
  const memoryAge = parts.scalar.get("age_memory");
  const memoryFresh = memoryAge !== undefined && memoryAge <= options.staleAfterS;
  const rps = parts.perPod.get("pod_rps");
  const errors = parts.perPod.get("pod_errors");

  // Service-wide traffic: every pod's requests, serving or not, and those no pod received.
  const unroutedRps = parts.scalar.get("unrouted_rps");
  if (rps === undefined && unroutedRps === undefined) {
    snap.requestRate = Number.NaN;
    snap.errorRate = Number.NaN;
  } else {
    let total = finiteOr0(unroutedRps);
    let failed = finiteOr0(parts.scalar.get("unrouted_errors"));
    for (const [pod, r] of rps ?? []) {
      total += finiteOr0(r);
      failed += finiteOr0(errors?.get(pod));
    }
    snap.requestRate = total;
    snap.errorRate = total > 0 ? failed / total : 0;
  }
  const p95 = parts.scalar.get("p95");
  snap.latencyMs = p95 === undefined ? Number.NaN : Number.isNaN(p95) ? 0 : p95 * 1000;

  let podNames: string[] = [];
  if (!podsKnown) {
    for (const k of ["pods", "healthy", "degraded", "crashed", "pending", "terminating", "drained"] as const) {
      snap[k] = Number.NaN;
    }
    snap.cpu = Number.NaN;
    snap.memory = Number.NaN;
  } else {
    podNames = [...parts.phase.keys()].sort();
    const table = createPodTable(podNames.length);
    const known = fillPods(parts, podNames, table, atUnixS, snap.desiredReplicas, options, memory);
    snap.podTable = table;
    aggregatePods(snap, table, known, memoryFresh, options);
  }
  snap.sinceFailureS = atUnixS - (memory.lastFailureUnixS ?? memory.startUnixS);
  fillMissing(snap);
  return Object.assign(snap, { podNames, atUnixS });
}

function fillPods(
  parts: Parts,
  names: readonly string[],
  t: PodTable,
  atUnixS: number,
  desired: number,
  options: AssemblyOptions,
  memory: CollectorMemory,
): Known {
  const known: Known = { cpu: new Uint8Array(names.length), memory: new Uint8Array(names.length) };
  const get = (part: QueryPart, pod: string) => parts.perPod.get(part)?.get(pod);
  let failed = false;
  const seen = new Set<string>();
  for (let i = 0; i < names.length; i++) {
    const pod = names[i]!;
    seen.add(pod);
    const restarts = finiteOr0(get("pod_restarts", pod));
    let m = memory.pods.get(pod);
    if (m === undefined) {
      m = { restarts, readySinceStart: false, restarting: false, phase: Phase.Pending };
      memory.pods.set(pod, m);
    } else if (restarts > m.restarts) {
      failed = true;
      m.readySinceStart = false;
      m.restarting = true;
    }
    m.restarts = restarts;
    const ready = get("pod_ready", pod) === 1;
    if (ready) {
      m.readySinceStart = true;
      m.restarting = false;
    }

    const rps = finiteOr0(get("pod_rps", pod));
    const errorRate = rps > 0 ? finiteOr0(get("pod_errors", pod)) / rps : 0;
    const latencyMs = finiteOr0(get("pod_p95", pod)) * 1000;
    const mem = finiteOr0(get("pod_memory", pod));

    let phase: PodPhase;
    const k8sPhase = parts.phase.get(pod);
    const waiting = parts.waiting.get(pod);
    if (get("pod_deleting", pod) !== undefined) phase = Phase.Terminating;
    else if (k8sPhase === "Pending") phase = Phase.Pending;
    else if (k8sPhase !== "Running") phase = Phase.Crashed;
    else if (waiting !== undefined && CRASH_WAITING_REASONS.has(waiting)) phase = Phase.Crashed;
    else if (ready) {
      const d = options.degraded;
      phase = latencyMs > d.latencyMs || errorRate > d.errorRate || mem > d.memory ? Phase.Degraded : Phase.Healthy;
    } else if (m.readySinceStart) phase = Phase.Crashed;
    else if (m.restarting) phase = Phase.Restarting;
    else phase = Phase.Pending;
    if (phase === Phase.Crashed && m.phase !== Phase.Crashed) failed = true;
    m.phase = phase;

    // Rows are sorted by name, so the id is stable only while no pod comes or goes; the
    // backends that know each pod's creation order and uid overwrite id and uid.
    t.id[i] = i;
    t.name[i] = pod;
    t.phase[i] = phase;
    t.drained[i] = get("pod_drained", pod) === 1 ? 1 : 0;
    const cpu = get("pod_cpu", pod);
    known.cpu[i] = cpu !== undefined && Number.isFinite(cpu) ? 1 : 0;
    known.memory[i] = Number.isFinite(get("pod_memory", pod) ?? Number.NaN) ? 1 : 0;
    t.cpu[i] = finiteOr0(cpu);
    t.memory[i] = mem;
    t.latencyMs[i] = latencyMs;
    t.errorRate[i] = errorRate;
    t.restarts[i] = restarts;
  }
  t.count = names.length;
  // Pods gone since the last observation: killed, unless seen terminating (a graceful
  // delete), deleted by the caller, or one of as many as `spec.replicas` dropped by.
  let scaledDown = desired < memory.desired ? memory.desired - desired : 0;
  for (const [pod, m] of memory.pods) {
    if (seen.has(pod)) continue;
    memory.pods.delete(pod);
    if (memory.deletedByCaller.delete(pod) || m.phase === Phase.Terminating) continue;
    if (scaledDown > 0) scaledDown--;
    else failed = true;
  }
  memory.desired = desired;
  if (failed) memory.lastFailureUnixS = atUnixS;
  return known;
}

/** Which rows had a value (1) rather than none (the table holds 0 then). */
interface Known {
  readonly cpu: Uint8Array;
  readonly memory: Uint8Array;
}

function aggregatePods(
  snap: Snapshot,
  t: PodTable,
  known: Known,
  memoryFresh: boolean,
  options: AssemblyOptions,
): void {
  countPodPhases(t, snap);
  let serving = 0;
  let cpuSum = 0;
  let cpuN = 0;
  let memSum = 0;
  let memN = 0;
  for (let i = 0; i < t.count; i++) {
    // Serving: ready (healthy or degraded, which also excludes terminating) and not drained.
    if (t.phase[i]! > Phase.Degraded || t.drained[i] === 1) continue;
    serving++;
    // A pod without the value (rate not yet computable after a start) is left out of the mean.
    if (known.cpu[i] === 1) {
      cpuSum += t.cpu[i]!;
      cpuN++;
    }
    if (known.memory[i] === 1) {
      memSum += t.memory[i]!;
      memN++;
    }
  }
  if (serving === 0) {
    snap.cpu = 0;
    snap.memory = 0;
    snap.errorRate = 1;
    snap.latencyMs = options.timeoutLatencyMs;
    return;
  }
  snap.cpu = cpuN > 0 ? cpuSum / cpuN : Number.NaN;
  snap.memory = memoryFresh && memN > 0 ? memSum / memN : Number.NaN;
}
