/**
 * The pod informer against the HTTP fake: it lists, watches from the list's
 * resourceVersion over a chunked stream, lists again on 410 (as a watch ERROR event and as
 * the watch's HTTP status), and comes back with a back-off after a cut connection.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { KubeClient } from "./client.ts";
import { FakeApiServer, type KubeObject, PODS } from "./fake-apiserver.ts";
import { PodInformer } from "./informer.ts";

const NS = "chaos-rl";
let fake: FakeApiServer;
let informer: PodInformer | null;
let events: string[];

function pod(name: string, app = "demo"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS, labels: { app } },
    status: { phase: "Running" },
  };
}

async function startInformer(): Promise<PodInformer> {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig(NS));
  const client = new KubeClient(kc, { allowedNamespaces: [NS], initialDelayMs: 5, maxDelayMs: 20 });
  informer = new PodInformer(client, {
    namespace: NS,
    labelSelector: "app=demo",
    initialBackoffMs: 50,
    maxBackoffMs: 400,
    onEvent: (k, d) => events.push(`${k}: ${d}`),
  });
  await informer.start();
  return informer;
}

const names = (i: PodInformer) =>
  i
    .pods()
    .map((p) => p.metadata!.name)
    .sort();

beforeEach(async () => {
  fake = await FakeApiServer.start();
  informer = null;
  events = [];
});
afterEach(async () => {
  await informer?.stop();
  await fake.stop();
});

describe("pod informer", () => {
  it("lists with the selector, then watches from the list's resourceVersion", async () => {
    fake.put(PODS, pod("demo-a"));
    fake.put(PODS, pod("other-x", "other"));
    const i = await startInformer();
    expect(names(i)).toEqual(["demo-a"]);
    const [list] = fake.requestsTo({ method: "GET", watch: false });
    expect(list!.path).toBe(`/api/v1/namespaces/${NS}/pods`);
    expect(list!.query).toEqual({ labelSelector: "app=demo" });
    await vi.waitFor(() => expect(fake.watchCount).toBe(1));
    const [watch] = fake.requestsTo({ watch: true });
    expect(watch!.query).toEqual({ watch: "true", labelSelector: "app=demo", resourceVersion: i.resourceVersion });
  });

  it("follows added, changed and deleted pods through the stream", async () => {
    fake.put(PODS, pod("demo-a"));
    const i = await startInformer();
    await vi.waitFor(() => expect(fake.watchCount).toBe(1));
    fake.put(PODS, pod("demo-b"));
    fake.update(PODS, NS, "demo-a", (o) => {
      o.status = { phase: "Failed" };
    });
    fake.remove(PODS, NS, "demo-b");
    fake.put(PODS, pod("demo-c"));
    await vi.waitFor(() => expect(names(i)).toEqual(["demo-a", "demo-c"]));
    expect(i.pods().find((p) => p.metadata!.name === "demo-a")!.status!.phase).toBe("Failed");
    expect(i.lists).toBe(1);
  });

  it("410 Expired as a watch ERROR event: lists again and keeps what changed meanwhile", async () => {
    fake.put(PODS, pod("demo-a"));
    const i = await startInformer();
    await vi.waitFor(() => expect(fake.watchCount).toBe(1));
    fake.expireWatches();
    fake.remove(PODS, NS, "demo-a");
    fake.put(PODS, pod("demo-b"));
    await vi.waitFor(() => expect(names(i)).toEqual(["demo-b"]));
    expect(i.lists).toBe(2);
  });

  it("410 Gone as the watch's HTTP status: lists again", async () => {
    fake.put(PODS, pod("demo-a"));
    const i = await startInformer();
    await vi.waitFor(() => expect(fake.watchCount).toBe(1));
    fake.failNext({ watch: true }, { status: 410, reason: "Gone" });
    fake.dropWatches();
    fake.put(PODS, pod("demo-b"));
    await vi.waitFor(() => expect(i.lists).toBe(2));
    await vi.waitFor(() => expect(names(i)).toEqual(["demo-a", "demo-b"]));
  });

  it("a cut connection: backs off, watches again from the last resourceVersion, misses nothing", async () => {
    fake.put(PODS, pod("demo-a"));
    const i = await startInformer();
    await vi.waitFor(() => expect(fake.watchCount).toBe(1));
    const rv = i.resourceVersion;
    // The first two reconnects fail too: the back-off doubles between them.
    fake.failNext({ watch: true }, { status: 503, reason: "ServiceUnavailable" }, 2);
    fake.dropWatches();
    fake.put(PODS, pod("demo-b"));
    await vi.waitFor(() => expect(names(i)).toEqual(["demo-a", "demo-b"]), { timeout: 10_000 });
    const watches = fake.requestsTo({ watch: true });
    expect(watches).toHaveLength(4);
    expect(watches[1]!.query.resourceVersion).toBe(rv);
    // 50 ms, then 100, then 200 between the tries (lower bounds: a busy machine is only later).
    expect(watches[2]!.atMs - watches[1]!.atMs).toBeGreaterThanOrEqual(90);
    expect(watches[3]!.atMs - watches[2]!.atMs).toBeGreaterThanOrEqual(190);
    expect(i.lists).toBe(1);
    expect(events.filter((e) => e.startsWith("watch-failed"))).toHaveLength(3);
  });

  it("a first list that fails throws a typed error", async () => {
    fake.failNext({ method: "GET" }, { status: 403, reason: "Forbidden", message: "pods is forbidden" });
    await expect(startInformer()).rejects.toMatchObject({ status: 403, transient: false });
    informer = null;
  });
});
