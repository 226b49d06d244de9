/**
 * The cluster backend's API calls, as real client-node 1.x requests against the HTTP fake:
 * the exact verb, path, query, content type and body of each, the allow-list and dry run
 * for every kind of write, and retries (Retry-After honoured, 5xx backed off, terminal
 * errors not retried).
 */
import { KubeConfig, type V1Scale } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiCallRecord } from "./calls.ts";
import { type CustomKind, KubeClient } from "./client.ts";
import { KubeApiError, KubeErrorCode } from "./errors.ts";
import { DEPLOYMENTS, FakeApiServer, type KubeObject, PODS } from "./fake-apiserver.ts";

const NS = "chaos-rl";
const POD_CHAOS: CustomKind = { group: "chaos-mesh.org", version: "v1alpha1", plural: "podchaos" };

let fake: FakeApiServer;
let audit: ApiCallRecord[];

function client(o: { allowed?: string[]; dryRun?: boolean; attempts?: number } = {}): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig(NS));
  return new KubeClient(kc, {
    allowedNamespaces: o.allowed ?? [NS],
    dryRun: o.dryRun ?? false,
    attempts: o.attempts ?? 4,
    initialDelayMs: 10,
    maxDelayMs: 50,
    audit: (r) => audit.push(r),
  });
}

function pod(name: string, labels: Record<string, string> = { app: "demo", serving: "true" }): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS, labels },
    spec: {},
    status: { phase: "Running" },
  };
}

function deployment(replicas: number): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "demo", namespace: NS },
    spec: { replicas, selector: { matchLabels: { app: "demo" } } },
    status: { replicas },
  };
}

beforeEach(async () => {
  fake = await FakeApiServer.start();
  audit = [];
});
afterEach(async () => {
  await fake.stop();
});

