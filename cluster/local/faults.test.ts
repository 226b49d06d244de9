/**
 * Each fault by its real mechanism, on a testbed without Prometheus (the collector's view
 * is the smoke suite's job): what the supervisor, the cgroup and the balancer show.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultInjection, type FaultSpecInput, faultSpecSchema } from "../../harness/core/contract.ts";
import { findExecutable } from "../prometheus/runner.ts";
import { FaultInjector, targetByRank } from "./faults.ts";
import type { SupervisorEvent } from "./supervisor.ts";
import { Testbed } from "./testbed.ts";
import { waitFor } from "./wait.ts";

const hasStressNg = findExecutable("stress-ng") !== null;

let bed: Testbed;
let faults: FaultInjector;
let factor = 1;
const events: SupervisorEvent[] = [];
let nextId = 0;

function fault(spec: FaultSpecInput, targetKey = 0): FaultInjection {
  return { id: nextId++, atS: 0, spec: faultSpecSchema.parse(spec), targetKey };
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

async function timedGet(): Promise<number> {
  const t0 = performance.now();
  await (await fetch(`${bed.balancerUrl}/api/work`)).arrayBuffer();
  return performance.now() - t0;
}

describe.skipIf(!hasStressNg)("faults on real processes", () => {
  beforeAll(async () => {
    bed = await Testbed.start({
      prometheus: false,
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
    bed.supervisor.on("event", (e) => events.push(e));
    faults = new FaultInjector(
      bed,
      (f) => {
        factor = f;
      },
      targetByRank(2),
    );
  }, 90_000);

  afterAll(async () => {
    const left = await bed.stop();
    expect(left).toEqual([]);
  });

  it("pod-kill deletes the target with SIGKILL and the ReplicaSet replaces it", async () => {
    const r = await faults.inject(fault({ type: "pod-kill" }, 0));
    expect(r.pod).not.toBeNull();
    expect(bed.supervisor.list().map((p) => p.name)).not.toContain(r.pod!.name);
    await bed.supervisor.waitReady(2, 30_000);
  });

  it("pod-failure freezes the pod: readiness fails, it leaves the endpoints, and returns when cleared", async () => {
    const f = fault({ type: "pod-failure", durationS: 5 }, 0);
    const r = await faults.inject(f);
    const name = r.pod!.name;
    await waitFor(() => !bed.supervisor.pod(name)!.ready, { timeoutMs: 15_000, what: "readiness to fail" });
    expect(bed.supervisor.endpoints().map((e) => e.pod)).not.toContain(name);
    await faults.clear(f);
    await waitFor(() => bed.supervisor.pod(name)!.ready, { timeoutMs: 15_000, what: "readiness to return" });
  });

  it("cpu-stress runs stress-ng inside the pod's cgroup until cleared", async () => {
    const f = fault({ type: "cpu-stress", durationS: 5, load: 1 }, 0.99);
    const r = await faults.inject(f);
    const g = r.pod!.cgroup;
    await waitFor(() => g.pids().some((p) => comm(p).startsWith("stress-ng")), {
      timeoutMs: 10_000,
      what: "stress-ng in the pod's group",
    });
    await faults.clear(f);
    await waitFor(() => !g.pids().some((p) => comm(p).startsWith("stress-ng")), {
      timeoutMs: 10_000,
      what: "stress-ng gone after clear",
    });
  });

  it("memory-leak grows inside the pod's memory limit until the OOM kill restarts the container", async () => {
    const r = await faults.inject(fault({ type: "memory-leak", ratePerMin: 1 }, 0));
    const name = r.pod!.name;
    await waitFor(() => events.some((e) => e.pod === name && e.kind === "pod-oom-killed"), {
      timeoutMs: 90_000,
      what: "the OOM kill",
    });
    await waitFor(() => bed.supervisor.pod(name)?.ready === true, { timeoutMs: 30_000, what: "the restart" });
    expect(bed.supervisor.pod(name)!.restarts).toBeGreaterThanOrEqual(1);
    expect(bed.supervisor.pod(name)!.lastTermination).toBe("OOMKilled");
  }, 150_000);

  it("network-delay puts a delaying proxy in the pod's traffic path; load-spike multiplies the rate", async () => {
    const pods = bed.supervisor.list();
    const delays = pods.map((p) =>
      fault({ type: "network-delay", durationS: 5, delayMs: 300 }, pods.indexOf(p) / pods.length),
    );
    for (const d of delays) await faults.inject(d);
    // Every pod is delayed, so whichever the balancer picks answers late.
    expect(await timedGet()).toBeGreaterThanOrEqual(300);
    for (const d of delays) await faults.clear(d);
    expect(bed.delayOf(pods[0]!.name)).toBe(0);

    const spike = fault({ type: "load-spike", durationS: 5, factor: 3 });
    await faults.inject(spike);
    expect(factor).toBe(3);
    await faults.clear(spike);
    expect(factor).toBe(1);
  });
});
