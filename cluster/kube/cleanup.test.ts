/**
 * `harness chaos cleanup`: leftovers found by label on the API fake and removed, one run's or
 * every run's, never what the harness did not create; the CLI end to end.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../harness/cli-spawn.ts";
import { CHAOS_LABELS, LOAD_ENV, MANAGED_BY } from "../chaos/resources.ts";
import { cleanupChaos } from "./cleanup.ts";
import { KubeClient } from "./client.ts";
import { DEPLOYMENTS, FakeApiServer, type KubeObject, type ResourceRef } from "./fake-apiserver.ts";

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
    const root = resolve(import.meta.dirname, "../..");
    const first = await runCli(["chaos", "cleanup", scenario, "--run", "r2"], { cwd: root });
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe(`removed podchaos ${NS}/r2-kill\n`);
    expect(first.code).toBe(0);
    const again = await runCli(["chaos", "cleanup", scenario, "--run", "r2"], { cwd: root });
    expect(again.stdout).toBe(`nothing left by run r2 in ${NS}\n`);
  });
});