describe("each kind of write, with its exact request", () => {
  it("restart: DELETE the pod with a uid precondition in a DeleteOptions body", async () => {
    const p = fake.put(PODS, pod("demo-a"));
    const out = await client().deletePod(NS, "demo-a", p.metadata.uid!);
    expect(out).not.toBe("gone");
    const [req] = fake.requestsTo({ method: "DELETE" });
    expect(req!.path).toBe(`/api/v1/namespaces/${NS}/pods/demo-a`);
    expect(req!.query).toEqual({});
    expect(req!.contentType).toBe("application/json");
    expect(req!.body).toEqual({ preconditions: { uid: p.metadata.uid } });
    expect(fake.get(PODS, NS, "demo-a")).toBeUndefined();
  });

  it("restart of a pod already replaced (stale uid): the 409 is 'gone', not an error, and not retried", async () => {
    fake.put(PODS, pod("demo-a"));
    const out = await client().deletePod(NS, "demo-a", "00000000-old-uid");
    expect(out).toBe("gone");
    expect(fake.requestsTo({ method: "DELETE" })).toHaveLength(1);
    expect(fake.get(PODS, NS, "demo-a")).toBeDefined();
    expect(audit.at(-1)).toMatchObject({ verb: "delete", outcome: "settled", status: 409, reason: "Conflict" });
  });

  it("restart of a pod that no longer exists: the 404 is 'gone'", async () => {
    expect(await client().deletePod(NS, "demo-x", "u")).toBe("gone");
    expect(audit.at(-1)).toMatchObject({ outcome: "settled", status: 404, reason: "NotFound" });
  });

  it("scale: PATCH the scale subresource with a merge patch of spec.replicas", async () => {
    fake.put(DEPLOYMENTS, deployment(3));
    const s = await client().patchScale(NS, "demo", 4);
    expect(s).not.toBe("conflict");
    expect((s as V1Scale).spec?.replicas).toBe(4);
    const [req] = fake.requestsTo({ method: "PATCH" });
    expect(req!.path).toBe(`/apis/apps/v1/namespaces/${NS}/deployments/demo/scale`);
    expect(req!.contentType).toBe("application/merge-patch+json");
    expect(req!.body).toEqual({ spec: { replicas: 4 } });
    expect((fake.get(DEPLOYMENTS, NS, "demo")!.spec as { replicas: number }).replicas).toBe(4);
  });

  it("scale to a negative count: 422 Invalid, terminal, not retried", async () => {
    fake.put(DEPLOYMENTS, deployment(3));
    const err = await client()
      .patchScale(NS, "demo", -1)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 422, reason: "Invalid", transient: false });
    expect((err as Error).message).toMatch(/spec\.replicas: Invalid value/);
    expect(fake.requestsTo({ method: "PATCH" })).toHaveLength(1);
  });

  it("scale at a resourceVersion: the precondition in the merge patch; a stale one is 'conflict', not retried", async () => {
    const dep = fake.put(DEPLOYMENTS, deployment(3));
    fake.update(DEPLOYMENTS, NS, "demo", (o) => {
      o.status = { replicas: 3, readyReplicas: 3 };
    });
    expect(await client().patchScale(NS, "demo", 4, dep.metadata.resourceVersion)).toBe("conflict");
    const [req] = fake.requestsTo({ method: "PATCH" });
    expect([req!.path, req!.contentType, req!.body]).toEqual([
      `/apis/apps/v1/namespaces/${NS}/deployments/demo/scale`,
      "application/merge-patch+json",
      { metadata: { resourceVersion: dep.metadata.resourceVersion }, spec: { replicas: 4 } },
    ]);
    expect(fake.requestsTo({ method: "PATCH" })).toHaveLength(1);
    expect(audit.at(-1)).toMatchObject({ outcome: "settled", status: 409, reason: "Conflict" });
    expect((fake.get(DEPLOYMENTS, NS, "demo")!.spec as { replicas: number }).replicas).toBe(3);
  });

  it("pod metadata (drain marks): one merge patch of labels and annotations at the pod's resourceVersion", async () => {
    const p = fake.put(PODS, pod("demo-a"));
    const out = await client().patchPodMetadata(
      NS,
      "demo-a",
      { resourceVersion: p.metadata.resourceVersion!, labels: { serving: null, mark: "r1" }, annotations: { a: "b" } },
      "drain",
    );
    expect(out).not.toBe("conflict");
    const [req] = fake.requestsTo({ method: "PATCH" });
    expect([req!.path, req!.contentType, req!.body]).toEqual([
      `/api/v1/namespaces/${NS}/pods/demo-a`,
      "application/merge-patch+json",
      {
        metadata: {
          resourceVersion: p.metadata.resourceVersion,
          labels: { serving: null, mark: "r1" },
          annotations: { a: "b" },
        },
      },
    ]);
    expect(fake.get(PODS, NS, "demo-a")!.metadata.labels).toEqual({ app: "demo", mark: "r1" });
    // Again at the old resourceVersion: refused, 'conflict'; on a pod that is gone: 'gone'.
    expect(await client().patchPodMetadata(NS, "demo-a", { resourceVersion: p.metadata.resourceVersion! }, "x")).toBe(
      "conflict",
    );
    expect(await client().patchPodMetadata(NS, "demo-x", { resourceVersion: "1" }, "x")).toBe("gone");
    expect(await client().getPod(NS, "demo-x")).toBeNull();
  });

  it("drain: a JSON patch that tests the uid, then removes the routing label", async () => {
    const p = fake.put(PODS, pod("demo-a"));
    await client().patchPodLabel(NS, "demo-a", p.metadata.uid!, "serving", null);
    const [req] = fake.requestsTo({ method: "PATCH" });
    expect(req!.path).toBe(`/api/v1/namespaces/${NS}/pods/demo-a`);
    expect(req!.contentType).toBe("application/json-patch+json");
    expect(req!.body).toEqual([
      { op: "test", path: "/metadata/uid", value: p.metadata.uid },
      { op: "remove", path: "/metadata/labels/serving" },
    ]);
    expect(fake.get(PODS, NS, "demo-a")!.metadata.labels).toEqual({ app: "demo" });
  });

  it("drain of a replaced pod: the failed uid test is 'gone' and the new pod keeps its label", async () => {
    fake.put(PODS, pod("demo-a"));
    expect(await client().patchPodLabel(NS, "demo-a", "old-uid", "serving", null)).toBe("gone");
    expect(fake.get(PODS, NS, "demo-a")!.metadata.labels).toEqual({ app: "demo", serving: "true" });
  });

  it("a label key with a slash is escaped in the JSON pointer", async () => {
    const p = fake.put(PODS, pod("demo-a", { app: "demo", "chaos-rl.io/serving": "true" }));
    await client().patchPodLabel(NS, "demo-a", p.metadata.uid!, "chaos-rl.io/serving", null);
    expect((fake.requestsTo({ method: "PATCH" })[0]!.body as { path: string }[])[1]!.path).toBe(
      "/metadata/labels/chaos-rl.io~1serving",
    );
    expect(fake.get(PODS, NS, "demo-a")!.metadata.labels).toEqual({ app: "demo" });
  });

  it("chaos: POST the custom object to its group's path; DELETE it by name", async () => {
    const body = {
      apiVersion: "chaos-mesh.org/v1alpha1",
      kind: "PodChaos",
      metadata: { name: "kill-1", namespace: NS, labels: { "chaos-rl.io/run": "r1" } },
      spec: { action: "pod-kill", mode: "one", selector: { namespaces: [NS] }, duration: "30s" },
    };
    const c = client();
    await c.createCustom(POD_CHAOS, NS, body);
    const [post] = fake.requestsTo({ method: "POST" });
    expect(post!.path).toBe(`/apis/chaos-mesh.org/v1alpha1/namespaces/${NS}/podchaos`);
    expect(post!.contentType).toBe("application/json");
    expect(post!.body).toEqual(body);
    expect(await c.deleteCustom(POD_CHAOS, NS, "kill-1")).not.toBe("gone");
    expect(fake.requestsTo({ method: "DELETE" })[0]!.path).toBe(
      `/apis/chaos-mesh.org/v1alpha1/namespaces/${NS}/podchaos/kill-1`,
    );
    expect(await c.deleteCustom(POD_CHAOS, NS, "kill-1")).toBe("gone");
  });

  it("chaos create of a name that exists: 409 AlreadyExists is terminal, not retried", async () => {
    const body = { apiVersion: "chaos-mesh.org/v1alpha1", kind: "PodChaos", metadata: { name: "k" }, spec: {} };
    const c = client();
    await c.createCustom(POD_CHAOS, NS, body);
    await expect(c.createCustom(POD_CHAOS, NS, body)).rejects.toMatchObject({
      status: 409,
      reason: "AlreadyExists",
      transient: false,
    });
    expect(fake.requestsTo({ method: "POST" })).toHaveLength(2);
  });
});

