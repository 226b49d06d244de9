/**
 * The local testbed behind a Kubernetes API facade (issue 14, "End to end on real
 * processes"): the subset of the API the Kubernetes backend uses, served over HTTP onto the
 * testbed's real processes, the way KWOK or envtest stand in for a cluster. The unchanged
 * `KubeBackend` (cluster/kube/) talks to it through `@kubernetes/client-node` with a
 * kubeconfig that points here, and reads the testbed's real Prometheus.
 *
 * The API semantics (Status errors, resourceVersions, uid preconditions, patches, the scale
 * subresource, dryRun, finalizers, list + chunked watch, 410 on compaction, CRD validation of
 * the Chaos Mesh kinds) are the HTTP fake's (cluster/kube/fake-apiserver.ts): one
 * implementation, tested on its own. This module is the controllers behind it:
 * - a kubelet and ReplicaSet status writer: every pod of the supervisor is a `Pod` object
 *   (name, uid, labels, limits, phase, Ready condition, restart count, container state),
 *   the Deployment's status follows the ready count. Deletion is graceful as on a cluster:
 *   a DELETE sets `deletionTimestamp` (a finalizer stands for the kubelet) and the object
 *   goes once the supervisor has really stopped the pod's processes.
 * - writes onto the testbed: DELETE (or an Eviction) of a pod -> `supervisor.delete`
 *   (SIGTERM, grace, the ReplicaSet's replacement); a patch of `deployments/demo/scale` (or of its spec.replicas)
 *   -> `supervisor.scale`; a pod patch removing or adding the routing label -> drain or
 *   undrain (out of or back into the balancer's rotation); a patch of the `loadgen`
 *   Deployment's `LOAD_FACTOR`/`LOAD_FACTOR_UNTIL` env -> the load generator's rate, ended
 *   at its own deadline as cluster/loadgen/ does.
 * - a Chaos Mesh controller: creating a PodChaos, StressChaos or NetworkChaos injects the
 *   fault by the testbed's mechanisms (faults.ts: SIGKILL, freezer, stress-ng in the pod's
 *   cgroup, the delaying proxy), read from the CRD's own fields (chaos-objects.ts); the
 *   object gets Chaos Mesh's finalizer and status conditions; its `duration` ends the fault
 *   by itself (the object stays, `AllRecovered`), and deleting it ends the fault and then
 *   lets the object go.
 * Everything it starts is stopped by `stop()`, which returns what it could not clean.
 */
import { EventEmitter } from "node:events";
import { writeFileSync } from "node:fs";
import type { FaultInjection } from "../../harness/core/contract.ts";
import { validateChaosObject } from "../chaos/crd-validate.ts";
import { CHAOS_API_GROUP, CHAOS_PLURALS, LOAD_ENV } from "../chaos/resources.ts";
import {
  type ClientWrite,
  DEPLOYMENTS,
  FakeApiServer,
  type KubeObject,
  PODS,
  type ResourceRef,
  SERVICES,
} from "../kube/fake-apiserver.ts";
import { type ChaosTarget, type ReadChaos, readChaos } from "./chaos-objects.ts";
import { FaultInjector } from "./faults.ts";
import type { DeploymentSpecInput } from "./spec.ts";
import type { Pod } from "./supervisor.ts";
import { Testbed } from "./testbed.ts";

/** Chaos Mesh's own finalizer on every chaos object: the object goes once the fault is recovered. */
export const CHAOS_FINALIZER = "chaos-mesh/records";
/** Stands for the kubelet in graceful deletion: a deleted pod stays (Terminating) until its processes are gone. */
export const KUBELET_FINALIZER = "testbed.chaos-rl/kubelet";
/** The Service selects on this label and the Deployment does not (cluster/manifests/demo.yaml). */
export const ROUTING_LABEL = "chaos-rl/serving";
export const LOADGEN = "loadgen";

/** Pod labels the status writer owns (podObject): the rest are clients'. */
const OWN_POD_LABELS = new Set(["app", "pod-template-hash", ROUTING_LABEL]);

function foreignLabels(labels: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => !OWN_POD_LABELS.has(k)));
}

function sorted(labels: Record<string, string> | undefined): [string, string][] {
  return Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
}

