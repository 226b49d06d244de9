/**
 * The testbed's Kubernetes API facade, call by call, through the same `KubeClient` the
 * Kubernetes backend uses: each write lands on the real processes (a DELETE stops one and
 * the ReplicaSet replaces it, the scale subresource adds a process, removing the routing
 * label takes a pod out of the balancer's rotation), and each Chaos Mesh object injects its
 * fault by the testbed's mechanism, ends it at its `duration` by itself, and ends it when
 * deleted. Without Prometheus (the collector's view is kube-facade.smoke.test.ts's job).
 */
import { readFileSync } from "node:fs";
import {
  AppsV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultSpecSchema } from "../../harness/core/contract.ts";
import { CHAOS_API_GROUP, chaosResource, LOAD_ENV, loadSpikePatch, loadSpikeRevert } from "../chaos/resources.ts";
import { cleanupChaos } from "../kube/cleanup.ts";
import type { CustomObject } from "../kube/client.ts";
import { KubeClient } from "../kube/client.ts";
import { DRAIN_ANNOTATION, DRAIN_LABELS, drainPod } from "../kube/drain.ts";
import { PODS } from "../kube/fake-apiserver.ts";
import { findExecutable } from "../prometheus/runner.ts";
import { KubeFacade, LOADGEN, ROUTING_LABEL } from "./kube-facade.ts";
import { processAlive } from "./leftovers.ts";
import { waitFor } from "./wait.ts";

const NS = "chaos-rl";
const PODCHAOS = { group: CHAOS_API_GROUP, version: "v1alpha1", plural: "podchaos" };
const STRESSCHAOS = { group: CHAOS_API_GROUP, version: "v1alpha1", plural: "stresschaos" };
const hasStressNg = findExecutable("stress-ng") !== null;

let facade: KubeFacade;
let client: KubeClient;

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

async function pods() {
  return (await client.listPods(NS, "app=demo")).items.filter((p) => !p.metadata?.deletionTimestamp);
}

function chaos(type: "pod-failure" | "cpu-stress", pod: string, name: string, durationS: number): CustomObject {
  const spec =
    type === "pod-failure"
      ? faultSpecSchema.parse({ type, durationS })
      : faultSpecSchema.parse({ type, durationS, load: 1 });
  return chaosResource(spec, {
    namespace: NS,
    target: { pod },
    runId: "facade-test",
    episode: 0,
    durationS,
    name,
    resources: { cpuLimitCores: 0.5, memoryLimitBytes: 96 * 1048576 },
  }) as unknown as CustomObject;
}

