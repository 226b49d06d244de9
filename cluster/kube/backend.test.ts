/**
 * The unchanged KubeBackend against the HTTP API fake (pods, the Deployment, its Service, the
 * Chaos Mesh kinds validated by their real CRD schemas) and a real Prometheus scraping a test
 * exporter with the same pods' series: what each action and fault sends, what the trace
 * records, dry run, and that close undoes drains and chaos.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Action, type BackendEvent, type FaultInjection } from "../../harness/core/contract.ts";
import { clusterSectionSchema } from "../../scenarios/cluster.ts";
import { validateChaosObject } from "../chaos/crd-validate.ts";
import { CHAOS_LABELS } from "../chaos/resources.ts";
import { findExecutable } from "../prometheus/runner.ts";
import { fakeDeployment, NAMESPACE, podName, startTestbed, type Testbed } from "../prometheus/test-helpers.ts";
import { KubeBackend, type KubeBackendOptions } from "./backend.ts";
import { KubeErrorCode } from "./errors.ts";
import { DEPLOYMENTS, FakeApiServer, type KubeObject, PODS, type ResourceRef, SERVICES } from "./fake-apiserver.ts";

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

function pod(name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NAMESPACE, labels: { app: "demo", serving: "yes" } },
    spec: { containers: [{ name: "demo", resources: { limits: { cpu: "500m", memory: "256Mi" } } }] },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
  };
}

async function open(
  o: { dryRun?: boolean; allowed?: string[]; stop?: KubeBackendOptions["stop"] } = {},
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
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
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
    for (let i = 0; i < 3; i++) fake.put(PODS, pod(podName(i)));
    // The ReplicaSet: a deleted pod is replaced by a new one.
    fake.onDeleted = (ref) => {
      if (ref.plural === "pods") fake.put(PODS, pod(`demo-7d4b9c8f6-new${replaced++}`));
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

  it("scale up and down: read the scale subresource, patch spec.replicas", async () => {
    const b = await open();
    await b.observe();
    expect(await b.execute(Action.ScaleUp)).toMatchObject({
      applied: true,
      message: "scaled demo from 3 to 4 replicas",
    });
    expect(await b.execute(Action.ScaleDown)).toMatchObject({
      applied: true,
      message: "scaled demo from 4 to 3 replicas",
    });
    expect(fake.requestsTo({ method: "PATCH" }).map((r) => [r.path, r.contentType, r.body])).toEqual([
      [
        `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/demo/scale`,
        "application/merge-patch+json",
        { spec: { replicas: 4 } },
      ],
      [
        `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/demo/scale`,
        "application/merge-patch+json",
        { spec: { replicas: 3 } },
      ],
    ]);
  });

  it("drain: the routing label goes, the pod stays a replica, and close puts the label back", async () => {
    const b = await open();
    await b.observe();
    const out = await b.execute(Action.DrainPod);
    expect(out).toMatchObject({ applied: true, podId: 0 });
    expect(fake.get(PODS, NAMESPACE, podName(0))!.metadata.labels).toEqual({ app: "demo" });
    await vi.waitFor(async () => expect((await b.observe()).drained).toBe(1));
    expect((await b.observe()).pods).toBe(3);
    await b.close();
    expect(fake.get(PODS, NAMESPACE, podName(0))!.metadata.labels).toEqual({ app: "demo", serving: "yes" });
    const last = fake.requestsTo({ method: "PATCH" }).at(-1)!;
    expect(last.body).toEqual([
      { op: "test", path: "/metadata/uid", value: fake.get(PODS, NAMESPACE, podName(0))!.metadata.uid },
      { op: "add", path: "/metadata/labels/serving", value: "yes" },
    ]);
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
