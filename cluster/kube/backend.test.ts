/**
 * The unchanged KubeBackend against the HTTP API fake (pods, the Deployment, its Service, the
 * Chaos Mesh kinds validated by their real CRD schemas) and a real Prometheus scraping a test
 * exporter with the same pods' series: what each action and fault sends, what the trace
 * records, dry run, and that close undoes drains and chaos.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { BackendCalls } from "../../harness/backend-calls.ts";
import { Action, type BackendEvent, type FaultInjection } from "../../harness/core/contract.ts";
import { clusterSectionSchema } from "../../scenarios/cluster.ts";
import { validateChaosObject } from "../chaos/crd-validate.ts";
import { CHAOS_LABELS } from "../chaos/resources.ts";
import { findExecutable } from "../prometheus/runner.ts";
import {
  fakeDeployment,
  NAMESPACE,
  podName,
  runningPodObject,
  startTestbed,
  type Testbed,
} from "../prometheus/test-helpers.ts";
import { KubeBackend, type KubeBackendOptions } from "./backend.ts";
import { DRAIN_ANNOTATION, DRAIN_LABELS } from "./drain.ts";
import { KubeErrorCode } from "./errors.ts";
import { DEPLOYMENTS, FakeApiServer, PODS, type ResourceRef, SERVICES } from "./fake-apiserver.ts";

const PODCHAOS: ResourceRef = { group: "chaos-mesh.org", version: "v1alpha1", plural: "podchaos", kind: "PodChaos" };
const STRESSCHAOS: ResourceRef = {
  group: "chaos-mesh.org",
  version: "v1alpha1",
  plural: "stresschaos",
  kind: "StressChaos",
};

// Real Prometheus (Debian's package): skipped on a machine without it, required in CI.
const hasProm = findExecutable("prometheus") !== null;
const suite = hasProm || process.env.CI ? describe : describe.skip;

let tb: Testbed;
let fake: FakeApiServer;
let backend: KubeBackend | null;
let replaced = 0;

async function open(
  o: { dryRun?: boolean; allowed?: string[]; stop?: KubeBackendOptions["stop"]; attempts?: number } = {},
): Promise<KubeBackend> {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig(NAMESPACE));
  backend = await KubeBackend.open({
    cluster: clusterSectionSchema.parse({
      namespace: NAMESPACE,
      deployment: "demo",
      service: "demo",
      prometheusUrl: tb.prom.url,
      allowedNamespaces: o.allowed ?? [NAMESPACE],
      scrapeIntervalS: 1,
      dryRun: o.dryRun ?? false,
    }),
    kubeConfig: kc,
    stepSeconds: 1,
    episodeSeconds: 60,
    runId: "run-1",
    episode: 3,
    retry: { initialDelayMs: 5, maxDelayMs: 20, ...(o.attempts ? { attempts: o.attempts } : {}) },
    recoverPollMs: 20,
    ...(o.stop ? { stop: o.stop } : {}),
  });
  return backend;
}

const fault = (id: number, spec: FaultInjection["spec"]): FaultInjection => ({ id, atS: 0, spec, targetKey: 0 });
const kinds = (events: BackendEvent[], kind: string) => events.filter((e) => (e.kind as string) === kind);

suite("KubeBackend on the API fake and a real Prometheus", { timeout: 60_000 }, () => {
  beforeAll(async () => {
    tb = await startTestbed(fakeDeployment(3), 1);
    await tb.settle(3);
  }, 60_000);
  afterAll(async () => {
    await tb?.close();
  });

  beforeEach(async () => {
    fake = await FakeApiServer.start();
    backend = null;
    fake.validators.set("chaos-mesh.org/podchaos", (o) => {
      const r = validateChaosObject(o);
      return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
    });
    fake.put(DEPLOYMENTS, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "demo", namespace: NAMESPACE },
      spec: { replicas: 3, selector: { matchLabels: { app: "demo" } } },
      status: { replicas: 3 },
    });
    fake.put(SERVICES, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "demo", namespace: NAMESPACE },
      spec: { selector: { app: "demo", serving: "yes" } },
    });
    for (let i = 0; i < 3; i++) fake.put(PODS, runningPodObject(podName(i)));
    // The ReplicaSet: a deleted pod is replaced by a new one.
    fake.onDeleted = (ref) => {
      if (ref.plural === "pods") fake.put(PODS, runningPodObject(`demo-7d4b9c8f6-new${replaced++}`));
    };
  });
  afterEach(async () => {
    await backend?.close();
    await fake.stop();
  });

  it("observe: rows are the API's pods with their names and uids, health from Prometheus", async () => {
    const b = await open();
    const s = await b.observe();
    expect(s.podTable!.count).toBe(3);
    expect(s.healthy).toBe(3);
    expect(s.drained).toBe(0);
    const refs = (s as unknown as { podRefs: { name: string; uid: string; id: number }[] }).podRefs;
    expect(refs.map((r) => r.name)).toEqual([podName(0), podName(1), podName(2)]);
    expect(refs.map((r) => r.uid)).toEqual([0, 1, 2].map((i) => fake.get(PODS, NAMESPACE, podName(i))!.metadata.uid));
    expect([...s.podTable!.id.slice(0, 3)]).toEqual([0, 1, 2]);
    // The contract's pod rows carry them too (what the loop names pods by in event rows).
    expect(s.podTable!.name.slice(0, 3)).toEqual(refs.map((r) => r.name));
    expect(s.podTable!.uid.slice(0, 3)).toEqual(refs.map((r) => r.uid));
  });

  it("restart: DELETE of the ranked pod with its uid as precondition; the replacement shows up", async () => {
    const b = await open();
    await b.observe();
    const uid = fake.get(PODS, NAMESPACE, podName(0))!.metadata.uid;
    const out = await b.execute(Action.RestartPod);
    expect(out).toMatchObject({ applied: true, podId: 0 });
    const [del] = fake.requestsTo({ method: "DELETE" });
    expect(del!.path).toBe(`/api/v1/namespaces/${NAMESPACE}/pods/${podName(0)}`);
    expect(del!.body).toEqual({ preconditions: { uid } });
    await vi.waitFor(async () => {
      const s = await b.observe();
      expect((s as unknown as { podRefs: { name: string }[] }).podRefs.map((r) => r.name)).toContain(
        `demo-7d4b9c8f6-new${replaced - 1}`,
      );
    });
    // Ids are per uid, given on first sight: the survivors keep theirs, the replacement gets a new one.
    const t = (await b.observe()).podTable!;
    const ids = Object.fromEntries(Array.from({ length: t.count }, (_, i) => [t.name[i], t.id[i]]));
    expect(ids[podName(1)]).toBe(1);
    expect(ids[podName(2)]).toBe(2);
    expect(ids[`demo-7d4b9c8f6-new${replaced - 1}`]).toBe(3);
    const audit = kinds(b.drainEvents(), "kube-api").map((e) => e.detail);
    expect(audit).toContain(`DELETE pods/${podName(0)} in ${NAMESPACE} [uid ${uid}] attempt 1: ok`);
  });

  it("restart answered 409 on the uid precondition: already done, recorded as settled", async () => {
    const b = await open();
    await b.observe();
    fake.failNext(
      { method: "DELETE" },
      {
        status: 409,
        reason: "Conflict",
        message: "Precondition failed: UID in precondition: a, UID in object meta: b",
      },
    );
    const out = await b.execute(Action.RestartPod);
    expect(out.applied).toBe(true);
    expect(out.message).toMatch(/already replaced/);
    expect(fake.requestsTo({ method: "DELETE" })).toHaveLength(1);
    expect(kinds(b.drainEvents(), "kube-api").at(-1)!.detail).toMatch(/attempt 1: settled 409 Conflict$/);
  });

  it("scale up and down: read the scale subresource, patch an absolute spec.replicas at the resourceVersion read", async () => {
    const b = await open();
    await b.observe();
    const rv = () => fake.get(DEPLOYMENTS, NAMESPACE, "demo")!.metadata.resourceVersion;
    const before = rv();
    expect(await b.execute(Action.ScaleUp)).toMatchObject({
      applied: true,
      message: "scaled demo from 3 to 4 replicas",
    });
    const between = rv();
    expect(await b.execute(Action.ScaleDown)).toMatchObject({
      applied: true,
      message: "scaled demo from 4 to 3 replicas",
    });
    expect(fake.requestsTo({ method: "PATCH" }).map((r) => [r.path, r.contentType, r.body])).toEqual([
      [
        `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/demo/scale`,
        "application/merge-patch+json",
        { metadata: { resourceVersion: before }, spec: { replicas: 4 } },
      ],
      [
        `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/demo/scale`,
        "application/merge-patch+json",
        { metadata: { resourceVersion: between }, spec: { replicas: 3 } },
      ],
    ]);
  });

  describe("a scale retried after its first patch went through adds one replica, not two", () => {
    const replicas = () => (fake.get(DEPLOYMENTS, NAMESPACE, "demo")!.spec as { replicas: number }).replicas;
    const scalePatches = () => fake.requestsTo({ method: "PATCH", path: "/deployments/demo/scale" });

    it("the PATCH applied, then answered 500: the loop's retry finds the target reached", async () => {
      // One try per API call, so that the 500 reaches the loop, which retries the action.
      const b = await open({ attempts: 1 });
      await b.observe();
      fake.failNext(
        { method: "PATCH", path: "/deployments/demo/scale" },
        { status: 500, reason: "InternalError", afterApplying: true },
      );
      const calls = new BackendCalls({ attempts: 3, initialDelayMs: 5, maxDelayMs: 20, callTimeoutMs: 30_000 });
      const out = await calls.call("execute", () => b.execute(Action.ScaleUp));
      expect(out).toMatchObject({ applied: true, message: "scaled demo from 3 to 4 replicas (by an earlier try)" });
      expect(replicas()).toBe(4);
      expect(scalePatches()).toHaveLength(1);
    });

    it("the PATCH applied, its answer late: the loop times out and retries, the first try's patch stands", async () => {
      const b = await open();
      await b.observe();
      const held = fake.holdNext({ method: "PATCH", path: "/deployments/demo/scale" });
      const calls = new BackendCalls({ attempts: 3, initialDelayMs: 5, maxDelayMs: 20, callTimeoutMs: 1_000 });
      const out = await calls.call("execute", () => b.execute(Action.ScaleUp));
      await held.applied;
      expect(out).toMatchObject({ applied: true, message: "scaled demo from 3 to 4 replicas (by an earlier try)" });
      held.release();
      expect(replicas()).toBe(4);
      expect(scalePatches()).toHaveLength(1);
    });

    it("the same PATCH sent again by the API-call retry: 409 on the stale resourceVersion, read again, done", async () => {
      const b = await open();
      await b.observe();
      const rv = fake.get(DEPLOYMENTS, NAMESPACE, "demo")!.metadata.resourceVersion;
      fake.failNext(
        { method: "PATCH", path: "/deployments/demo/scale" },
        { status: 503, reason: "ServiceUnavailable", afterApplying: true },
      );
      expect(await b.execute(Action.ScaleUp)).toMatchObject({ applied: true });
      expect(replicas()).toBe(4);
      expect(scalePatches().map((r) => r.body)).toEqual([
        { metadata: { resourceVersion: rv }, spec: { replicas: 4 } },
        { metadata: { resourceVersion: rv }, spec: { replicas: 4 } },
      ]);
      const audit = kinds(b.drainEvents(), "kube-api").map((e) => e.detail);
      expect(audit).toContain(
        `PATCH deployments/scale/demo in ${NAMESPACE} [replicas 4 (resourceVersion ${rv})] attempt 2: settled 409 Conflict`,
      );
    });

    it("the Deployment changed between read and patch (its status): read again and patched once, at the new resourceVersion", async () => {
      const b = await open();
      await b.observe();
      const read = fake.get(DEPLOYMENTS, NAMESPACE, "demo")!.metadata.resourceVersion;
      const held = fake.holdNext({ method: "GET", path: "/deployments/demo/scale" });
      const out = b.execute(Action.ScaleUp);
      await held.applied;
      const changed = fake.update(DEPLOYMENTS, NAMESPACE, "demo", (o) => {
        o.status = { replicas: 3, readyReplicas: 2 };
      });
      held.release();
      expect(await out).toMatchObject({ applied: true, message: "scaled demo from 3 to 4 replicas" });
      expect(replicas()).toBe(4);
      expect(scalePatches().map((r) => r.body)).toEqual([
        { metadata: { resourceVersion: read }, spec: { replicas: 4 } },
        { metadata: { resourceVersion: changed.metadata.resourceVersion }, spec: { replicas: 4 } },
      ]);
    });

    it("someone else scaled between read and patch: the action stands down rather than undo it", async () => {
      const b = await open();
      await b.observe();
      const held = fake.holdNext({ method: "GET", path: "/deployments/demo/scale" });
      const out = b.execute(Action.ScaleUp);
      await held.applied;
      fake.update(DEPLOYMENTS, NAMESPACE, "demo", (o) => {
        (o.spec as { replicas: number }).replicas = 6;
      });
      held.release();
      expect(await out).toMatchObject({
        applied: false,
        message: "not scaled: replicas went from 3 to 6 by another writer while this action tried",
      });
      expect(replicas()).toBe(6);
      expect(scalePatches()).toHaveLength(1);
    });
  });

  it("drain: the routing label goes and the pod is marked with the run in one patch; close restores it", async () => {
    const b = await open();
    await b.observe();
    const before = fake.get(PODS, NAMESPACE, podName(0))!;
    const out = await b.execute(Action.DrainPod);
    expect(out).toMatchObject({ applied: true, podId: 0 });
    const [drain] = fake.requestsTo({ method: "PATCH" });
    expect([drain!.path, drain!.contentType, drain!.body]).toEqual([
      `/api/v1/namespaces/${NAMESPACE}/pods/${podName(0)}`,
      "application/merge-patch+json",
      {
        metadata: {
          resourceVersion: before.metadata.resourceVersion,
          labels: { serving: null, [DRAIN_LABELS.run]: "run-1", [DRAIN_LABELS.episode]: "3" },
          annotations: { [DRAIN_ANNOTATION]: JSON.stringify({ label: "serving", value: "yes" }) },
        },
      },
    ]);
    const drained = fake.get(PODS, NAMESPACE, podName(0))!;
    expect(drained.metadata.labels).toEqual({ app: "demo", [DRAIN_LABELS.run]: "run-1", [DRAIN_LABELS.episode]: "3" });
    await vi.waitFor(async () => expect((await b.observe()).drained).toBe(1));
    expect((await b.observe()).pods).toBe(3);
    await b.close();
    const after = fake.get(PODS, NAMESPACE, podName(0))!;
    expect(after.metadata.labels).toEqual({ app: "demo", serving: "yes" });
    expect((after.metadata.annotations as Record<string, string>)[DRAIN_ANNOTATION]).toBeUndefined();
    const last = fake.requestsTo({ method: "PATCH" }).at(-1)!;
    expect([last.path, last.contentType, last.body]).toEqual([
      `/api/v1/namespaces/${NAMESPACE}/pods/${podName(0)}`,
      "application/merge-patch+json",
      {
        metadata: {
          resourceVersion: drained.metadata.resourceVersion,
          labels: { serving: "yes", [DRAIN_LABELS.run]: null, [DRAIN_LABELS.episode]: null },
          annotations: { [DRAIN_ANNOTATION]: null },
        },
      },
    ]);
  });

  it("drain answered 409 (the pod changed since the informer saw it): read again, patched at its new resourceVersion", async () => {
    const b = await open();
    await b.observe();
    const name = podName(0);
    fake.failNext(
      { method: "PATCH", path: `/pods/${name}` },
      {
        status: 409,
        reason: "Conflict",
        message: `Operation cannot be fulfilled on pods "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      },
    );
    const now = fake.update(PODS, NAMESPACE, name, (o) => {
      o.metadata.annotations = { "example.com/touched": "yes" };
    });
    expect(await b.execute(Action.DrainPod)).toMatchObject({ applied: true, podId: 0 });
    const calls = fake.requests.filter((r) => r.path.endsWith(`/pods/${name}`)).map((r) => r.method);
    expect(calls).toEqual(["PATCH", "GET", "PATCH"]);
    const second = fake.requestsTo({ method: "PATCH" })[1]!;
    expect((second.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion).toBe(
      now.metadata.resourceVersion,
    );
    const stored = fake.get(PODS, NAMESPACE, name)!;
    expect(stored.metadata.labels?.serving).toBeUndefined();
    // The merge patch added its annotation beside the one already there.
    expect(stored.metadata.annotations).toEqual({
      "example.com/touched": "yes",
      [DRAIN_ANNOTATION]: JSON.stringify({ label: "serving", value: "yes" }),
    });
  });

  it("pod-kill: a PodChaos the CRD accepts, with run and episode labels and a duration; clear waits for recovery", async () => {
    const b = await open();
    await b.observe();
    const f = fault(7, { type: "pod-kill" });
    await b.inject(f);
    const [chaos] = fake.list(PODCHAOS, NAMESPACE);
    expect(chaos!.metadata.labels).toMatchObject({
      [CHAOS_LABELS.run]: "run-1",
      [CHAOS_LABELS.episode]: "3",
      [CHAOS_LABELS.fault]: "7",
    });
    expect((chaos!.spec as { duration: string }).duration).toMatch(/^\d+s$/);
    expect((chaos!.spec as { selector: unknown }).selector).toEqual({ pods: { [NAMESPACE]: [podName(0)] } });
    const injected = kinds(b.drainEvents(), "fault-injected");
    const target = { podName: podName(0), podUid: fake.get(PODS, NAMESPACE, podName(0))!.metadata.uid };
    expect(injected).toEqual([expect.objectContaining({ faultId: 7, podId: 0, targetRank: 0, ...target })]);

    // Chaos Mesh's part: a finalizer until the targets are recovered.
    const name = chaos!.metadata.name;
    fake.update(PODCHAOS, NAMESPACE, name, (o) => {
      o.metadata.finalizers = ["chaos-mesh/records"];
    });
    let cleared = false;
    const clearing = b.clear(f).then(() => {
      cleared = true;
    });
    await vi.waitFor(() => expect(fake.get(PODCHAOS, NAMESPACE, name)?.metadata.deletionTimestamp).toBeDefined());
    // Still polling while the object is there without AllRecovered.
    const gets = fake.requestsTo({ method: "GET", path: `/podchaos/${name}` }).length;
    await vi.waitFor(() =>
      expect(fake.requestsTo({ method: "GET", path: `/podchaos/${name}` }).length).toBeGreaterThan(gets + 1),
    );
    expect(cleared).toBe(false);
    fake.update(PODCHAOS, NAMESPACE, name, (o) => {
      o.status = { conditions: [{ type: "AllRecovered", status: "True" }] };
    });
    await clearing;
    const ev = b.drainEvents();
    expect(kinds(ev, "fault-cleared")[0]!.detail).toMatch(/deleted; targets recovered after/);
    expect(kinds(ev, "fault-cleared")[0]).toMatchObject({ podId: 0, ...target });
    expect(kinds(ev, "fault-ended")).toEqual([expect.objectContaining({ podId: 0, ...target })]);
  });

  it("inject retried after a timeout: the first try's object (409 AlreadyExists, same labels) is adopted, recorded once", async () => {
    const b = await open();
    await b.observe();
    const f = fault(4, { type: "pod-kill" });
    // Two tries at once, as when the loop retries an inject whose first answer is late.
    await Promise.all([b.inject(f), b.inject(f)]);
    expect(fake.list(PODCHAOS, NAMESPACE)).toHaveLength(1);
    expect(fake.requestsTo({ method: "POST", path: "/podchaos" })).toHaveLength(2);
    const ev = b.drainEvents();
    expect(kinds(ev, "fault-injected")).toHaveLength(1);
    expect(kinds(ev, "kube-backend").some((e) => /already exists with this fault's labels/.test(e.detail))).toBe(true);
    // Someone else's object under that name is not adopted.
    const other = fake.list(PODCHAOS, NAMESPACE)[0]!;
    fake.remove(PODCHAOS, NAMESPACE, other.metadata.name);
    fake.put(PODCHAOS, {
      ...other,
      metadata: { name: other.metadata.name, namespace: NAMESPACE, labels: { team: "sre" } },
    });
    await expect(b.inject(fault(4, { type: "pod-kill" }))).rejects.toMatchObject({
      status: 409,
      reason: "AlreadyExists",
    });
  });

  it("close clears what is still live (and names nothing left)", async () => {
    const b = await open();
    await b.observe();
    await b.inject(fault(1, { type: "cpu-stress", durationS: 30, load: 0.5 }));
    expect(fake.list(STRESSCHAOS, NAMESPACE)).toHaveLength(1);
    await b.close();
    expect(fake.list(STRESSCHAOS, NAMESPACE)).toHaveLength(0);
  });

  it("dry run: every write carries dryRun=All, nothing changes, outcomes say so", async () => {
    const b = await open({ dryRun: true });
    await b.observe();
    const restart = await b.execute(Action.RestartPod);
    expect(restart.applied).toBe(false);
    expect(restart.message).toMatch(/^dry run \(accepted, not persisted\): deleted /);
    await b.execute(Action.ScaleUp);
    await b.execute(Action.DrainPod);
    const f = fault(2, { type: "pod-kill" });
    await b.inject(f);
    await b.clear(f);
    const writes = fake.requests.filter((r) => r.method !== "GET");
    expect(writes.map((r) => `${r.method} ${r.query.dryRun}`)).toEqual([
      "DELETE All",
      "PATCH All",
      "PATCH All",
      "POST All",
    ]);
    expect(fake.list(PODS, NAMESPACE)).toHaveLength(3);
    expect(fake.list(PODCHAOS, NAMESPACE)).toHaveLength(0);
    expect(fake.get(PODS, NAMESPACE, podName(0))!.metadata.labels).toEqual({ app: "demo", serving: "yes" });
    const ev = b.drainEvents();
    expect(kinds(ev, "fault-injected")[0]!.detail).toMatch(/dry run: not created/);
    expect(kinds(ev, "fault-cleared")[0]!.detail).toBe("dry run: nothing was created");
  });

  it("a namespace outside the allow-list: the write is refused, terminal, and nothing is sent", async () => {
    const b = await open({ allowed: ["elsewhere"] });
    await b.observe();
    await expect(b.execute(Action.RestartPod)).rejects.toMatchObject({
      code: KubeErrorCode.NamespaceNotAllowed,
      transient: false,
    });
    await expect(b.inject(fault(1, { type: "pod-kill" }))).rejects.toMatchObject({
      code: KubeErrorCode.NamespaceNotAllowed,
    });
    expect(fake.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  it("a stop condition aborts the live chaos at the observation that trips it, and skips later faults", async () => {
    // An SLO no service meets: broken from the first observation on.
    const b = await open({ stop: { limits: { sloBrokenForS: 0.001 }, slo: { latencyMs: 1e-6, errorRate: 0 } } });
    await b.observe();
    await b.inject(fault(1, { type: "cpu-stress", durationS: 30, load: 0.5 }));
    expect(fake.list(STRESSCHAOS, NAMESPACE)).toHaveLength(1);
    const events: BackendEvent[] = [];
    await vi.waitFor(async () => {
      await b.observe();
      events.push(...b.drainEvents());
      expect(kinds(events, "stop-condition")).toHaveLength(1);
    });
    expect(kinds(events, "stop-condition")[0]!.detail).toMatch(/^SLO broken for .*: aborting 1 live fault\(s\)$/);
    expect(kinds(events, "fault-cleared")).toEqual([expect.objectContaining({ faultId: 1 })]);
    expect(fake.list(STRESSCHAOS, NAMESPACE)).toHaveLength(0);
    await b.inject(fault(2, { type: "pod-kill" }));
    const skipped = kinds(b.drainEvents(), "fault-skipped");
    expect(skipped).toEqual([
      expect.objectContaining({ faultId: 2, detail: expect.stringMatching(/^chaos stopped: SLO broken for/) }),
    ]);
    expect(fake.list(PODCHAOS, NAMESPACE)).toHaveLength(0);
  });

  it("a Service that selects on nothing beyond the Deployment's selector: drain is refused, not guessed", async () => {
    fake.update(SERVICES, NAMESPACE, "demo", (o) => {
      (o.spec as { selector: object }).selector = { app: "demo" };
    });
    const b = await open();
    await b.observe();
    const out = await b.execute(Action.DrainPod);
    expect(out.applied).toBe(false);
    expect(out.message).toMatch(/drain unavailable/);
  });
});
