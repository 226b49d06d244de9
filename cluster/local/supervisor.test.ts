import { afterEach, describe, expect, it } from "vitest";
import { renderCadvisorMetrics, renderKubeStateMetrics } from "./kube-metrics.ts";
import { leftovers } from "./leftovers.ts";
import { Supervisor, type SupervisorEvent } from "./supervisor.ts";
import { waitFor } from "./wait.ts";

const FAST = {
  cpuCores: 0.5,
  memoryMiB: 256,
  workMs: 1,
  readinessPeriodMs: 200,
  startupDelayMs: 200,
  readinessTimeoutMs: 300,
  readinessFailureThreshold: 2,
  backoffBaseMs: 300,
  backoffMaxMs: 2000,
  terminationGraceMs: 500,
  startTimeoutMs: 60_000,
};

let sup: Supervisor | null = null;
afterEach(async () => {
  if (!sup) return;
  const pids = sup.all().flatMap((p) => (p.pid ? [p.pid] : []));
  const id = sup.testbedId;
  await sup.close();
  sup = null;
  expect(leftovers({ testbedId: id, pids })).toEqual([]);
});

function events(s: Supervisor): SupervisorEvent[] {
  const out: SupervisorEvent[] = [];
  s.on("event", (e) => out.push(e));
  return out;
}