const CHAOS_REFS: ResourceRef[] = (Object.entries(CHAOS_PLURALS) as [string, string][]).map(([kind, plural]) => ({
  group: CHAOS_API_GROUP,
  version: "v1alpha1",
  plural,
  kind,
}));

export interface KubeFacadeOptions {
  readonly deployment?: DeploymentSpecInput;
  /** @default 1 */
  readonly scrapeIntervalS?: number;
  /** The load generator's own rate, requests per second (its `RATE_RPS` on a cluster). */
  readonly baseRps: number;
  /** Fixed ports (default: free ones). */
  readonly prometheusPort?: number;
  readonly balancerPort?: number;
  /** Start Prometheus (off only in tests of the API mapping alone). @default true */
  readonly prometheus?: boolean;
  /** Status writer period, ms: how stale a pod object may be against its processes. @default 200 */
  readonly syncMs?: number;
}

/** What the facade did, for tests and the trace of `harness testbed kube-api`. */
export interface FacadeEvent {
  /** Wall time, ms since the epoch. */
  readonly at: number;
  readonly kind:
    | "pod-deleted-by-api"
    | "scaled-by-api"
    | "drained-by-api"
    | "undrained-by-api"
    | "load-factor"
    | "chaos-injected"
    | "chaos-skipped"
    | "chaos-recovered"
    | "chaos-removed"
    | "pod-created"
    | "pod-gone"
    | "error";
  /** The object (pod, chaos object or Deployment) it concerns. */
  readonly name: string;
  /** A pod's process id where one was involved (the process a DELETE or a pod-kill hit). */
  readonly pid: number | null;
  readonly detail: string;
}

interface LiveChaos {
  readonly ref: ResourceRef;
  readonly namespace: string;
  readonly name: string;
  read: ReadChaos | null;
  injection: FaultInjection | null;
  pod: string | null;
  timer: NodeJS.Timeout | null;
  /** Settles when the injection has been done (or refused). */
  injected: Promise<void>;
  recovering: Promise<void> | null;
}

export class KubeFacade extends EventEmitter<{ event: [FacadeEvent] }> {
  readonly events: FacadeEvent[] = [];
  private readonly injector: FaultInjector;
  private readonly chaos = new Map<string, LiveChaos>();
  private readonly syncTimer: NodeJS.Timeout;
  private loadTimer: NodeJS.Timeout | null = null;
  private nextFaultId = 0;
  private target: ChaosTarget | null = null;
  private stopping: Promise<string[]> | null = null;
  private readonly ns: string;
  private readonly dep: string;

  private constructor(
    readonly testbed: Testbed,
    readonly api: FakeApiServer,
    private readonly o: KubeFacadeOptions,
  ) {
    super();
    const s = testbed.supervisor;
    this.ns = s.spec.namespace;
    this.dep = s.spec.name;
    this.injector = new FaultInjector(
      testbed,
      () => {},
      (pods) => this.pick(pods),
    );
    for (const ref of CHAOS_REFS) {
      // Compiled now, as an API server has its CRDs loaded: ajv's first compile of a Chaos
      // Mesh schema takes seconds on a busy machine, longer than a step's call timeout.
      validateChaosObject({ apiVersion: `${ref.group}/${ref.version}`, kind: ref.kind, metadata: { name: "warm-up" } });
      api.validators.set(`${ref.group}/${ref.plural}`, (obj) => {
        const r = validateChaosObject(obj);
        return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
      });
    }
    this.seed();
    api.onWrite = (w) => this.onWrite(w);
    s.on("event", () => this.sync());
    s.on("endpoints", () => this.sync());
    this.syncTimer = setInterval(() => this.sync(), o.syncMs ?? 200);
    this.syncTimer.unref();
  }

  /** Starts the testbed (replicas, traffic, Prometheus) and the API server in front of it. */
  static async start(o: KubeFacadeOptions): Promise<KubeFacade> {
    const testbed = await Testbed.start({
      deployment: o.deployment ?? {},
      scrapeIntervalS: o.scrapeIntervalS ?? 1,
      prometheus: o.prometheus ?? true,
      ...(o.prometheusPort === undefined ? {} : { prometheusPort: o.prometheusPort }),
      ...(o.balancerPort === undefined ? {} : { balancerPort: o.balancerPort }),
    });
    let api: FakeApiServer | null = null;
    try {
      api = await FakeApiServer.start();
      await testbed.setLoadRate(o.baseRps);
      return new KubeFacade(testbed, api, o);
    } catch (err) {
      await api?.stop();
      const left = await testbed.stop();
      if (left.length > 0) (err as Error).message += `; cleanup left: ${left.join(", ")}`;
      throw err;
    }
  }

