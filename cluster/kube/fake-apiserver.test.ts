/**
 * The HTTP fake's own API semantics where the backend depends on them, through real
 * client-node calls: discovery documents (what kubectl and client-node's discovery read),
 * each patch content type the backend sends answered as the API server answers it
 * (strategic merge on built-ins, 415 for it on a custom resource, a stale resourceVersion
 * in a patch refused with 409), and a write whose answer fails after it was stored.
 */
import {
  ApisApi,
  AppsApi,
  AppsV1Api,
  CoreApi,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1APIResource,
} from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSpikePatch, loadSpikeRevert } from "../chaos/resources.ts";
import { KubeClient } from "./client.ts";
import { DEPLOYMENTS, FakeApiServer, type KubeObject } from "./fake-apiserver.ts";

const NS = "chaos-rl";
const PODCHAOS = { group: "chaos-mesh.org", version: "v1alpha1", plural: "podchaos", kind: "PodChaos" };

let fake: FakeApiServer;
let kc: KubeConfig;

beforeEach(async () => {
  fake = await FakeApiServer.start();
  kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig(NS));
});
afterEach(async () => {
  await fake.stop();
});

const byName = (rs: V1APIResource[]) => Object.fromEntries(rs.map((r) => [r.name, r]));

describe("discovery", () => {
  it("/api: APIVersions with v1 and the server's address", async () => {
    const v = await kc.makeApiClient(CoreApi).getAPIVersions();
    expect(v.kind).toBe("APIVersions");
    expect(v.versions).toEqual(["v1"]);
    expect(v.serverAddressByClientCIDRs).toEqual([{ clientCIDR: "0.0.0.0/0", serverAddress: new URL(fake.url).host }]);
    expect(fake.requests.at(-1)).toMatchObject({ method: "GET", path: "/api" });
  });

  it("/apis: APIGroupList with apps/v1 and chaos-mesh.org/v1alpha1, each preferred; /apis/apps: APIGroup", async () => {
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    expect(groups.kind).toBe("APIGroupList");
    expect(groups.groups).toEqual([
      {
        name: "apps",
        versions: [{ groupVersion: "apps/v1", version: "v1" }],
        preferredVersion: { groupVersion: "apps/v1", version: "v1" },
      },
      {
        name: "chaos-mesh.org",
        versions: [{ groupVersion: "chaos-mesh.org/v1alpha1", version: "v1alpha1" }],
        preferredVersion: { groupVersion: "chaos-mesh.org/v1alpha1", version: "v1alpha1" },
      },
    ]);
    const apps = await kc.makeApiClient(AppsApi).getAPIGroup();
    expect(apps).toMatchObject({ kind: "APIGroup", name: "apps", preferredVersion: { groupVersion: "apps/v1" } });
    expect(fake.requests.map((r) => r.path)).toEqual(["/apis", "/apis/apps"]);
  });

  it("/api/v1: pods (with eviction and status), services, configmaps, with verbs and short names", async () => {
    const list = await kc.makeApiClient(CoreV1Api).getAPIResources();
    expect(list).toMatchObject({ kind: "APIResourceList", groupVersion: "v1" });
    const r = byName(list.resources);
    expect(Object.keys(r).sort()).toEqual(
      ["configmaps", "pods", "pods/eviction", "pods/status", "services", "services/status"].sort(),
    );
    expect(r.pods).toEqual({
      name: "pods",
      singularName: "pod",
      namespaced: true,
      kind: "Pod",
      verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
      shortNames: ["po"],
      categories: ["all"],
    });
    expect(r["pods/eviction"]).toEqual({
      name: "pods/eviction",
      singularName: "",
      namespaced: true,
      group: "policy",
      version: "v1",
      kind: "Eviction",
      verbs: ["create"],
    });
  });

  it("/apis/apps/v1: deployments and the scale subresource (autoscaling/v1 Scale)", async () => {
    const list = await kc.makeApiClient(AppsV1Api).getAPIResources();
    expect(list.groupVersion).toBe("apps/v1");
    const r = byName(list.resources);
    expect(r.deployments).toMatchObject({ kind: "Deployment", namespaced: true, shortNames: ["deploy"] });
    expect(r["deployments/scale"]).toEqual({
      name: "deployments/scale",
      singularName: "",
      namespaced: true,
      group: "autoscaling",
      version: "v1",
      kind: "Scale",
      verbs: ["get", "patch", "update"],
    });
    expect(fake.requests.at(-1)!.path).toBe("/apis/apps/v1");
  });

  it("/apis/chaos-mesh.org/v1alpha1: the Chaos Mesh kinds the backend writes, as their CRDs declare them", async () => {
    const list = await kc
      .makeApiClient(CustomObjectsApi)
      .getAPIResources({ group: "chaos-mesh.org", version: "v1alpha1" });
    expect(list.groupVersion).toBe("chaos-mesh.org/v1alpha1");
    expect(list.resources.map((r) => [r.name, r.kind, r.singularName, r.namespaced])).toEqual([
      ["podchaos", "PodChaos", "podchaos", true],
      ["stresschaos", "StressChaos", "stresschaos", true],
      ["networkchaos", "NetworkChaos", "networkchaos", true],
    ]);
  });

  it("a group, version or resource it does not serve: 404 NotFound Status", async () => {
    for (const path of ["/apis/batch", "/apis/batch/v1", "/api/v2", "/apis/apps/v1/namespaces/x/statefulsets"]) {
      const res = await fetch(`${fake.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toMatchObject({ kind: "Status", reason: "NotFound", code: 404 });
    }
  });
});

describe("the backend's patch content types, answered as the API server does", () => {
  function loadgen(): KubeObject {
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "loadgen", namespace: NS, labels: { app: "loadgen" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "loadgen" } },
        template: {
          metadata: { labels: { app: "loadgen" } },
          spec: {
            containers: [
              {
                name: "loadgen",
                image: "chaos-rl-harness:dev",
                env: [
                  { name: "RATE_RPS", value: "20" },
                  { name: "LOAD_FACTOR", value: "1" },
                ],
              },
            ],
          },
        },
      },
    };
  }
  const containers = () =>
    (fake.get(DEPLOYMENTS, NS, "loadgen")!.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec.containers;

  it("strategic merge of the load generator (load-spike and its revert): its container keeps image and RATE_RPS", async () => {
    fake.put(DEPLOYMENTS, loadgen());
    const client = new KubeClient(kc, { allowedNamespaces: [NS] });
    const ctx = { namespace: NS, loadGenerator: { deployment: "loadgen", container: "loadgen" } };
    const { patch } = loadSpikePatch(
      { type: "load-spike", factor: 3, durationS: 30 },
      {
        ...ctx,
        target: { pod: "unused" },
        name: "unused",
        runId: "r1",
        episode: 0,
        faultId: 1,
        durationS: 30,
        nowUnixS: 1000,
      },
    );
    await client.patchDeployment(NS, "loadgen", patch.patch);
    const [req] = fake.requestsTo({ method: "PATCH" });
    expect([req!.path, req!.contentType]).toEqual([
      `/apis/apps/v1/namespaces/${NS}/deployments/loadgen`,
      "application/strategic-merge-patch+json",
    ]);
    expect(containers()).toEqual([
      {
        name: "loadgen",
        image: "chaos-rl-harness:dev",
        env: [
          { name: "RATE_RPS", value: "20" },
          { name: "LOAD_FACTOR", value: "3" },
          { name: "LOAD_FACTOR_UNTIL", value: "1030" },
        ],
      },
    ]);
    await client.patchDeployment(NS, "loadgen", loadSpikeRevert(ctx).patch);
    expect(containers()[0]).toMatchObject({
      image: "chaos-rl-harness:dev",
      env: [
        { name: "RATE_RPS", value: "20" },
        { name: "LOAD_FACTOR", value: "1" },
        { name: "LOAD_FACTOR_UNTIL", value: "" },
      ],
    });
    expect(fake.get(DEPLOYMENTS, NS, "loadgen")!.metadata.labels).toEqual({ app: "loadgen" });
  });

  it("the same body as a JSON merge patch replaces the containers list (what the strategic one avoids)", async () => {
    fake.put(DEPLOYMENTS, loadgen());
    await kc.makeApiClient(AppsV1Api).patchNamespacedDeployment(
      {
        namespace: NS,
        name: "loadgen",
        body: { spec: { template: { spec: { containers: [{ name: "loadgen", env: [] }] } } } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(containers()).toEqual([{ name: "loadgen", env: [] }]);
  });

  it("strategic merge of a custom resource: 415, as for any CRD; a merge patch of it is applied", async () => {
    fake.put(PODCHAOS, {
      apiVersion: "chaos-mesh.org/v1alpha1",
      kind: "PodChaos",
      metadata: { name: "k", namespace: NS, labels: { a: "1" } },
      spec: { action: "pod-kill" },
    });
    const custom = kc.makeApiClient(CustomObjectsApi);
    const req = { group: "chaos-mesh.org", version: "v1alpha1", namespace: NS, plural: "podchaos", name: "k" };
    const err = await custom
      .patchNamespacedCustomObject(
        { ...req, body: { metadata: { labels: { a: "2" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      )
      .catch((e: unknown) => e as { code: number; body: string });
    expect((err as { code: number }).code).toBe(415);
    expect(JSON.parse((err as { body: string }).body)).toMatchObject({
      kind: "Status",
      reason: "UnsupportedMediaType",
      code: 415,
      message:
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    });
    expect(fake.get(PODCHAOS, NS, "k")!.metadata.labels).toEqual({ a: "1" });
    await custom.patchNamespacedCustomObject(
      { ...req, body: { metadata: { labels: { a: "2" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(fake.get(PODCHAOS, NS, "k")!.metadata.labels).toEqual({ a: "2" });
  });

  it("a patch naming a stale resourceVersion: 409 Conflict, nothing stored; the current one: applied", async () => {
    const dep = fake.put(DEPLOYMENTS, loadgen());
    fake.update(DEPLOYMENTS, NS, "loadgen", (o) => {
      o.status = { replicas: 1 };
    });
    const send = (rv: string) =>
      fetch(`${fake.url}/apis/apps/v1/namespaces/${NS}/deployments/loadgen/scale`, {
        method: "PATCH",
        headers: { "content-type": "application/merge-patch+json" },
        body: JSON.stringify({ metadata: { resourceVersion: rv }, spec: { replicas: 2 } }),
      });
    const stale = await send(dep.metadata.resourceVersion!);
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({
      reason: "Conflict",
      message:
        'Operation cannot be fulfilled on deployments.apps "loadgen": the object has been modified; please apply your changes to the latest version and try again',
    });
    expect((fake.get(DEPLOYMENTS, NS, "loadgen")!.spec as { replicas: number }).replicas).toBe(1);
    const ok = await send(fake.get(DEPLOYMENTS, NS, "loadgen")!.metadata.resourceVersion!);
    expect(ok.status).toBe(200);
    expect((fake.get(DEPLOYMENTS, NS, "loadgen")!.spec as { replicas: number }).replicas).toBe(2);
  });

  it("a failure queued afterApplying: the write is stored, the answer is the failure", async () => {
    fake.put(DEPLOYMENTS, loadgen());
    fake.failNext({ method: "PATCH" }, { status: 504, reason: "Timeout", afterApplying: true });
    const client = new KubeClient(kc, { allowedNamespaces: [NS], attempts: 1 });
    await expect(client.patchScale(NS, "loadgen", 3)).rejects.toMatchObject({ status: 504 });
    expect((fake.get(DEPLOYMENTS, NS, "loadgen")!.spec as { replicas: number }).replicas).toBe(3);
  });
});