async function get(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

describe("supervisor: a ReplicaSet and kubelet for real processes", () => {
  it("starts the desired replicas, ready and serving, each in its own group", async () => {
    sup = new Supervisor({ ...FAST, replicas: 2 });
    await sup.start();
    const pods = sup.list();
    expect(pods).toHaveLength(2);
    expect(new Set(pods.map((p) => p.name)).size).toBe(2);
    for (const p of pods) {
      expect(p.name).toMatch(new RegExp(`^demo-${sup.templateHash}-[a-z0-9]{5}$`));
      expect(await get(p.port!, "/api/work")).toBe(200);
      if (sup.cgroups.mode !== "none") expect(p.cgroup.pids()).toContain(p.pid);
    }
    expect(
      sup
        .endpoints()
        .map((e) => e.pod)
        .sort(),
    ).toEqual(pods.map((p) => p.name).sort());
  });

  it("replaces a killed pod with a new one, and restarts a crashed container in place with back-off", async () => {
    sup = new Supervisor({ ...FAST, replicas: 2 });
    const log = events(sup);
    await sup.start();
    const [a, b] = sup.list();
    const killedAt = Date.now();
    sup.kill(a!.name);
    await waitFor(() => sup!.readyCount() === 2 && !sup!.pod(a!.name), { timeoutMs: 30_000, what: "a replacement" });
    expect(sup.list().map((p) => p.name)).not.toContain(a!.name);
    expect(sup.list()).toHaveLength(2);
    // Not ready before its start-up delay: the replacement's first probe waits startupDelayMs.
    const replacement = sup.list().find((p) => p.name !== b!.name)!;
    expect(replacement.readySince - killedAt).toBeGreaterThanOrEqual(FAST.startupDelayMs);

    // A crash: the process dies on its own (not through the supervisor).
    process.kill(b!.pid!, "SIGKILL");
    await waitFor(() => sup!.pod(b!.name)?.restarts === 1 && sup!.pod(b!.name)!.ready, {
      timeoutMs: 30_000,
      what: "the crashed container to restart",
    });
    const kinds = log.filter((e) => e.pod === b!.name).map((e) => e.kind);
    expect(kinds).toContain("pod-crashed");
    expect(kinds).toContain("pod-restarted");
    const crash = log.find((e) => e.pod === b!.name && e.kind === "pod-crashed")!;
    expect(crash.detail).toMatch(/restart 1 in 300 ms/);
  });

  it("keeps a started container out of rotation for its start-up delay", async () => {
    // Longer than a bundled replica takes to listen and pass a probe (about a second).
    sup = new Supervisor({ ...FAST, replicas: 1, startupDelayMs: 3000 });
    const startedAt = Date.now();
    await sup.start();
    expect(sup.list()[0]!.readySince - startedAt).toBeGreaterThanOrEqual(3000);
  });

  it("scales up and down, deletes (restart action) and drains out of rotation", async () => {
    sup = new Supervisor({ ...FAST, replicas: 1 });
    await sup.start();
    sup.scale(3);
    await sup.waitReady(3, 30_000);
    const [first] = sup.list();
    sup.drain(first!.name);
    expect(sup.endpoints().map((e) => e.pod)).not.toContain(first!.name);
    expect(sup.list()).toHaveLength(3);
    sup.delete(first!.name);
    expect(sup.list().map((p) => p.name)).not.toContain(first!.name);
    await sup.waitReady(3, 30_000);
    sup.scale(1);
    await waitFor(() => sup!.all().length === 1, { timeoutMs: 10_000, what: "scale-down to finish" });
    expect(sup.desiredReplicas).toBe(1);
  });

  it("a frozen pod fails readiness and leaves the endpoints; thawed, it comes back", async () => {
    sup = new Supervisor({ ...FAST, replicas: 2 });
    await sup.start();
    const [a] = sup.list();
    sup.freeze(a!.name);
    await waitFor(() => !sup!.pod(a!.name)!.ready, { timeoutMs: 10_000, what: "readiness to fail" });
    expect(sup.endpoints().map((e) => e.pod)).not.toContain(a!.name);
    sup.thaw(a!.name);
    await waitFor(() => sup!.pod(a!.name)!.ready, { timeoutMs: 10_000, what: "readiness to return" });
    expect(sup.pod(a!.name)!.restarts).toBe(0);
  });

  it("exports kube-state-metrics and cAdvisor series with namespace, pod and container labels", async () => {
    sup = new Supervisor({ ...FAST, replicas: 2 });
    await sup.start();
    const [a] = sup.list();
    const ksm = renderKubeStateMetrics(sup);
    expect(ksm).toMatch(/^kube_deployment_spec_replicas\{namespace="chaos-rl",deployment="demo"\} 2$/m);
    expect(ksm).toMatch(/^kube_deployment_status_replicas_ready\{namespace="chaos-rl",deployment="demo"\} 2$/m);
    expect(ksm).toContain(
      `kube_pod_status_ready{namespace="chaos-rl",pod="${a!.name}",uid="${a!.uid}",condition="true"} 1`,
    );
    expect(ksm).toContain(
      `kube_pod_status_phase{namespace="chaos-rl",pod="${a!.name}",uid="${a!.uid}",phase="Running"} 1`,
    );
    expect(ksm).toContain(
      `kube_pod_container_status_restarts_total{namespace="chaos-rl",pod="${a!.name}",uid="${a!.uid}",container="demo"} 0`,
    );
    const cad = renderCadvisorMetrics(sup);
    const mem = new RegExp(
      `^container_memory_working_set_bytes\\{namespace="chaos-rl",pod="${a!.name}",container="demo",[^}]*\\} (\\d+)$`,
      "m",
    ).exec(cad);
    expect(Number(mem![1])).toBeGreaterThan(10 * 1024 * 1024);
    expect(cad).toMatch(
      new RegExp(
        `^container_spec_memory_limit_bytes\\{namespace="chaos-rl",pod="${a!.name}"[^}]*\\} ${256 * 1024 * 1024}$`,
        "m",
      ),
    );
    expect(cad).toMatch(
      /^container_cpu_usage_seconds_total\{namespace="chaos-rl",pod="demo-[^"]+",container="demo",[^}]*cpu="total"\} [0-9.]+$/m,
    );
  });

  it("names the pods when a replica never becomes ready", async () => {
    sup = new Supervisor({ ...FAST, replicas: 1, startTimeoutMs: 300 });
    await expect(sup.start()).rejects.toThrow(/replica never became ready within 300 ms: demo-/);
  });
});
