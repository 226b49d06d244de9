/**
 * The informer's pods merged with the collector's observation into one `Snapshot`: the API
 * server says which pods exist (names, uids, deletion, the routing label of a drain),
 * Prometheus says how they are doing (phase from kube-state-metrics, CPU, memory, latency,
 * errors). A pod the API has but Prometheus has not scraped yet gets its phase from the pod
 * object; a pod Prometheus still shows but the API has deleted is dropped. Rows keep their
 * pod's name and uid (`PodRef`), and ids follow creation order (oldest first), as the
 * contract's fault targeting expects.
 */
import type { V1Pod } from "@kubernetes/client-node";
import {
  countPodPhases,
  createPodTable,
  Missing,
  PodPhase,
  type PodTable,
  type Snapshot,
} from "../../harness/core/contract.ts";
import type { CollectedSnapshot } from "../prometheus/collector.ts";

export interface PodRef {
  readonly name: string;
  readonly uid: string;
  /** Creation order (the contract's `PodTable.id`). */
  readonly id: number;
}

export interface MergedSnapshot extends Snapshot {
  /** By row of `podTable`. */
  readonly podRefs: readonly PodRef[];
}

/** Assigns creation-order ids to pod uids, once each. */
export class PodIds {
  private next = 0;
  private readonly ids = new Map<string, number>();

  /** The id of every pod, new ones numbered in creation order (then name). */
  assign(pods: readonly V1Pod[]): void {
    const fresh = pods
      .filter((p) => !this.ids.has(p.metadata?.uid ?? ""))
      .sort((a, b) => created(a) - created(b) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
    for (const p of fresh) this.ids.set(p.metadata?.uid ?? "", this.next++);
  }

  of(uid: string): number {
    return this.ids.get(uid) ?? -1;
  }
}

function created(p: V1Pod): number {
  const t = p.metadata?.creationTimestamp as Date | string | undefined;
  return t === undefined ? 0 : new Date(t).getTime();
}

function isReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Phase of a pod Prometheus has no row for, from the pod object alone. */
function phaseFromApi(p: V1Pod): PodPhase {
  if (p.metadata?.deletionTimestamp) return PodPhase.Terminating;
  const phase = p.status?.phase;
  if (phase === "Pending") return PodPhase.Pending;
  if (phase !== "Running") return PodPhase.Crashed;
  const waiting = p.status?.containerStatuses?.some((c) => c.state?.waiting?.reason === "CrashLoopBackOff");
  if (waiting) return PodPhase.Crashed;
  if (isReady(p)) return PodPhase.Healthy;
  return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) > 0 ? PodPhase.Restarting : PodPhase.Pending;
}

/**
 * The merged snapshot. `routingLabel` null: drains are not possible here, no pod is drained.
 * The collector's aggregates (cpu, memory, latency, errors, rate) are kept; the counts are
 * recomputed from the merged rows.
 */
export function mergePods(
  collected: CollectedSnapshot,
  pods: readonly V1Pod[],
  ids: PodIds,
  routingLabel: string | null,
): MergedSnapshot {
  ids.assign(pods);
  const sorted = [...pods].sort((a, b) => ids.of(a.metadata?.uid ?? "") - ids.of(b.metadata?.uid ?? ""));
  const t: PodTable = createPodTable(sorted.length);
  const byName = new Map<string, number>();
  for (const [i, n] of collected.podNames.entries()) byName.set(n, i);
  const src = collected.podTable;
  const refs: PodRef[] = [];
  let ready = 0;
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i]!;
    const name = p.metadata?.name ?? "";
    const uid = p.metadata?.uid ?? "";
    const id = ids.of(uid);
    refs.push({ name, uid, id });
    t.id[i] = id;
    t.name[i] = name;
    t.uid[i] = uid;
    const row = src ? byName.get(name) : undefined;
    if (src && row !== undefined) {
      t.phase[i] = src.phase[row]!;
      t.cpu[i] = src.cpu[row]!;
      t.memory[i] = src.memory[row]!;
      t.latencyMs[i] = src.latencyMs[row]!;
      t.errorRate[i] = src.errorRate[row]!;
      t.restarts[i] = src.restarts[row]!;
    } else {
      t.phase[i] = phaseFromApi(p);
      t.restarts[i] = p.status?.containerStatuses?.[0]?.restartCount ?? 0;
    }
    // The API is fresher than the scrape on deletion.
    if (p.metadata?.deletionTimestamp) t.phase[i] = PodPhase.Terminating;
    t.drained[i] = routingLabel !== null && p.metadata?.labels?.[routingLabel] === undefined ? 1 : 0;
    if (isReady(p) && !p.metadata?.deletionTimestamp) ready++;
  }
  t.count = sorted.length;

  const s: Snapshot = { ...collected, podTable: t };
  countPodPhases(t, s);
  // The pod rows came from the API, not the scrape: present even when kube-state-metrics is not.
  s.missing &= ~Missing.Pods;
  if (!Number.isFinite(s.readyReplicas) || (collected.missing & Missing.Pods) !== 0) s.readyReplicas = ready;
  return Object.assign(s, { podRefs: refs });
}

/** Kubernetes CPU quantity (`500m`, `2`) in cores, or NaN. */
export function parseCpu(q: string | undefined): number {
  if (q === undefined) return Number.NaN;
  const m = /^([0-9.]+)(m?)$/.exec(q.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) / (m[2] === "m" ? 1000 : 1);
}

const MEM_UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** Kubernetes memory quantity (`256Mi`, `1G`, `1048576`) in bytes, or NaN. */
export function parseMemory(q: string | undefined): number {
  if (q === undefined) return Number.NaN;
  const m = /^([0-9.]+)([kMGT]i?)?$/.exec(q.trim());
  if (!m) return Number.NaN;
  const unit = MEM_UNITS[m[2] ?? ""];
  return unit === undefined ? Number.NaN : Math.round(Number(m[1]) * unit);
}
