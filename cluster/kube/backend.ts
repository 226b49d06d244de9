/**
 * `backend: cluster`: the controller loop's `Backend` on a Kubernetes cluster.
 * - observe: the PromQL collector's observation (cluster/prometheus/, unchanged) merged with
 *   the pods an informer keeps from list + watch (pods.ts): names and uids from the API,
 *   health and load from Prometheus.
 * - execute: restart = DELETE the pod the contract's ranking picks, with its uid as a
 *   precondition (a 409 or 404 means it was already replaced: done); scale = a merge patch of
 *   the Deployment's `scale` subresource to an absolute count computed once per action, with
 *   the resourceVersion it was computed from as precondition, so that a retry after a timeout
 *   or a 5xx never adds a second replica; drain = remove the routing label (one the Service
 *   selects on and the Deployment's selector does not) from the pod, so it leaves the
 *   Service's endpoints but stays a replica, marking the pod with the run and episode in the
 *   same patch (drain.ts); restored at close (or the pod deleted), and by
 *   `harness chaos cleanup` after a harness that died.
 * - inject/clear: the fault as a Chaos Mesh object (cluster/chaos/resources.ts) with the run
 *   and episode as labels and a duration no longer than what is left of the episode; clear
 *   deletes it and waits until Chaos Mesh has recovered the targets (the object gone, or its
 *   `AllRecovered` condition true). load-spike patches the load generator's Deployment.
 * - every API call and its outcome is a `kube-api` event in the trace (calls.ts).
 * - dry run: every write carries `dryRun=All`; outcomes say what the server would have done,
 *   and no action or fault counts as applied.
 */
import { createHash } from "node:crypto";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import {
  Action,
  type ActionOutcome,
  type Backend,
  type BackendEvent,
  type FaultInjection,
  faultTargetsPod,
  pickFaultTarget,
  pickTargetPod,
  type Slo,
  type Snapshot,
} from "../../harness/core/contract.ts";
import type { ClusterSection } from "../../scenarios/cluster.ts";
import {
  CHAOS_API_GROUP,
  type ChaosResource,
  type FaultObject,
  faultObject,
  type LoadSpikePatch,
} from "../chaos/resources.ts";
import { WallClock } from "../local/clock.ts";
import { type Collector, createCollector } from "../prometheus/collector.ts";
import { type StopConditionLimits, StopConditions } from "../stop-conditions.ts";
import { type ApiCallRecord, formatRecord } from "./calls.ts";
import { type CustomKind, type CustomObject, KubeClient, loadKubeConfig } from "./client.ts";
import { drainPod, undrainPod } from "./drain.ts";
import { KubeApiError, KubeErrorCode } from "./errors.ts";
import { PodInformer } from "./informer.ts";
import { type MergedSnapshot, mergePods, PodIds, type PodRef, parseCpu, parseMemory } from "./pods.ts";

