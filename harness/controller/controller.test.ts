import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TraceStore } from "../store.ts";
import { type ControllerConfigInput, controllerConfigSchema } from "./config.ts";
import { type AuditRecord, type ControllerHandle, nextAudits, startController } from "./controller.ts";
import { type FakeAgent, startFakeAgent } from "./fake-agent.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The fake agent service (fake-agent.ts), closed after the test. */
async function fakeAgent(action: number): Promise<FakeAgent> {
  const agent = await startFakeAgent(action);
  cleanups.push(() => agent.close());
  return agent;
}

async function start(over: Partial<ControllerConfigInput>): Promise<{ ctl: ControllerHandle; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "controller-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = controllerConfigSchema.parse({
    name: "t",
    backend: "sim",
    intervalS: 0.05,
    minIntervalS: 0,
    listen: { port: 0 },
    batchSteps: 5,
    ...over,
  });
  const ctl = await startController({ config, fileName: "t.yaml", text: "" }, { cwd: dir, simPauseMs: 20 });
  cleanups.push(async () => void (await ctl.stop()));
  return { ctl, dir };
}

const stepWith = (reason: string) => (r: AuditRecord) =>
  r.type === "step" && (r.record as { reason: string }).reason === reason;

describe("harness controller", () => {
  it("survives an agent that answers 500 or not at all: falls back, keeps observing, recovers by itself", async () => {
    const agent = await fakeAgent(0);
    const { ctl, dir } = await start({
      mode: "autonomous",
      agentUrl: agent.url,
      // Generous: on a loaded machine a 500 must arrive as a 500, not as a timeout.
      agentTimeoutMs: 1000,
      fallback: "heuristic",
    });
    await nextAudits(ctl, stepWith("Noop"), 3);
    agent.set("500");
    const errors500 = nextAudits(
      ctl,
      (r) => r.type === "event" && r.event.kind === "policy-error" && r.event.detail.includes("HTTP 500"),
      2,
    );
    await nextAudits(ctl, stepWith("PolicyUnavailable"), 3);
    expect((await errors500)[0]).toMatchObject({ event: { detail: expect.stringContaining("HTTP 500") } });
    agent.set("hang");
    const timeouts = await nextAudits(
      ctl,
      (r) =>
        r.type === "event" && r.event.kind === "policy-error" && r.event.detail.includes("no answer within 1000 ms"),
      2,
    );
    expect(timeouts).toHaveLength(2);
    agent.set("ok");
    await nextAudits(ctl, stepWith("Noop"), 3);
    const res = await fetch(`${ctl.url}/ready`);
    expect(res.status).toBe(200);
    expect(await ctl.stop()).toEqual([]);
    // The same tables as a run: every step and the policy errors, in the controller's run.
    const store = await TraceStore.open(join(dir, "runs/controller.duckdb"));
    try {
      const [ep] = await store.query("SELECT status, steps FROM episodes");
      expect(ep!.status).toBe("completed");
      const reasons = await store.query(
        "SELECT r.reason, count(*)::INTEGER AS n FROM steps s JOIN guard_reasons r ON r.code = s.reason GROUP BY ALL",
      );
      const by = Object.fromEntries(reasons.map((r) => [r.reason, r.n]));
      expect(by.Noop).toBeGreaterThanOrEqual(6);
      expect(by.PolicyUnavailable).toBeGreaterThanOrEqual(3);
      const [m] = await store.query("SELECT count(*)::INTEGER AS n FROM episode_metrics");
      expect(m!.n).toBe(1);
    } finally {
      await store.close();
    }
  }, 180_000);

  it("names the pod an action hit by name and uid in the audit lines and the store's event rows", async () => {
    const agent = await fakeAgent(1); // always restart a pod
    const { ctl, dir } = await start({ mode: "autonomous", agentUrl: agent.url, agentTimeoutMs: 1000 });
    const [rec] = await nextAudits(ctl, (r) => r.type === "event" && r.event.kind === "action-executed");
    const event = (rec as Extract<AuditRecord, { type: "event" }>).event;
    expect(event.podId).toBeGreaterThanOrEqual(0);
    expect(event.podName).toMatch(new RegExp(`^sim-[0-9a-f]{8}-${event.podId}$`));
    expect(event.podUid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await ctl.stop()).toEqual([]);
    const lines = readFileSync(join(dir, "runs/t.audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toContainEqual(expect.objectContaining({ type: "event", event: expect.objectContaining(event) }));
    expect(lines).toContainEqual(
      expect.objectContaining({ type: "step", record: expect.objectContaining({ codec: "obs-v1" }) }),
    );
    const store = await TraceStore.open(join(dir, "runs/controller.duckdb"));
    try {
      const rows = await store.query(
        "SELECT pod_id, pod_name, pod_uid FROM events WHERE kind = 'action-executed' AND pod_id = ? LIMIT 1",
        [event.podId],
      );
      expect(rows).toEqual([{ pod_id: event.podId, pod_name: event.podName, pod_uid: event.podUid }]);
    } finally {
      await store.close();
    }
  }, 180_000);

  it("in approve mode queues a request, runs it once approved over HTTP, and pauses by the kill-switch file", async () => {
    const agent = await fakeAgent(2); // always scale up
    const { ctl, dir } = await start({ mode: "approve", agentUrl: agent.url, maxReplicas: 10 });
    const [req] = await nextAudits(ctl, (r) => r.type === "approval" && r.approval.status === "pending");
    const id = (req as Extract<AuditRecord, { type: "approval" }>).approval.id;
    const pending = (await (await fetch(`${ctl.url}/pending`)).json()) as { id: string; actionName: string }[];
    expect(pending).toEqual([expect.objectContaining({ id, actionName: "scale-up" })]);
    expect((await fetch(`${ctl.url}/approve/999`, { method: "POST" })).status).toBe(404);
    const executed = nextAudits(ctl, (r) => r.type === "approval" && r.approval.status === "executed");
    const ok = await fetch(`${ctl.url}/approve/${id}?by=alice`, { method: "POST" });
    expect(ok.status).toBe(200);
    const [done] = await executed;
    expect(done).toMatchObject({ approval: { id, decidedBy: "alice", status: "executed" } });
    expect((await fetch(`${ctl.url}/approve/${id}`, { method: "POST" })).status).toBe(409);

    const killSwitch = join(dir, "runs/t.pause");
    writeFileSync(killSwitch, "");
    await nextAudits(ctl, stepWith("Paused"), 2);
    unlinkSync(killSwitch);
    await nextAudits(ctl, stepWith("AwaitingApproval"), 2);
    const resumed = await fetch(`${ctl.url}/pause`, { method: "POST" });
    expect(await resumed.json()).toMatchObject({ paused: true });
    await nextAudits(ctl, stepWith("Paused"), 1);
    await fetch(`${ctl.url}/resume`, { method: "POST" });
    await nextAudits(ctl, stepWith("AwaitingApproval"), 1);

    const metrics = await (await fetch(`${ctl.url}/metrics`)).text();
    expect(metrics).toMatch(/controller_actions_total\{action="scale-up",reason="Allowed"\} 1/);
    expect(metrics).toMatch(/controller_guard_refusals_total\{reason="AwaitingApproval"\} [1-9]/);
    expect(metrics).toMatch(/controller_guard_refusals_total\{reason="Paused"\} [1-9]/);
    expect(metrics).toMatch(/controller_process_cpu_seconds_total/);
    expect(await ctl.stop()).toEqual([]);
  }, 180_000);
});