describe.skipIf(!hasStressNg)("the testbed behind its Kubernetes API facade", { timeout: 60_000 }, () => {
  beforeAll(async () => {
    facade = await KubeFacade.start({
      prometheus: false,
      baseRps: 5,
      deployment: {
        replicas: 2,
        memoryMiB: 96,
        readinessPeriodMs: 300,
        startupDelayMs: 300,
        readinessTimeoutMs: 500,
        readinessFailureThreshold: 2,
        backoffBaseMs: 300,
        startTimeoutMs: 60_000,
      },
    });
    const kc = new KubeConfig();
    kc.loadFromString(facade.kubeconfig());
    client = new KubeClient(kc, { allowedNamespaces: [NS], initialDelayMs: 5, maxDelayMs: 20 });
  }, 90_000);

  afterAll(async () => {
    const left = await facade?.stop();
    expect(left).toEqual([]);
  });

  it("lists the supervisor's pods as Pod objects: names, uids, labels, limits, readiness", async () => {
    const list = await client.listPods(NS, "app=demo");
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);
    const sup = facade.testbed.supervisor.list();
    expect(list.items.map((p) => [p.metadata?.name, p.metadata?.uid]).sort()).toEqual(
      sup.map((p) => [p.name, p.uid]).sort(),
    );
    for (const p of list.items) {
      expect(p.metadata?.labels).toMatchObject({ app: "demo", [ROUTING_LABEL]: "true" });
      expect(p.spec?.containers[0]?.resources?.limits).toEqual({ cpu: "500m", memory: "96Mi" });
      expect(p.status?.phase).toBe("Running");
      expect(p.status?.conditions).toContainEqual(expect.objectContaining({ type: "Ready", status: "True" }));
    }
    const svc = await client.getService(NS, "demo");
    expect(svc.spec?.selector).toEqual({ app: "demo", [ROUTING_LABEL]: "true" });
  });

  it("DELETE with a stale uid is refused (409) and touches nothing; with the pod's uid it stops the process, and the ReplicaSet replaces it", async () => {
    const [victim] = await pods();
    const name = victim!.metadata!.name!;
    const pid = facade.testbed.supervisor.pod(name)!.pid!;
    expect(await client.deletePod(NS, name, "00000000-0000-0000-0000-000000000000")).toBe("gone");
    expect(facade.testbed.supervisor.pod(name)!.deleting).toBe(false);
    const r = await client.deletePod(NS, name, victim!.metadata!.uid!);
    expect(r).not.toBe("gone");
    // Graceful deletion: Terminating first, the object goes once the processes have.
    expect((r as { metadata?: { deletionTimestamp?: unknown } }).metadata?.deletionTimestamp).toBeDefined();
    await waitFor(async () => (await client.listPods(NS, "app=demo")).items.every((p) => p.metadata?.name !== name), {
      timeoutMs: 30_000,
      what: "the deleted pod's object to go",
    });
    expect(processAlive(pid)).toBe(false);
    await waitFor(async () => (await pods()).filter((p) => p.status?.conditions?.[0]?.status === "True").length === 2, {
      timeoutMs: 30_000,
      what: "a ready replacement",
    });
  });

  it("an Eviction (policy/v1) stops the pod's processes like a DELETE; the ReplicaSet replaces it", async () => {
    const [victim] = await pods();
    const name = victim!.metadata!.name!;
    const pid = facade.testbed.supervisor.pod(name)!.pid!;
    await client.core.createNamespacedPodEviction({
      name,
      namespace: NS,
      body: {
        apiVersion: "policy/v1",
        kind: "Eviction",
        metadata: { name, namespace: NS },
        deleteOptions: { preconditions: { uid: victim!.metadata!.uid! } },
      },
    });
    await waitFor(async () => (await client.listPods(NS, "app=demo")).items.every((p) => p.metadata?.name !== name), {
      timeoutMs: 30_000,
      what: "the evicted pod's object to go",
    });
    expect(processAlive(pid)).toBe(false);
    await facade.testbed.supervisor.waitReady(2, 30_000);
  });

  it("the scale subresource changes the number of real processes", async () => {
    await client.patchScale(NS, "demo", 3);
    expect(facade.testbed.supervisor.desiredReplicas).toBe(3);
    await facade.testbed.supervisor.waitReady(3, 30_000);
    expect((await client.getScale(NS, "demo")).spec?.replicas).toBe(3);
    await waitFor(async () => (await client.getDeployment(NS, "demo")).status?.readyReplicas === 3, {
      timeoutMs: 10_000,
      what: "the Deployment's status to follow",
    });
    await client.patchScale(NS, "demo", 2);
    await waitFor(() => facade.testbed.supervisor.list().length === 2, { timeoutMs: 10_000, what: "scale down" });
  });

  it("removing the routing label drains the pod from the balancer's rotation; adding it back undrains it", async () => {
    const [p] = await pods();
    const name = p!.metadata!.name!;
    await client.patchPodLabel(NS, name, p!.metadata!.uid!, ROUTING_LABEL, null);
    expect(facade.testbed.supervisor.pod(name)!.drained).toBe(true);
    expect(facade.testbed.supervisor.endpoints().map((e) => e.pod)).not.toContain(name);
    await client.patchPodLabel(NS, name, p!.metadata!.uid!, ROUTING_LABEL, "true");
    expect(facade.testbed.supervisor.pod(name)!.drained).toBe(false);
  });

  it("a drain's run marks survive the status writer; chaos cleanup --run puts the pod back into rotation", async () => {
    const [p] = await pods();
    const name = p!.metadata!.name!;
    const r = await drainPod(client, NS, p!, {
      uid: p!.metadata!.uid!,
      label: ROUTING_LABEL,
      runLabel: "facade-test",
      episode: 1,
    });
    expect(r).toEqual({ result: "drained", value: "true" });
    expect(facade.testbed.supervisor.pod(name)!.drained).toBe(true);
    // The status writer rewrites its own labels on every change of the pod; it left the marks.
    await waitFor(() => facade.api.get(PODS, NS, name)!.metadata.labels?.[ROUTING_LABEL] === undefined, {
      timeoutMs: 5_000,
      what: "the stored pod drained",
    });
    const stored = facade.api.get(PODS, NS, name)!;
    expect(stored.metadata.labels).toMatchObject({ [DRAIN_LABELS.run]: "facade-test", [DRAIN_LABELS.episode]: "1" });
    expect((stored.metadata.annotations as Record<string, string>)[DRAIN_ANNOTATION]).toBe(
      JSON.stringify({ label: ROUTING_LABEL, value: "true" }),
    );
    const report = await cleanupChaos(client, { namespaces: [NS], runId: "facade-test" });
    expect(report).toEqual({
      removed: [`pod ${NS}/${name} (drain undone: label ${ROUTING_LABEL}=true restored)`],
      failed: [],
    });
    expect(facade.testbed.supervisor.pod(name)!.drained).toBe(false);
    expect(facade.testbed.supervisor.endpoints().map((e) => e.pod)).toContain(name);
    expect(facade.api.get(PODS, NS, name)!.metadata.labels?.[DRAIN_LABELS.run]).toBeUndefined();
  });

  it("discovery: the API groups and resources it serves, the scale subresource and the Chaos Mesh kinds", async () => {
    const kc = new KubeConfig();
    kc.loadFromString(facade.kubeconfig());
    const apps = await kc.makeApiClient(AppsV1Api).getAPIResources();
    expect(apps.resources.find((r) => r.name === "deployments/scale")).toMatchObject({
      group: "autoscaling",
      version: "v1",
      kind: "Scale",
      verbs: ["get", "patch", "update"],
    });
    const chaosKinds = await kc
      .makeApiClient(CustomObjectsApi)
      .getAPIResources({ group: CHAOS_API_GROUP, version: "v1alpha1" });
    expect(chaosKinds.resources.map((r) => r.kind)).toEqual(["PodChaos", "StressChaos", "NetworkChaos"]);
  });

  it("a strategic merge patch of the load generator merges its env by name (image and RATE_RPS kept); of a chaos object, 415", async () => {
    const where = { namespace: NS, loadGenerator: { deployment: LOADGEN, container: LOADGEN } };
    const { patch } = loadSpikePatch(
      { type: "load-spike", factor: 2, durationS: 30 },
      {
        ...where,
        target: { pod: "unused" },
        name: "unused",
        runId: "facade-test",
        episode: 0,
        faultId: 1,
        durationS: 30,
        nowUnixS: Date.now() / 1000,
      },
    );
    const factor = facade.waitFor((e) => e.kind === "load-factor" && e.detail.startsWith("x2"), { timeoutMs: 10_000 });
    await client.patchDeployment(NS, LOADGEN, patch.patch);
    await factor;
    const c = (await client.getDeployment(NS, LOADGEN)).spec!.template.spec!.containers[0]!;
    expect(c.image).toBe("chaos-rl-harness:dev");
    expect(c.env?.map((e) => e.name)).toEqual(["RATE_RPS", LOAD_ENV.factor, LOAD_ENV.until]);
    expect(c.env?.find((e) => e.name === LOAD_ENV.factor)?.value).toBe("2");
    const back = facade.waitFor((e) => e.kind === "load-factor" && e.detail === "x1", { timeoutMs: 10_000 });
    await client.patchDeployment(NS, LOADGEN, loadSpikeRevert(where).patch);
    await back;
    const reverted: V1Deployment = await client.getDeployment(NS, LOADGEN);
    expect(reverted.spec!.template.spec!.containers[0]!.env).toEqual([
      { name: "RATE_RPS", value: "5" },
      { name: LOAD_ENV.factor, value: "1" },
      { name: LOAD_ENV.until, value: "" },
    ]);

    const [p] = await pods();
    await client.createCustom(STRESSCHAOS, NS, chaos("cpu-stress", p!.metadata!.name!, "smp", 30));
    const kc = new KubeConfig();
    kc.loadFromString(facade.kubeconfig());
    const err = await kc
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObject(
        { ...STRESSCHAOS, namespace: NS, name: "smp", body: { metadata: { labels: { x: "1" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      )
      .catch((e: unknown) => e as { code: number });
    expect(err.code).toBe(415);
    await client.deleteCustom(STRESSCHAOS, NS, "smp");
    await waitFor(async () => (await client.getCustom(STRESSCHAOS, NS, "smp")) === null, {
      timeoutMs: 20_000,
      what: "the StressChaos to go",
    });
  });

  it("a PodChaos pod-failure freezes the pod's processes; deleting it thaws them, then the object goes", async () => {
    const [p] = await pods();
    const name = p!.metadata!.name!;
    const injected = facade.waitFor((e) => e.kind === "chaos-injected" && e.name === "pf", { timeoutMs: 20_000 });
    await client.createCustom(PODCHAOS, NS, chaos("pod-failure", name, "pf", 60));
    await injected;
    expect(facade.testbed.supervisor.pod(name)!.frozen).toBe(true);
    const obj = await client.getCustom(PODCHAOS, NS, "pf");
    expect((obj?.metadata as { finalizers?: string[] } | undefined)?.finalizers).toEqual(["chaos-mesh/records"]);
    expect((obj?.status as { conditions?: unknown[] } | undefined)?.conditions).toContainEqual({
      type: "AllInjected",
      status: "True",
    });
    await client.deleteCustom(PODCHAOS, NS, "pf");
    await waitFor(async () => (await client.getCustom(PODCHAOS, NS, "pf")) === null, {
      timeoutMs: 20_000,
      what: "the PodChaos to go",
    });
    expect(facade.testbed.supervisor.pod(name)!.frozen).toBe(false);
  });

  it("a StressChaos runs stress-ng in the pod's cgroup and ends at its duration by itself; the object stays, recovered", async () => {
    const [p] = await pods();
    const name = p!.metadata!.name!;
    const group = facade.testbed.supervisor.pod(name)!.cgroup;
    const recovered = facade.waitFor((e) => e.kind === "chaos-recovered" && e.name === "cpu", { timeoutMs: 30_000 });
    await client.createCustom(STRESSCHAOS, NS, chaos("cpu-stress", name, "cpu", 2));
    await waitFor(() => group.pids().some((x) => comm(x).startsWith("stress-ng")), {
      timeoutMs: 15_000,
      what: "stress-ng in the pod's group",
    });
    await recovered;
    await waitFor(() => !group.pids().some((x) => comm(x).startsWith("stress-ng")), {
      timeoutMs: 10_000,
      what: "stress-ng gone at the duration",
    });
    const obj = await client.getCustom(STRESSCHAOS, NS, "cpu");
    expect((obj?.status as { conditions?: unknown[] } | undefined)?.conditions).toContainEqual({
      type: "AllRecovered",
      status: "True",
    });
    await client.deleteCustom(STRESSCHAOS, NS, "cpu");
    await waitFor(async () => (await client.getCustom(STRESSCHAOS, NS, "cpu")) === null, {
      timeoutMs: 10_000,
      what: "the StressChaos to go",
    });
  });

  it("an object the CRD refuses (422) and a dry run inject nothing", async () => {
    const [p] = await pods();
    const bad = chaos("pod-failure", p!.metadata!.name!, "bad", 30);
    (bad.spec as Record<string, unknown>).action = "pod-explode";
    await expect(client.createCustom(PODCHAOS, NS, bad)).rejects.toMatchObject({ status: 422 });
    const kc = new KubeConfig();
    kc.loadFromString(facade.kubeconfig());
    const dry = new KubeClient(kc, { allowedNamespaces: [NS], dryRun: true });
    await dry.createCustom(PODCHAOS, NS, chaos("pod-failure", p!.metadata!.name!, "dry", 30));
    expect(facade.chaosObjects()).toEqual([]);
    expect(facade.liveFaults()).toBe(0);
    expect(facade.testbed.supervisor.list().some((x) => x.frozen)).toBe(false);
  });
});
