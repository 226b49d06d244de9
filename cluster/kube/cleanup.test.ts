/**
 * `harness chaos cleanup`: leftovers found by label on the API fake and removed, one run's or
 * every run's, never what the harness did not create; the CLI end to end. And a harness
 * killed with SIGKILL while a drain is in place: the cleanup puts the pod back into its
 * Service (only the run's, only in the allowed namespaces).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli, SPAWN_TEST_MS } from "../../harness/cli-spawn.ts";
import { CHAOS_LABELS, LOAD_ENV, MANAGED_BY } from "../chaos/resources.ts";
import { cleanupChaos } from "./cleanup.ts";
import { KubeClient } from "./client.ts";
import { DRAIN_ANNOTATION, DRAIN_LABELS } from "./drain.ts";
import { DEPLOYMENTS, FakeApiServer, type KubeObject, PODS, type ResourceRef, SERVICES } from "./fake-apiserver.ts";

const NS = "chaos-rl";
const POD: ResourceRef = { group: "chaos-mesh.org", version: "v1alpha1", plural: "podchaos", kind: "PodChaos" };
const STRESS: ResourceRef = {
  group: "chaos-mesh.org",
  version: "v1alpha1",
  plural: "stresschaos",
  kind: "StressChaos",
};

let fake: FakeApiServer;
let dir: string;

function chaos(kind: string, name: string, run: string | null): KubeObject {
  return {
    apiVersion: "chaos-mesh.org/v1alpha1",
    kind,
    metadata: {
      name,
      namespace: NS,
      labels: run === null ? { team: "sre" } : { [CHAOS_LABELS.run]: run, [CHAOS_LABELS.managedBy]: MANAGED_BY },
    },
    spec: { duration: "30s" },
  };
}

function client(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig(NS));
  return new KubeClient(kc, { allowedNamespaces: [NS], initialDelayMs: 5, maxDelayMs: 20 });
}

beforeEach(async () => {
  fake = await FakeApiServer.start();
  dir = mkdtempSync(join(tmpdir(), "kube-cleanup-"));
  fake.put(POD, chaos("PodChaos", "r1-kill", "r1"));
  fake.put(STRESS, chaos("StressChaos", "r1-cpu", "r1"));
  fake.put(POD, chaos("PodChaos", "r2-kill", "r2"));
  fake.put(POD, chaos("PodChaos", "someone-elses", null));
  fake.put(DEPLOYMENTS, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "loadgen", namespace: NS, labels: { [CHAOS_LABELS.run]: "r1" } },
    spec: {
      template: {
        spec: {
          containers: [{ name: "loadgen", env: [{ name: LOAD_ENV.factor, value: "3" }] }],
        },
      },
    },
  });
});
afterEach(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

const names = () => [...fake.list(POD, NS), ...fake.list(STRESS, NS)].map((o) => o.metadata.name).sort();

describe("chaos cleanup", () => {
  it("one run: its chaos objects deleted, its load generator reverted, nothing else touched", async () => {
    const r = await cleanupChaos(client(), { namespaces: [NS], runId: "r1" });
    expect(r.failed).toEqual([]);
    expect(r.removed.sort()).toEqual([
      `deployment ${NS}/loadgen (load generator reverted)`,
      `podchaos ${NS}/r1-kill`,
      `stresschaos ${NS}/r1-cpu`,
    ]);
    expect(names()).toEqual(["r2-kill", "someone-elses"]);
    const lists = fake.requestsTo({ method: "GET", path: "/podchaos" });
    expect(lists[0]!.query.labelSelector).toBe(`${CHAOS_LABELS.run}=r1`);
    const dep = fake.get(DEPLOYMENTS, NS, "loadgen")!;
    expect(dep.metadata.labels?.[CHAOS_LABELS.run]).toBeUndefined();
    const patch = fake.requestsTo({ method: "PATCH" })[0]!;
    expect(patch.contentType).toBe("application/strategic-merge-patch+json");
  });

  it("every run: whatever carries a run label, still not what the harness did not create", async () => {
    await cleanupChaos(client(), { namespaces: [NS] });
    expect(names()).toEqual(["someone-elses"]);
  });

  it("the CLI: lines for what it removed, exit 0; a second pass finds nothing", { timeout: 120_000 }, async () => {
    const scenario = clusterScenario();
    const root = resolve(import.meta.dirname, "../..");
    const first = await runCli(["chaos", "cleanup", scenario, "--run", "r2"], { cwd: root });
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe(`removed podchaos ${NS}/r2-kill\n`);
    expect(first.code).toBe(0);
    const again = await runCli(["chaos", "cleanup", scenario, "--run", "r2"], { cwd: root });
    expect(again.stdout).toBe(`nothing left by run r2 in ${NS}\n`);
  });
});

// ---------------------------------------------------------------------------
// Drains left by a harness that died

const ROOT = resolve(import.meta.dirname, "../..");

function demoPod(name: string, namespace = NS, extra: Partial<KubeObject["metadata"]> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { app: "demo", serving: "yes" }, ...extra },
    spec: { containers: [{ name: "demo" }] },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
  };
}

/** A pod as a drain of `run` left it (drain.ts): no routing label, the marks, the record. */
function drainedPod(name: string, run: string, namespace = NS): KubeObject {
  return demoPod(name, namespace, {
    labels: { app: "demo", [DRAIN_LABELS.run]: run, [DRAIN_LABELS.episode]: "0" },
    annotations: { [DRAIN_ANNOTATION]: JSON.stringify({ label: "serving", value: "yes" }) },
  });
}

