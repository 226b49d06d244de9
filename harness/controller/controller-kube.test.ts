/**
 * The controller on a Kubernetes cluster (`backend: cluster`) whose API server refuses its
 * writes for a while: the unchanged KubeBackend over a real socket to the HTTP API fake
 * (cluster/kube/fake-apiserver.ts), a real Prometheus scraping a test exporter, and the
 * agent service at the HTTP level proposing scale-up every step. The Deployment's scale
 * subresource answers 403 Forbidden (terminal: not retried), then 503 Service Unavailable and
 * 409 Conflict (transient: retried, then given up), then accepts writes again. The controller
 * must keep running, record every failed attempt and every give-up, and scale by itself once
 * the API accepts writes, with the server's replica count matching exactly the actions the
 * audit trail says were applied. Every wait is on an audit record.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYMENTS, FakeApiServer, PODS, SERVICES } from "../../cluster/kube/fake-apiserver.ts";
import { findExecutable } from "../../cluster/prometheus/runner.ts";
import {
  fakeDeployment,
  NAMESPACE,
  podName,
  runningPodObject,
  startTestbed,
  type Testbed,
} from "../../cluster/prometheus/test-helpers.ts";
import { TraceStore } from "../store.ts";
import { controllerConfigSchema } from "./config.ts";
import { type AuditRecord, nextAudits, startController } from "./controller.ts";
import { startFakeAgent } from "./fake-agent.ts";

// Real Prometheus (Debian's package): skipped on a machine without it, required in CI.
const canRun = findExecutable("prometheus") !== null || process.env.CI !== undefined;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type EventAudit = Extract<AuditRecord, { type: "event" }>;
type StepAudit = Extract<AuditRecord, { type: "step" }> & { record: { reason: string; applied: boolean } };
const isEvent =
  (kind: string, detail: RegExp = /./) =>
  (r: AuditRecord): r is EventAudit =>
    r.type === "event" && r.event.kind === kind && detail.test(r.event.detail);
const isStep = (r: AuditRecord): r is StepAudit => r.type === "step";

const REPLICAS = 3;
const SCALE_WRITES = { method: "PATCH", path: "/scale" } as const;

describe.skipIf(!canRun)("harness controller on a cluster whose API refuses writes", () => {
  let tb: Testbed;
  beforeAll(async () => {
    tb = await startTestbed(fakeDeployment(REPLICAS), 1);
    await tb.settle(3);
  }, 120_000);
  afterAll(async () => {
    await tb?.close();
  });

  it("keeps running through 403, 503 and 409 on its writes, records each attempt and give-up, and scales again by itself", async () => {
    const dir = mkdtempSync(join(tmpdir(), "controller-kube-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const fake = await FakeApiServer.start();
    cleanups.push(() => fake.stop());
    fake.put(DEPLOYMENTS, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "demo", namespace: NAMESPACE },
      spec: { replicas: REPLICAS, selector: { matchLabels: { app: "demo" } } },
      status: { replicas: REPLICAS },
    });
    fake.put(SERVICES, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "demo", namespace: NAMESPACE },
      spec: { selector: { app: "demo", serving: "yes" } },
    });
    for (let i = 0; i < REPLICAS; i++) fake.put(PODS, runningPodObject(podName(i)));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, fake.kubeconfig(NAMESPACE));
    const agent = await startFakeAgent(2); // scale-up, every step
    cleanups.push(() => agent.close());

    const config = controllerConfigSchema.parse({
      name: "kube",
      backend: "cluster",
      namespace: NAMESPACE,
      deployment: "demo",
      prometheusUrl: tb.prom.url,
      cluster: { kubeconfig, service: "demo", allowedNamespaces: [NAMESPACE], scrapeIntervalS: 1 },
      intervalS: 1,
      mode: "autonomous",
      agentUrl: agent.url,
      agentTimeoutMs: 1000,
      explainTop: 0,
      minIntervalS: 0,
      maxReplicas: 1000,
      listen: { port: 0 },
      batchSteps: 3,
    });
    const ctl = await startController({ config, fileName: "kube.yaml", text: "" }, { cwd: dir });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await ctl.stop();
    });
    const trail: AuditRecord[] = [];
    ctl.onAudit((r) => trail.push(r));
    let ended: string | null | undefined;
    void ctl.done.then((e) => {
      ended = e;
    });
    // Every wait fails at once if the loop ends: surviving is what is under test.
    const loopEnded = ctl.done.then((e) => {
      throw new Error(`the controller's loop ended: ${e ?? "without an error"}`);
    });
    loopEnded.catch(() => {});
    const alive = <T>(p: Promise<T>): Promise<T> => Promise.race([p, loopEnded]);

    // 1. Writes accepted: the controller scales.
    await alive(nextAudits(ctl, isEvent("action-executed", /^scaled demo from/), 2));

    // 2. 403 Forbidden (RBAC): terminal, so each step tries once and records the refusal.
    const forbidden = nextAudits(ctl, isEvent("action-failed", /403 Forbidden/), 2);
    const forbiddenSteps = nextAudits(ctl, (r) => isStep(r) && r.record.reason === "ExecuteFailed", 2);
    fake.failNext(
      SCALE_WRITES,
      { status: 403, reason: "Forbidden", message: 'User "tester" cannot patch resource "deployments/scale"' },
      Number.POSITIVE_INFINITY,
    );
    const [f403] = (await alive(forbidden)) as EventAudit[];
    expect(f403!.event.detail).toMatch(/^scale-up failed \(terminal, not retried\): PATCH deployments\/scale\/demo/);
    expect(await alive(forbiddenSteps)).toHaveLength(2);

    // 3. 503 Service Unavailable, then 409 Conflict: transient, retried within the step, then given up.
    for (const [status, reason] of [
      [503, "ServiceUnavailable"],
      [409, "Conflict"],
    ] as const) {
      const retried = nextAudits(ctl, isEvent("backend-retry", /^execute attempt 1 failed/));
      const gaveUp = nextAudits(ctl, isEvent("action-failed", /^scale-up failed after retries: /));
      const attempt = nextAudits(
        ctl,
        isEvent("kube-api", new RegExp(`^PATCH deployments/scale/demo .*(failed|settled) ${status} ${reason}$`)),
      );
      fake.clearFailures();
      fake.failNext(SCALE_WRITES, { status, reason }, Number.POSITIVE_INFINITY);
      await alive(Promise.all([retried, gaveUp, attempt]));
    }
    expect(ended, "the loop ended during the outage").toBeUndefined();
    expect((await fetch(`${ctl.url}/health`)).status).toBe(200);

    // 4. Writes accepted again: the controller scales without being told.
    fake.clearFailures();
    await alive(nextAudits(ctl, isEvent("action-executed", /^scaled demo from/), 2));
    expect((await fetch(`${ctl.url}/ready`)).status).toBe(200);

    // 5. Paused, so that no action is in flight: the server's replicas are exactly the
    //    initial count plus the actions the audit trail records as applied (a failed write
    //    retried into success behind the loop's back would show here).
    await fetch(`${ctl.url}/pause`, { method: "POST" });
    await alive(nextAudits(ctl, (r) => isStep(r) && r.record.reason === "Paused"));
    const applied = trail.filter((r) => isStep(r) && r.record.applied).length;
    const spec = fake.get(DEPLOYMENTS, NAMESPACE, "demo")?.spec as { replicas: number };
    expect(spec.replicas).toBe(REPLICAS + applied);
    expect(applied).toBeGreaterThanOrEqual(4);

    // Every give-up is a step recorded ExecuteFailed, and every failed HTTP attempt a kube-api event.
    const failedSteps = trail.filter((r) => isStep(r) && r.record.reason === "ExecuteFailed").length;
    const gaveUp = trail.filter(isEvent("action-failed")).length;
    expect(failedSteps).toBe(gaveUp);
    expect(gaveUp).toBeGreaterThanOrEqual(4);
    const attempts = trail.filter(
      isEvent("kube-api", /^PATCH deployments\/scale\/demo .*(failed|settled) (403|503|409) /),
    );
    expect(attempts.length).toBeGreaterThan(gaveUp);

    stopped = true;
    expect(await ctl.stop()).toEqual([]);
    expect(ended).toBeNull();
    const store = await TraceStore.open(join(dir, "runs/controller.duckdb"));
    try {
      const rows = await store.query(
        `SELECT count(*)::INTEGER AS n FROM steps s JOIN guard_reasons r ON r.code = s.reason WHERE r.reason = 'ExecuteFailed'`,
      );
      expect(rows[0]!.n).toBe(failedSteps);
    } finally {
      await store.close();
    }
  }, 600_000);
});