export interface KubeBackendOptions {
  readonly cluster: ClusterSection;
  readonly stepSeconds: number;
  /**
   * Bounds every chaos object's duration (what is left of the episode); `Infinity` for a run
   * without end (the controller), where an object lasts its fault's own duration, or
   * {@link OPEN_ENDED_FAULT_S} for a fault that has none.
   */
  readonly episodeSeconds: number;
  /** Labels of every chaos object: the run id and the episode. */
  readonly runId: string;
  readonly episode: number;
  readonly signal?: AbortSignal;
  /** A loaded kubeconfig (tests); else the scenario's `kubeconfig`/`context`. */
  readonly kubeConfig?: KubeConfig;
  /** Retry settings of API calls (tests shorten them). */
  readonly retry?: { attempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** How long `clear` waits for Chaos Mesh to recover the targets, ms. @default 60000 */
  readonly recoverTimeoutMs?: number;
  /** Poll interval while waiting for recovery, ms. @default 500 */
  readonly recoverPollMs?: number;
  /** Stop conditions (cluster/stop-conditions.ts): when one holds, all chaos is aborted. */
  readonly stop?: { readonly limits: StopConditionLimits; readonly slo: Slo };
}

type KubeEventKind = BackendEvent["kind"] | "kube-api" | "kube-informer" | "kube-backend" | "stop-condition";

/** One live fault: what was created for it, so clear and close can undo it. */
interface LiveFault {
  readonly fault: FaultInjection;
  readonly object: FaultObject;
  readonly kind: CustomKind | null;
  readonly pod: PodRef | null;
}

export const CHAOS_VERSION = "v1alpha1";

/**
 * Duration of a chaos object in a run without end, for a fault without a duration of its own
 * (a memory leak): Chaos Mesh ends it by itself even if the harness dies before clearing it.
 */
export const OPEN_ENDED_FAULT_S = 3600;

export class KubeBackend implements Backend {
  readonly clock: WallClock;
  readonly client: KubeClient;
  private events: BackendEvent[] = [];
  private last: MergedSnapshot | null = null;
  private readonly ids = new PodIds();
  private readonly live = new Map<number, LiveFault>();
  /** Pods drained by this episode: name -> uid and the routing label's value, restored at close. */
  private readonly drained = new Map<string, { uid: string; value: string }>();
  private informer: PodInformer | null = null;
  private collector: Collector | null = null;
  private routingLabel: string | null = null;
  private baseReplicas = 1;
  /**
   * The scale action of this step: the count it aims at, computed once from the count read
   * by its first try. The loop retries an execute that timed out or failed transiently while
   * that try may have gone through; the retry aims at the same count instead of adding
   * another replica. Cleared when done and at the next observation (a new step).
   */
  private scaling: { readonly action: Action; readonly from: number; readonly target: number } | null = null;
  /** Observations so far: a try still running when the next step has begun does not write. */
  private steps = 0;
  private closed: Promise<void> | null = null;
  private readonly stop: StopConditions | null;