describe("the namespace allow-list refuses every kind of write before sending it", () => {
  const other = "kube-system";
  const writes: [string, (c: KubeClient) => Promise<unknown>][] = [
    ["delete pod", (c) => c.deletePod(other, "p", "u")],
    ["patch scale", (c) => c.patchScale(other, "demo", 2)],
    ["patch pod label", (c) => c.patchPodLabel(other, "p", "u", "serving", null)],
    [
      "patch pod metadata (drain)",
      (c) => c.patchPodMetadata(other, "p", { resourceVersion: "1", labels: {} }, "drain"),
    ],
    ["patch deployment (load generator)", (c) => c.patchDeployment(other, "loadgen", {})],
    ["create chaos", (c) => c.createCustom(POD_CHAOS, other, { metadata: { name: "x" } })],
    ["delete chaos", (c) => c.deleteCustom(POD_CHAOS, other, "x")],
  ];
  for (const [what, write] of writes) {
    it(what, async () => {
      const err = await write(client()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect(err).toMatchObject({ code: KubeErrorCode.NamespaceNotAllowed, transient: false });
      expect((err as Error).message).toMatch(/namespace "kube-system" is not in allowedNamespaces \(chaos-rl\)/);
      expect(fake.requests).toHaveLength(0);
      expect(audit).toEqual([expect.objectContaining({ outcome: "refused", namespace: other })]);
    });
  }

  it("reads outside the allow-list are allowed", async () => {
    const c = client({ allowed: ["elsewhere"] });
    expect((await c.listPods(NS, "app=demo")).items).toEqual([]);
  });
});

describe("dry run sends every write with dryRun=All and nothing changes", () => {
  it("delete, scale, label, create, delete chaos", async () => {
    const p = fake.put(PODS, pod("demo-a"));
    fake.put(DEPLOYMENTS, deployment(3));
    const c = client({ dryRun: true });
    expect(await c.deletePod(NS, "demo-a", p.metadata.uid!)).not.toBe("gone");
    expect(((await c.patchScale(NS, "demo", 5)) as V1Scale).spec?.replicas).toBe(5);
    await c.patchPodLabel(NS, "demo-a", p.metadata.uid!, "serving", null);
    await c.createCustom(POD_CHAOS, NS, {
      apiVersion: "chaos-mesh.org/v1alpha1",
      kind: "PodChaos",
      metadata: { name: "k" },
    });
    expect(await c.deleteCustom(POD_CHAOS, NS, "k")).toBe("gone");
    const writes = fake.requests.filter((r) => r.method !== "GET");
    expect(writes.map((r) => [r.method, r.query.dryRun])).toEqual([
      ["DELETE", "All"],
      ["PATCH", "All"],
      ["PATCH", "All"],
      ["POST", "All"],
      ["DELETE", "All"],
    ]);
    expect(fake.get(PODS, NS, "demo-a")!.metadata.labels).toEqual({ app: "demo", serving: "true" });
    expect((fake.get(DEPLOYMENTS, NS, "demo")!.spec as { replicas: number }).replicas).toBe(3);
    expect(fake.list({ group: "chaos-mesh.org", version: "v1alpha1", plural: "podchaos", kind: "PodChaos" })).toEqual(
      [],
    );
    expect(audit.filter((a) => a.verb !== "get" && a.verb !== "list").every((a) => a.dryRun)).toBe(true);
  });
});

describe("retries", () => {
  it("429 with Retry-After: waits at least what the server asked, then succeeds", async () => {
    fake.put(DEPLOYMENTS, deployment(3));
    fake.failNext({ method: "PATCH" }, { status: 429, reason: "TooManyRequests", retryAfterS: 1 });
    await client().patchScale(NS, "demo", 4);
    const tries = fake.requestsTo({ method: "PATCH" });
    expect(tries).toHaveLength(2);
    expect(tries[1]!.atMs - tries[0]!.atMs).toBeGreaterThanOrEqual(950);
    expect(tries[1]!.body).toEqual(tries[0]!.body);
    expect(audit.map((a) => [a.outcome, a.status, a.retryAfterS])).toEqual([
      ["failed", 429, 1],
      ["ok", 0, null],
    ]);
  });

  it("5xx: retried with back-off until it answers", async () => {
    const p = fake.put(PODS, pod("demo-a"));
    fake.failNext({ method: "DELETE" }, { status: 503, reason: "ServiceUnavailable" }, 2);
    expect(await client().deletePod(NS, "demo-a", p.metadata.uid!)).not.toBe("gone");
    expect(fake.requestsTo({ method: "DELETE" })).toHaveLength(3);
    expect(audit.map((a) => a.attempt)).toEqual([1, 2, 3]);
  });

  it("a 409 Conflict on a write is retried (optimistic concurrency), the body unchanged", async () => {
    fake.put(DEPLOYMENTS, deployment(3));
    fake.failNext({ method: "PATCH" }, { status: 409, reason: "Conflict", message: "the object has been modified" });
    await client().patchScale(NS, "demo", 2);
    expect(fake.requestsTo({ method: "PATCH" })).toHaveLength(2);
  });

  it("gives up after the attempts with a transient error naming the call", async () => {
    fake.put(DEPLOYMENTS, deployment(3));
    fake.failNext({ method: "PATCH" }, { status: 500, reason: "InternalError" }, 10);
    const err = await client({ attempts: 3 })
      .patchScale(NS, "demo", 2)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 500, transient: true });
    expect((err as Error).message).toMatch(/^PATCH deployments\/scale\/demo in chaos-rl: 500 InternalError/);
    expect(fake.requestsTo({ method: "PATCH" })).toHaveLength(3);
  });

  it("no API server: a transient Unreachable error after the attempts", async () => {
    const url = fake.url;
    await fake.stop();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: url, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    const c = new KubeClient(kc, { allowedNamespaces: [NS], attempts: 2, initialDelayMs: 1, maxDelayMs: 1 });
    await expect(c.listPods(NS, "")).rejects.toMatchObject({ code: KubeErrorCode.Unreachable, transient: true });
    fake = await FakeApiServer.start();
  });
});