  get namespace(): string {
    return this.ns;
  }

  get deploymentName(): string {
    return this.dep;
  }

  /** The testbed's Prometheus (empty when started without one). */
  get prometheusUrl(): string {
    return this.testbed.prometheus?.url ?? "";
  }

  /** A kubeconfig whose server is this facade (what `KUBECONFIG` points at). */
  kubeconfig(): string {
    return this.api.kubeconfig(this.ns);
  }

  writeKubeconfig(path: string): void {
    writeFileSync(path, this.kubeconfig(), { mode: 0o600 });
  }

  /** The chaos objects stored now, every kind. */
  chaosObjects(): KubeObject[] {
    return CHAOS_REFS.flatMap((r) => this.api.list(r));
  }

  /** Faults the testbed has live now (injected and not yet recovered). */
  liveFaults(): number {
    return this.injector.liveFaults().length;
  }

  /** Resolves with the first event (from now on, or already logged when `past`) that `pred` accepts. */
  waitFor(pred: (e: FacadeEvent) => boolean, o: { timeoutMs: number; past?: boolean }): Promise<FacadeEvent> {
    const seen = o.past ? this.events.find(pred) : undefined;
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("event", on);
        reject(new Error(`kube facade: no matching event within ${o.timeoutMs} ms`));
      }, o.timeoutMs);
      const on = (e: FacadeEvent) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        this.off("event", on);
        resolve(e);
      };
      this.on("event", on);
    });
  }

  /** Recovers every live fault, stops the API server and the testbed; returns what was left. Idempotent. */
  stop(): Promise<string[]> {
    this.stopping ??= (async () => {
      clearInterval(this.syncTimer);
      if (this.loadTimer) clearTimeout(this.loadTimer);
      this.api.onWrite = null;
      const problems: string[] = [];
      for (const c of [...this.chaos.values()]) {
        await this.recover(c, "facade stopping").catch((err: unknown) =>
          problems.push(`${c.ref.plural}/${c.name}: ${(err as Error).message}`),
        );
      }
      problems.push(...(await this.injector.clearAll()).map((f) => `fault not cleared: ${f}`));
      await this.api.stop();
      problems.push(...(await this.testbed.stop()));
      return problems;
    })();
    return this.stopping;
  }

  // ---------------------------------------------------------------------------
  // Objects

  private seed(): void {
    this.api.put(DEPLOYMENTS, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: this.dep, namespace: this.ns, labels: { app: this.dep } },
      spec: {
        replicas: this.testbed.supervisor.desiredReplicas,
        selector: { matchLabels: { app: this.dep } },
        template: {
          metadata: { labels: { app: this.dep, [ROUTING_LABEL]: "true" } },
          spec: { containers: [{ name: this.dep, image: "chaos-rl-demo:dev", resources: this.resources() }] },
        },
      },
      status: {},
    });
    this.api.put(SERVICES, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: this.dep, namespace: this.ns },
      spec: { selector: { app: this.dep, [ROUTING_LABEL]: "true" }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    this.api.put(DEPLOYMENTS, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: LOADGEN, namespace: this.ns, labels: { app: LOADGEN } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: LOADGEN } },
        template: {
          metadata: { labels: { app: LOADGEN } },
          spec: {
            containers: [
              {
                name: LOADGEN,
                image: "chaos-rl-harness:dev",
                env: [
                  { name: "RATE_RPS", value: String(this.o.baseRps) },
                  { name: LOAD_ENV.factor, value: "1" },
                  { name: LOAD_ENV.until, value: "" },
                ],
              },
            ],
          },
        },
      },
    });
    this.sync();
  }

  private resources(): { limits: Record<string, string>; requests: Record<string, string> } {
    const s = this.testbed.supervisor.spec;
    const q = { cpu: `${Math.round(s.cpuCores * 1000)}m`, memory: `${s.memoryMiB}Mi` };
    return { limits: q, requests: q };
  }

  private podObject(p: Pod): KubeObject {
    const labels: Record<string, string> = { app: this.dep, "pod-template-hash": this.testbed.supervisor.templateHash };
    if (!p.drained) labels[ROUTING_LABEL] = "true";
    const running = p.container === "running";
    const since = new Date(p.readySince).toISOString();
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: p.name,
        namespace: this.ns,
        uid: p.uid,
        labels,
        creationTimestamp: new Date(p.createdAt).toISOString(),
        finalizers: [KUBELET_FINALIZER],
        ...(p.deleting ? { deletionTimestamp: new Date().toISOString() } : {}),
      },
      spec: {
        nodeName: "testbed",
        containers: [{ name: this.dep, image: "chaos-rl-demo:dev", resources: this.resources() }],
      },
      status: {
        phase: p.started ? "Running" : "Pending",
        podIP: "127.0.0.1",
        conditions: [{ type: "Ready", status: p.ready ? "True" : "False", lastTransitionTime: since }],
        containerStatuses: [
          {
            name: this.dep,
            ready: p.ready,
            restartCount: p.restarts,
            started: running,
            state: running
              ? { running: { startedAt: since } }
              : { waiting: { reason: p.waitingReason ?? "ContainerCreating" } },
            ...(p.lastTermination ? { lastState: { terminated: { reason: p.lastTermination, exitCode: 137 } } } : {}),
          },
        ],
      },
    };
  }

  /** Brings the stored pods and the Deployment's status in line with the processes. */
  private sync(): void {
    if (this.stopping) return;
    const s = this.testbed.supervisor;
    const pods = new Map(s.all().map((p) => [p.name, p]));
    for (const stored of this.api.list(PODS, this.ns)) {
      const name = stored.metadata.name;
      if (pods.has(name)) continue;
      // The kubelet is done with it: the object goes.
      this.api.update(PODS, this.ns, name, (o) => {
        o.metadata.deletionTimestamp ??= new Date().toISOString();
        o.metadata.finalizers = [];
      });
      this.log("pod-gone", name, null, "processes stopped; object removed");
    }
    for (const p of pods.values()) {
      const want = this.podObject(p);
      const cur = this.api.get(PODS, this.ns, p.name);
      if (cur === undefined) {
        if (p.deleting) continue;
        this.api.put(PODS, want);
        this.log("pod-created", p.name, p.pid, `uid ${p.uid}`);
        continue;
      }
      const deleting = p.deleting || cur.metadata.deletionTimestamp !== undefined;
      // The labels this writer owns follow the supervisor; any other label is a client's
      // (a drain's run marks, drain.ts) and stays, as on a cluster.
      const labels = { ...foreignLabels(cur.metadata.labels), ...want.metadata.labels };
      const same =
        JSON.stringify([sorted(labels), want.status, deleting]) ===
        JSON.stringify([sorted(cur.metadata.labels), cur.status, cur.metadata.deletionTimestamp !== undefined]);
      if (same) continue;
      this.api.update(PODS, this.ns, p.name, (o) => {
        o.metadata.labels = labels;
        o.status = want.status;
        if (deleting) o.metadata.deletionTimestamp ??= new Date().toISOString();
      });
    }
    const dep = this.api.get(DEPLOYMENTS, this.ns, this.dep);
    if (dep) {
      const live = s.list();
      const status = {
        observedGeneration: 1,
        replicas: live.length,
        readyReplicas: live.filter((p) => p.ready).length,
        availableReplicas: live.filter((p) => p.ready).length,
        updatedReplicas: live.length,
      };
      if (JSON.stringify(dep.status) !== JSON.stringify(status)) {
        this.api.update(DEPLOYMENTS, this.ns, this.dep, (o) => {
          o.status = status;
        });
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Writes

  private onWrite(w: ClientWrite): void {
    try {
      if (w.ref.plural === "pods") this.podWrite(w);
      else if (w.ref.plural === "deployments") this.deploymentWrite(w);
      else if (w.ref.group === CHAOS_API_GROUP) this.chaosWrite(w);
    } catch (err) {
      this.log("error", w.object.metadata.name, null, `${w.verb} ${w.ref.plural}: ${(err as Error).message}`);
    }
  }

  private podWrite(w: ClientWrite): void {
    const s = this.testbed.supervisor;
    const name = w.object.metadata.name;
    const p = s.pod(name);
    if (p === undefined) return;
    if (w.verb === "delete") {
      // Logged first: the ReplicaSet's replacement is created within `delete`.
      this.log("pod-deleted-by-api", name, p.pid, `uid ${p.uid}: SIGTERM, grace, replaced by the ReplicaSet`);
      s.delete(name);
      return;
    }
    if (w.verb === "patch") {
      const had = w.previous?.metadata.labels?.[ROUTING_LABEL] !== undefined;
      const has = w.object.metadata.labels?.[ROUTING_LABEL] !== undefined;
      if (had && !has) {
        s.drain(name);
        this.log("drained-by-api", name, p.pid, `label ${ROUTING_LABEL} removed: out of the balancer's rotation`);
      } else if (!had && has) {
        s.undrain(name);
        this.log("undrained-by-api", name, p.pid, `label ${ROUTING_LABEL} back: in rotation`);
      }
    }
  }

  private deploymentWrite(w: ClientWrite): void {
    const name = w.object.metadata.name;
    if (w.verb !== "patch") return;
    if (name === this.dep) {
      const replicas = (w.object.spec as { replicas?: number } | undefined)?.replicas;
      if (typeof replicas === "number" && replicas !== this.testbed.supervisor.desiredReplicas) {
        this.testbed.supervisor.scale(replicas);
        this.log("scaled-by-api", name, null, `replicas ${replicas}${w.sub ? " (scale subresource)" : ""}`);
      }
    } else if (name === LOADGEN) this.loadgenEnv(w.object);
  }

  /** The load generator obeys its env: rate × LOAD_FACTOR until LOAD_FACTOR_UNTIL (cluster/loadgen/). */
  private loadgenEnv(obj: KubeObject): void {
    const spec = obj.spec as { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
    const env = new Map((spec.template?.spec?.containers?.[0]?.env ?? []).map((e) => [e.name, e.value ?? ""]));
    const factor = Number(env.get(LOAD_ENV.factor) ?? "1") || 1;
    const untilS = Number(env.get(LOAD_ENV.until) || Number.POSITIVE_INFINITY);
    if (this.loadTimer) clearTimeout(this.loadTimer);
    this.loadTimer = null;
    const leftMs = untilS * 1000 - Date.now();
    const on = factor !== 1 && leftMs > 0;
    void this.testbed.setLoadRate(this.o.baseRps * (on ? factor : 1));
    this.log("load-factor", LOADGEN, null, on ? `x${factor} until ${untilS}` : "x1");
    if (on && Number.isFinite(leftMs)) {
      this.loadTimer = setTimeout(() => {
        void this.testbed.setLoadRate(this.o.baseRps);
        this.log("load-factor", LOADGEN, null, "x1: LOAD_FACTOR_UNTIL passed");
      }, leftMs);
      this.loadTimer.unref();
    }
  }

  private chaosWrite(w: ClientWrite): void {
    const { name } = w.object.metadata;
    const namespace = w.object.metadata.namespace ?? this.ns;
    const key = `${w.ref.plural}/${namespace}/${name}`;
    if (w.verb === "create") {
      // Chaos Mesh's finalizer, at once: a delete from now on waits for the recovery.
      this.api.update(w.ref, namespace, name, (o) => {
        o.metadata.finalizers = [CHAOS_FINALIZER];
      });
      const c: LiveChaos = {
        ref: w.ref,
        namespace,
        name,
        read: null,
        injection: null,
        pod: null,
        timer: null,
        injected: Promise.resolve(),
        recovering: null,
      };
      this.chaos.set(key, c);
      c.injected = this.inject(c, w.object).catch((err: unknown) => {
        this.log("error", name, null, `inject: ${(err as Error).message}`);
      });
      return;
    }
    if (w.verb === "delete") {
      const c = this.chaos.get(key);
      void (async () => {
        if (c) await this.recover(c, "object deleted").catch(() => {});
        this.chaos.delete(key);
        if (this.api.get(w.ref, namespace, name) !== undefined) {
          this.api.update(w.ref, namespace, name, (o) => {
            o.metadata.finalizers = [];
          });
        }
        this.log("chaos-removed", name, null, `${w.ref.kind}: finalizer removed, object gone`);
      })();
    }
  }

  private async inject(c: LiveChaos, obj: KubeObject): Promise<void> {
    const spec = this.testbed.supervisor.spec;
    c.read = readChaos(obj, { cpuCores: spec.cpuCores, memoryBytes: spec.memoryMiB * 1024 * 1024 });
    c.injection = { id: this.nextFaultId++, atS: 0, spec: c.read.spec, targetKey: 0 };
    this.target = c.read.target;
    const before = c.read.target.by === "names" ? this.testbed.supervisor.pod(c.read.target.names[0] ?? "") : undefined;
    const pid = before?.pid ?? null;
    const r = await this.injector.inject(c.injection);
    this.target = null;
    c.pod = r.pod?.name ?? null;
    if (r.pod === null) {
      c.injection = null;
      this.setStatus(c, { selected: false, injected: false, recovered: false });
      this.log("chaos-skipped", c.name, null, r.detail);
    } else {
      this.setStatus(c, { selected: true, injected: true, recovered: false });
      this.log("chaos-injected", c.name, r.pod.pid ?? pid, `${c.ref.kind} on ${r.pod.name}: ${r.detail}`);
    }
    if (c.read.durationS !== null && !c.recovering) {
      c.timer = setTimeout(() => {
        void this.recover(c, `duration ${c.read!.durationS} s over`).catch((err: unknown) => {
          this.log("error", c.name, null, `recover: ${(err as Error).message}`);
        });
      }, c.read.durationS * 1000);
      c.timer.unref();
    }
  }

  /** Ends the fault (once), records `AllRecovered` on the object if it is still there. */
  private recover(c: LiveChaos, why: string): Promise<void> {
    c.recovering ??= (async () => {
      await c.injected;
      if (c.timer) clearTimeout(c.timer);
      let detail = "nothing was injected";
      if (c.injection) detail = await this.injector.clear(c.injection);
      this.setStatus(c, { selected: c.pod !== null, injected: false, recovered: true });
      this.log("chaos-recovered", c.name, null, `${why}: ${detail}`);
    })();
    return c.recovering;
  }

  private setStatus(c: LiveChaos, st: { selected: boolean; injected: boolean; recovered: boolean }): void {
    if (this.api.get(c.ref, c.namespace, c.name) === undefined) return;
    const cond = (type: string, on: boolean) => ({ type, status: on ? "True" : "False" });
    this.api.update(c.ref, c.namespace, c.name, (o) => {
      o.status = {
        conditions: [
          cond("Selected", st.selected),
          cond("AllInjected", st.injected),
          cond("AllRecovered", st.recovered),
          cond("Paused", false),
        ],
        experiment: {
          desiredPhase: st.recovered ? "Stop" : "Run",
          containerRecords:
            c.pod === null
              ? []
              : [
                  {
                    id: `${c.namespace}/${c.pod}`,
                    selectorKey: ".",
                    phase: st.recovered ? "Not Injected" : "Injected",
                    injectedCount: 1,
                    recoveredCount: st.recovered ? 1 : 0,
                  },
                ],
        },
      };
    });
  }

  /** The pod a chaos object selects: a named one, or (mode `one`) the oldest running one with its labels. */
  private pick(pods: readonly Pod[]): { pod: Pod; rank: number } | null {
    const t = this.target;
    if (t === null) return null;
    const running = pods.filter((p) => !p.deleting && p.container === "running");
    let hit: Pod | undefined;
    if (t.by === "names") hit = running.find((p) => t.names.includes(p.name));
    else {
      hit = running.find((p) => {
        const labels = this.podObject(p).metadata.labels ?? {};
        return Object.entries(t.labels).every(([k, v]) => labels[k] === v);
      });
    }
    return hit ? { pod: hit, rank: running.indexOf(hit) } : null;
  }

  private log(kind: FacadeEvent["kind"], name: string, pid: number | null, detail: string): void {
    const e: FacadeEvent = { at: Date.now(), kind, name, pid, detail };
    this.events.push(e);
    this.emit("event", e);
  }
}