  private constructor(private readonly o: KubeBackendOptions) {
    const c = o.cluster;
    const kc = o.kubeConfig ?? loadKubeConfig(c);
    this.client = new KubeClient(kc, {
      allowedNamespaces: c.allowedNamespaces,
      dryRun: c.dryRun,
      ...o.retry,
      audit: (r) => this.audit(r),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    this.clock = new WallClock(o.signal);
    this.stop = o.stop ? new StopConditions(o.stop.limits, o.stop.slo) : null;
  }

  /** Reads the Deployment and Service, starts the informer; throws a typed error naming what is wrong. */
  static async open(o: KubeBackendOptions): Promise<KubeBackend> {
    const b = new KubeBackend(o);
    try {
      await b.start();
      return b;
    } catch (err) {
      await b.close().catch(() => {});
      throw err;
    }
  }

  private async start(): Promise<void> {
    const c = this.o.cluster;
    const dep = await this.client.getDeployment(c.namespace, c.deployment);
    const depLabels = dep.spec?.selector?.matchLabels ?? {};
    if (Object.keys(depLabels).length === 0) {
      throw configError(`Deployment ${c.namespace}/${c.deployment} has no selector.matchLabels to list its pods by`);
    }
    this.baseReplicas = Math.max(1, dep.spec?.replicas ?? 1);
    const svc = await this.client.getService(c.namespace, c.service);
    const svcSel = svc.spec?.selector ?? {};
    if (c.routingLabel !== undefined) {
      if (!(c.routingLabel in svcSel)) {
        throw configError(`Service ${c.namespace}/${c.service} does not select on routingLabel ${c.routingLabel}`);
      }
      if (c.routingLabel in depLabels) {
        throw configError(
          `routingLabel ${c.routingLabel} is in the Deployment's selector: removing it would orphan the pod, not drain it`,
        );
      }
      this.routingLabel = c.routingLabel;
    } else {
      this.routingLabel = Object.keys(svcSel).find((k) => !(k in depLabels)) ?? null;
    }
    this.note(
      "kube-backend",
      -1,
      `deployment ${c.namespace}/${c.deployment} (${this.baseReplicas} replicas), service ${c.service}, routing label ${
        this.routingLabel ?? "(none: drain unavailable)"
      }${this.client.dryRun ? ", dry run" : ""}`,
    );
    const selector = Object.entries(depLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    this.informer = new PodInformer(this.client, {
      namespace: c.namespace,
      labelSelector: selector,
      onEvent: (kind, detail) => this.note("kube-informer", -1, `${kind}: ${detail}`),
    });
    await this.informer.start();
    this.collector = createCollector({
      url: c.prometheusUrl,
      namespace: c.namespace,
      deployment: c.deployment,
      stepSeconds: this.o.stepSeconds,
      scrapeIntervalS: c.scrapeIntervalS,
    });
    this.clock.restart();
  }

  async observe(): Promise<Snapshot> {
    this.steps++;
    this.scaling = null;
    const now = this.clock.now();
    const collected = await this.collector!.observe(Date.now() / 1000, this.o.signal);
    const snap = mergePods(collected, this.informer!.pods(), this.ids, this.routingLabel);
    snap.time = now;
    this.last = snap;
    const why = this.stop?.check(snap) ?? null;
    if (why !== null) await this.abortChaos(why);
    return snap;
  }

  /** `signal` aborts when the loop gives up on the action: its API calls stop retrying then. */
  async execute(action: Action, signal?: AbortSignal): Promise<ActionOutcome> {
    const c = this.o.cluster;
    switch (action) {
      case Action.Noop:
        return { applied: false, podId: -1, message: "noop" };
      case Action.ScaleUp:
      case Action.ScaleDown:
        return this.scale(action, signal);
      case Action.RestartPod:
      case Action.DrainPod: {
        const snap = this.last;
        const row = snap?.podTable ? pickTargetPod(snap.podTable, action) : -1;
        const pod = row >= 0 ? snap!.podRefs[row]! : null;
        if (pod === null) return { applied: false, podId: -1, message: "no eligible pod" };
        if (action === Action.RestartPod) {
          this.collector!.noteDeleted(pod.name);
          const r = await this.client.deletePod(c.namespace, pod.name, pod.uid, signal);
          if (r === "gone") {
            return {
              applied: true,
              podId: pod.id,
              message: `${pod.name} (uid ${pod.uid}) was already replaced or deleted`,
            };
          }
          return this.outcome(pod.id, `deleted ${pod.name} (uid ${pod.uid}); its ReplicaSet replaces it`);
        }
        if (this.routingLabel === null) {
          return {
            applied: false,
            podId: pod.id,
            message: "drain unavailable: the Service selects on no label the Deployment's selector does not",
          };
        }
        const label = this.routingLabel;
        const seen = this.informer!.pods().find((p) => p.metadata?.uid === pod.uid);
        if (seen === undefined) {
          return { applied: false, podId: pod.id, message: `${pod.name} was replaced before the drain` };
        }
        const r = await drainPod(this.client, c.namespace, seen, {
          uid: pod.uid,
          label,
          runLabel: runLabel(this.o.runId),
          episode: this.o.episode,
        });
        if (r.result === "gone") {
          return { applied: false, podId: pod.id, message: `${pod.name} was replaced before the drain` };
        }
        if (r.result === "already") {
          return { applied: false, podId: pod.id, message: `${pod.name} is already drained` };
        }
        if (!this.client.dryRun) this.drained.set(pod.name, { uid: pod.uid, value: r.value });
        return this.outcome(
          pod.id,
          `drained ${pod.name}: label ${this.routingLabel} removed, out of ${c.service}'s endpoints`,
        );
      }
    }
  }

  async inject(fault: FaultInjection): Promise<void> {
    const c = this.o.cluster;
    const type = fault.spec.type;
    const now = this.clock.now();
    if (this.stop?.reason) {
      this.push({
        time: now,
        kind: "fault-skipped",
        podId: -1,
        faultId: fault.id,
        detail: `chaos stopped: ${this.stop.reason}`,
      });
      return;
    }
    let pod: PodRef | null = null;
    let rank = -1;
    if (faultTargetsPod(type)) {
      const t = this.last?.podTable;
      const hit = t
        ? pickFaultTarget(t, fault.targetKey, this.baseReplicas, { row: -1, rank: -1 })
        : { row: -1, rank: -1 };
      if (hit.row < 0) {
        this.push({
          time: now,
          kind: "fault-skipped",
          podId: -1,
          faultId: fault.id,
          detail: `${type}: no running pod`,
        });
        return;
      }
      pod = this.last!.podRefs[hit.row]!;
      rank = hit.rank;
    }
    const left = Number.isFinite(this.o.episodeSeconds)
      ? Math.max(1, Math.ceil(this.o.episodeSeconds - now))
      : OPEN_ENDED_FAULT_S;
    const object = faultObject(fault.spec, {
      namespace: c.namespace,
      target: { pod: pod?.name ?? "unused" },
      runId: runLabel(this.o.runId),
      episode: this.o.episode,
      faultId: fault.id,
      durationS: left,
      name: chaosName(this.o.runId, this.o.episode, fault.id, type),
      ...(pod ? { resources: this.limitsOf(pod.name) } : {}),
      nowUnixS: Date.now() / 1000,
    });
    let kind: CustomKind | null = null;
    if (object.type === "chaos") {
      kind = { group: CHAOS_API_GROUP, version: CHAOS_VERSION, plural: object.plural };
      await this.createChaos(kind, object.resource);
    } else {
      await this.patchLoad(object.patch);
    }
    // A retry of this call after a timeout (the loop's), while the first try went on and
    // finished: the fault is live once, and recorded once.
    if (this.live.has(fault.id)) return;
    if (!this.client.dryRun) this.live.set(fault.id, { fault, object, kind, pod });
    const what =
      object.type === "chaos" ? `${object.resource.kind} ${object.resource.metadata.name}` : "load generator patched";
    this.push({
      time: now,
      kind: "fault-injected",
      podId: pod?.id ?? -1,
      ...(pod ? { podName: pod.name, podUid: pod.uid } : {}),
      faultId: fault.id,
      targetRank: rank,
      detail: `${type}: ${what}${pod ? ` on ${pod.name}` : ""}${this.client.dryRun ? " (dry run: not created)" : ""}`,
    });
  }

  async clear(fault: FaultInjection): Promise<void> {
    const lf = this.live.get(fault.id);
    const now = this.clock.now();
    if (lf === undefined) {
      this.push({
        time: now,
        kind: "fault-cleared",
        podId: -1,
        faultId: fault.id,
        detail: this.client.dryRun ? "dry run: nothing was created" : "nothing live",
      });
      return;
    }
    const detail = await this.undo(lf);
    this.live.delete(fault.id);
    const t = this.clock.now();
    // The pod may be gone from the latest snapshot by now: its name and uid travel with the event.
    const who = lf.pod ? { podName: lf.pod.name, podUid: lf.pod.uid } : {};
    this.push({ time: t, kind: "fault-cleared", podId: lf.pod?.id ?? -1, ...who, faultId: fault.id, detail });
    this.push({
      time: t,
      kind: "fault-ended",
      podId: lf.pod?.id ?? -1,
      ...who,
      faultId: fault.id,
      detail: `${fault.spec.type} effect over: cleared`,
    });
  }

  drainEvents(): BackendEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  /** Undoes live faults and drains, stops the informer; throws naming what was left. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const problems: string[] = [];
      for (const lf of [...this.live.values()]) {
        try {
          await this.undo(lf);
          this.live.delete(lf.fault.id);
        } catch (err) {
          problems.push(`fault ${lf.fault.id} (${lf.fault.spec.type}) not cleared: ${(err as Error).message}`);
        }
      }
      const c = this.o.cluster;
      for (const [name, { uid, value }] of this.drained) {
        try {
          const r = await undrainPod(this.client, c.namespace, name, {
            uid,
            fallback: { label: this.routingLabel!, value },
          });
          if (r !== "gone")
            this.note("kube-backend", -1, `drain of ${name} undone: label ${this.routingLabel} restored`);
        } catch (err) {
          // The label could not go back: delete the pod so that its replacement serves.
          try {
            await this.client.deletePod(c.namespace, name, uid);
            this.note("kube-backend", -1, `drain of ${name} undone by deleting it (${(err as Error).message})`);
          } catch (err2) {
            problems.push(`pod ${name} left drained: ${(err2 as Error).message}`);
          }
        }
      }
      this.drained.clear();
      await this.informer?.stop();
      if (problems.length > 0) throw new Error(`cluster backend cleanup: ${problems.join("; ")}`);
    })();
    return this.closed;
  }

  // ---------------------------------------------------------------------------

  /**
   * Scale up or down by one, once per action however often it is tried: the target is
   * computed once (`scaling`), the patch is absolute and names the resourceVersion the count
   * was read at. A 409 (the Deployment changed since: its status, or an earlier try of this
   * action) is read again: at the target already, done; still at the count this action
   * started from, patched again; at another count, someone else scaled and this action stands
   * down rather than undo it.
   */
  private async scale(action: Action, signal?: AbortSignal): Promise<ActionOutcome> {
    const c = this.o.cluster;
    const step = this.steps;
    for (let i = 0; i < 5; i++) {
      const scale = await this.client.getScale(c.namespace, c.deployment, signal);
      const cur = scale.spec?.replicas ?? 0;
      if (this.steps !== step) {
        return { applied: false, podId: -1, message: "superseded: the next step began before this try could scale" };
      }
      if (this.scaling?.action !== action) {
        this.scaling = { action, from: cur, target: action === Action.ScaleUp ? cur + 1 : cur - 1 };
      }
      const { from, target } = this.scaling!;
      if (target < 1) {
        this.scaling = null;
        return { applied: false, podId: -1, message: `already at ${cur} replica(s)` };
      }
      if (cur === target) {
        this.scaling = null;
        return this.outcome(-1, `scaled ${c.deployment} from ${from} to ${target} replicas (by an earlier try)`);
      }
      if (cur !== from) {
        this.scaling = null;
        return {
          applied: false,
          podId: -1,
          message: `not scaled: replicas went from ${from} to ${cur} by another writer while this action tried`,
        };
      }
      const r = await this.client.patchScale(
        c.namespace,
        c.deployment,
        target,
        scale.metadata?.resourceVersion,
        signal,
      );
      if (r === "conflict") continue;
      this.scaling = null;
      return this.outcome(-1, `scaled ${c.deployment} from ${from} to ${target} replicas`);
    }
    throw new KubeApiError(
      KubeErrorCode.Status,
      true,
      `deployments/${c.deployment}/scale changed under 5 patches in a row (409 Conflict each time)`,
      409,
      "Conflict",
      null,
    );
  }

  /** A stop condition held: clear every live fault now (each recorded as cleared), no more chaos. */
  private async abortChaos(why: string): Promise<void> {
    const live = [...this.live.values()].map((l) => l.fault);
    this.note("stop-condition", -1, `${why}: aborting ${live.length} live fault(s)`);
    for (const f of live) await this.clear(f);
  }

  /** Deletes a fault's object and waits for Chaos Mesh to recover it, or reverts a load patch. */
  private async undo(lf: LiveFault): Promise<string> {
    const c = this.o.cluster;
    if (lf.object.type === "load-patch") {
      await this.patchLoad(lf.object.revert);
      return "load generator back to its base rate";
    }
    const name = lf.object.resource.metadata.name;
    const kind = lf.kind!;
    const r = await this.client.deleteCustom(kind, c.namespace, name);
    if (r === "gone") return `${lf.object.resource.kind} ${name} was already gone`;
    const waited = await this.awaitRecovered(kind, name);
    return `${lf.object.resource.kind} ${name} deleted; targets recovered after ${waited.toFixed(1)} s`;
  }

  /** Seconds until the object is gone or reports AllRecovered; throws after the timeout. */
  private async awaitRecovered(kind: CustomKind, name: string): Promise<number> {
    const start = performance.now();
    const timeout = this.o.recoverTimeoutMs ?? 60_000;
    const poll = this.o.recoverPollMs ?? 500;
    for (;;) {
      const obj = await this.client.getCustom(kind, this.o.cluster.namespace, name);
      if (obj === null || allRecovered(obj.status)) return (performance.now() - start) / 1000;
      if (performance.now() - start > timeout) {
        throw new KubeApiError(
          KubeErrorCode.Status,
          true,
          `${kind.plural}/${name}: Chaos Mesh did not report its targets recovered within ${timeout / 1000} s`,
          0,
          "NotRecovered",
          null,
        );
      }
      await new Promise((r) => setTimeout(r, poll));
    }
  }

  /**
   * Creates a chaos object. Its name is fixed per run, episode and fault, so a 409
   * AlreadyExists for an object with this fault's labels is this injection's own, created by
   * an earlier try whose answer came too late (the loop retries an inject after its call
   * timeout): adopted, not an error. One with other labels is someone else's: the error stands.
   */
  private async createChaos(kind: CustomKind, resource: ChaosResource): Promise<void> {
    const ns = this.o.cluster.namespace;
    try {
      await this.client.createCustom(kind, ns, resource as unknown as CustomObject);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409 && err.reason === "AlreadyExists")) throw err;
      const name = resource.metadata.name;
      const existing = await this.client.getCustom(kind, ns, name);
      const want = resource.metadata.labels;
      const have = existing?.metadata?.labels ?? {};
      const same = existing !== null && Object.entries(want).every(([k, v]) => have[k] === v);
      if (!same) throw err;
      this.note(
        "kube-backend",
        -1,
        `${kind.plural}/${name} already exists with this fault's labels: an earlier try created it; adopted`,
      );
    }
  }

  private async patchLoad(p: LoadSpikePatch): Promise<void> {
    await this.client.patchDeployment(p.namespace, p.name, p.patch);
  }

  private limitsOf(name: string): { cpuLimitCores: number; memoryLimitBytes: number } | undefined {
    const p = this.informer?.pods().find((x: V1Pod) => x.metadata?.name === name);
    const limits = p?.spec?.containers?.[0]?.resources?.limits;
    const cpu = parseCpu(limits?.cpu);
    const mem = parseMemory(limits?.memory);
    return Number.isFinite(cpu) && Number.isFinite(mem) && cpu > 0 && mem > 0
      ? { cpuLimitCores: cpu, memoryLimitBytes: mem }
      : undefined;
  }

  private outcome(podId: number, done: string): ActionOutcome {
    if (this.client.dryRun) return { applied: false, podId, message: `dry run (accepted, not persisted): ${done}` };
    return { applied: true, podId, message: done };
  }

  private audit(r: ApiCallRecord): void {
    this.note("kube-api", -1, formatRecord(r));
  }

  private push(e: BackendEvent): void {
    this.events.push(e);
  }

  private note(kind: KubeEventKind, podId: number, detail: string): void {
    // The store keeps event kinds as free text; these are this backend's own records.
    this.events.push({ time: this.clock?.now() ?? 0, kind: kind as BackendEvent["kind"], podId, faultId: -1, detail });
  }
}

function configError(message: string): KubeApiError {
  return new KubeApiError(KubeErrorCode.Config, false, message, 0, "Config", null);
}

/** Chaos Mesh's `AllRecovered` condition is true. */
function allRecovered(status: Record<string, unknown> | undefined): boolean {
  const conds = (status?.conditions ?? []) as { type?: string; status?: string }[];
  return conds.some((c) => c.type === "AllRecovered" && c.status === "True");
}

/** The run id as a label value (at most 63 characters; a longer one is cut and hashed). */
export function runLabel(runId: string): string {
  if (runId.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(runId)) return runId;
  const h = createHash("sha256").update(runId).digest("hex").slice(0, 8);
  const head = runId
    .replace(/[^-A-Za-z0-9_.]/g, "-")
    .slice(0, 54)
    .replace(/[^A-Za-z0-9]+$/, "");
  return `${head}-${h}`;
}

/** A unique object name per run, episode and fault (RFC 1123). */
export function chaosName(runId: string, episode: number, faultId: number, type: string): string {
  const h = createHash("sha256").update(runId).digest("hex").slice(0, 10);
  return `chaos-rl-${h}-e${episode}-f${faultId}-${type}`;
}