function clusterScenario(): string {
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, fake.kubeconfig(NS));
  const scenario = join(dir, "c.yaml");
  writeFileSync(
    scenario,
    [
      "name: c",
      "backend: cluster",
      `cluster: { kubeconfig: ${kubeconfig}, namespace: ${NS}, deployment: demo, service: demo, prometheusUrl: "http://127.0.0.1:9", allowedNamespaces: [${NS}] }`,
      "seeds: [1]",
      "matrix:",
      "  fault: [pod-kill]",
      "  frequency: { f: { kind: fixed, intervalS: 60 } }",
      "  policy: [none]",
      "",
    ].join("\n"),
  );
  return scenario;
}

/** A Prometheus that knows no series: the child's observation has its pods from the API alone. */
async function emptyPrometheus(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

describe("drains left behind", () => {
  beforeEach(() => {
    fake.put(DEPLOYMENTS, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "demo", namespace: NS },
      spec: { replicas: 2, selector: { matchLabels: { app: "demo" } } },
    });
    fake.put(SERVICES, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "demo", namespace: NS },
      spec: { selector: { app: "demo", serving: "yes" } },
    });
    fake.put(PODS, demoPod("demo-0"));
    fake.put(PODS, demoPod("demo-1"));
    // Another run's drain, and one in a namespace the scenario does not allow.
    fake.put(PODS, drainedPod("demo-other", "r-other"));
    fake.put(PODS, drainedPod("demo-elsewhere", "kill-run", "elsewhere"));
  });

  it("kill -9 of a harness mid-drain: the pod stays drained, marked; chaos cleanup --run restores it and nothing else", {
    timeout: SPAWN_TEST_MS,
  }, async () => {
    const prom = await emptyPrometheus();
    const scenario = clusterScenario();
    const promUrl = `http://127.0.0.1:${(prom.address() as AddressInfo).port}`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(ROOT, "cluster/kube/drain-child.ts"), join(dir, "kubeconfig"), promUrl, "kill-run", NS],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    const exited = new Promise<NodeJS.Signals | number | null>((r) =>
      child.once("exit", (code, signal) => r(signal ?? code)),
    );
    try {
      const line = await new Promise<string>((resolveLine, reject) => {
        createInterface({ input: child.stdout }).once("line", resolveLine);
        void exited.then((how) => reject(new Error(`the child ended (${how}) before draining: ${stderr}`)));
      });
      expect(JSON.parse(line)).toMatchObject({ applied: true, message: expect.stringMatching(/^drained demo-0/) });
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
    } finally {
      child.kill("SIGKILL");
      await new Promise<void>((r) => prom.close(() => r()));
    }

    // What the dead harness left: the pod out of the Service, marked with its run.
    const left = fake.get(PODS, NS, "demo-0")!;
    expect(left.metadata.labels).toEqual({ app: "demo", [DRAIN_LABELS.run]: "kill-run", [DRAIN_LABELS.episode]: "2" });

    const first = await runCli(["chaos", "cleanup", scenario, "--run", "kill-run"], { cwd: ROOT });
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe(`removed pod ${NS}/demo-0 (drain undone: label serving=yes restored)\n`);
    expect(first.code).toBe(0);
    const list = fake.requestsTo({ method: "GET", path: `/namespaces/${NS}/pods` }).at(-1)!;
    expect(list.query.labelSelector).toBe(`${DRAIN_LABELS.run}=kill-run`);
    const restore = fake.requestsTo({ method: "PATCH" }).at(-1)!;
    expect([restore.path, restore.contentType, restore.body]).toEqual([
      `/api/v1/namespaces/${NS}/pods/demo-0`,
      "application/merge-patch+json",
      {
        metadata: {
          resourceVersion: left.metadata.resourceVersion,
          labels: { serving: "yes", [DRAIN_LABELS.run]: null, [DRAIN_LABELS.episode]: null },
          annotations: { [DRAIN_ANNOTATION]: null },
        },
      },
    ]);
    const back = fake.get(PODS, NS, "demo-0")!;
    expect(back.metadata.labels).toEqual({ app: "demo", serving: "yes" });
    expect((back.metadata.annotations as Record<string, string>)[DRAIN_ANNOTATION]).toBeUndefined();
    // No pod of the run is left drained; other runs' and other namespaces' are not touched.
    expect(fake.list(PODS, NS).filter((p) => p.metadata.labels?.[DRAIN_LABELS.run] === "kill-run")).toEqual([]);
    expect(
      fake
        .list(PODS, NS)
        .filter((p) => p.metadata.labels?.serving === undefined)
        .map((p) => p.metadata.name),
    ).toEqual(["demo-other"]);
    expect(fake.get(PODS, "elsewhere", "demo-elsewhere")!.metadata.labels?.serving).toBeUndefined();
    expect(fake.requests.filter((r) => r.path.includes("/namespaces/elsewhere/"))).toEqual([]);

    const again = await runCli(["chaos", "cleanup", scenario, "--run", "kill-run"], { cwd: ROOT });
    expect(again.stdout).toBe(`nothing left by run kill-run in ${NS}\n`);
  });

  it("every run: each drained pod gets its own recorded label back; a pod without a record is named, not guessed", async () => {
    fake.put(PODS, demoPod("demo-norecord", NS, { labels: { app: "demo", [DRAIN_LABELS.run]: "r3" } }));
    const r = await cleanupChaos(client(), { namespaces: [NS] });
    expect(r.removed.filter((x) => x.startsWith("pod "))).toEqual([
      `pod ${NS}/demo-other (drain undone: label serving=yes restored)`,
    ]);
    expect(r.failed).toEqual([
      expect.stringMatching(
        new RegExp(`^pod ${NS}/demo-norecord left drained: .*no valid ${DRAIN_ANNOTATION} annotation`),
      ),
    ]);
    expect(fake.get(PODS, NS, "demo-other")!.metadata.labels).toEqual({ app: "demo", serving: "yes" });
  });

  it("a drained pod replaced meanwhile (409 on its resourceVersion, then 404): nothing to restore, no error", async () => {
    fake.failNext(
      { method: "PATCH", path: "/pods/demo-other" },
      {
        status: 409,
        reason: "Conflict",
        message:
          'Operation cannot be fulfilled on pods "demo-other": the object has been modified; please apply your changes to the latest version and try again',
      },
    );
    // Deleted before the cleanup reads it again.
    fake.failNext(
      { method: "GET", path: "/pods/demo-other" },
      { status: 404, reason: "NotFound", message: 'pods "demo-other" not found' },
    );
    const r = cleanupChaos(client(), { namespaces: [NS], runId: "r-other" });
    expect(await r).toEqual({ removed: [], failed: [] });
    expect(fake.requests.filter((x) => x.path.endsWith("/pods/demo-other")).map((x) => x.method)).toEqual([
      "PATCH",
      "GET",
    ]);
  });
});
