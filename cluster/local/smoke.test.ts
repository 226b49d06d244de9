/**
 * The local testbed's CI suite (issue 13, "Done when"): runs scenarios/local-smoke.yaml
 * through the harness CLI (six faults x none/heuristic on real processes and a real
 * Prometheus) and asserts from the stored rows that each fault became visible in the
 * collector's observations and in obs-v1, that the heuristic's actions were carried out on
 * the real processes, that the service recovered, and that nothing was left behind.
 *
 * Minutes of wall time: it runs when LOCAL_SMOKE=1 (`.ci/run` sets it). Without
 * prometheus or stress-ng it is skipped locally and fails under CI.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Missing } from "../../harness/core/contract.ts";
import { type CliRun, cliLeftovers, type Row, readRows, runCli, smokeSuite } from "./cli-run.ts";

const smoke = smokeSuite("local smoke suite");

describe.skipIf(!smoke.run)("local-smoke: six faults on the real testbed", () => {
  let run: CliRun;
  let result: { code: number | null; stdout: string; stderr: string };
  let db: string;
  let steps: Row[];
  let events: Row[];

  beforeAll(async () => {
    db = join(mkdtempSync(join(tmpdir(), "chaos-rl-smoke-")), "smoke.duckdb");
    run = runCli(["run", "scenarios/local-smoke.yaml", "--db", db], randomUUID());
    result = await run.exited;
    steps = await readRows(
      db,
      `select e.fault, e.policy, e.status, s.* from steps s join episodes e using (episode_id) order by e.episode_id, s.step`,
    );
    events = await readRows(
      db,
      `select e.fault, e.policy, v.* from events v join episodes e using (episode_id) order by e.episode_id, v.seq`,
    );
  }, 1_200_000);

  afterAll(() => {
    rmSync(dirname(db), { recursive: true, force: true });
    rmSync(run.tmp, { recursive: true, force: true });
  });

  const of = (fault: string, policy: string) => steps.filter((r) => r.fault === fault && r.policy === policy);
  const injectedAt = (fault: string, policy: string) =>
    Number(events.find((e) => e.fault === fault && e.policy === policy && e.kind === "fault-injected")!.time_s);
  const before = (rows: Row[], t: number) => rows.filter((r) => Number(r.time_s) < t);
  const after = (rows: Row[], t: number) => rows.filter((r) => Number(r.time_s) > t);
  const max = (rows: Row[], k: string) => Math.max(...rows.map((r) => Number(r[k])));

  it("ran every episode to completion and left nothing behind", () => {
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const episodes = new Set(steps.map((r) => `${r.fault}/${r.policy}/${r.status}`));
    expect(episodes.size).toBe(12);
    for (const e of episodes) expect(e).toMatch(/completed$/);
    expect(cliLeftovers(run)).toEqual([]);
  });

  for (const policy of ["none", "heuristic"]) {
    it(`${policy}: every fault became visible in Prometheus's view and in obs-v1`, () => {
      // pod-kill: a pod fewer ready and a failure seen, while the ReplicaSet replaces it.
      let rows = of("pod-kill", policy);
      let t = injectedAt("pod-kill", policy);
      expect(Math.min(...after(rows, t).map((r) => Number(r.ready_replicas)))).toBeLessThan(3);
      expect(Math.min(...after(rows, t).map((r) => Number(r.obs_healthy)))).toBeLessThan(0.5);
      expect(events.some((e) => e.fault === "pod-kill" && e.policy === policy && e.kind === "pod-replaced")).toBe(true);
      // pod-failure: the frozen pod fails readiness and is counted crashed.
      rows = of("pod-failure", policy);
      t = injectedAt("pod-failure", policy);
      expect(max(after(rows, t), "crashed") + (policy === "heuristic" ? 1 : 0)).toBeGreaterThanOrEqual(1);
      // cpu-stress: CPU up against the limit.
      rows = of("cpu-stress", policy);
      t = injectedAt("cpu-stress", policy);
      expect(max(after(rows, t), "obs_cpu")).toBeGreaterThan(max(before(rows, t), "obs_cpu") * 1.2);
      // memory-leak: memory climbs (and ends in an OOM kill unless a restart came first).
      rows = of("memory-leak", policy);
      t = injectedAt("memory-leak", policy);
      expect(max(after(rows, t), "obs_memory")).toBeGreaterThan(max(before(rows, t), "obs_memory") + 0.05);
      if (policy === "none") {
        expect(
          events.some((e) => e.fault === "memory-leak" && e.policy === "none" && e.kind === "pod-oom-killed"),
        ).toBe(true);
      }
      // network-delay: p95 latency past the added 400 ms.
      rows = of("network-delay", policy);
      t = injectedAt("network-delay", policy);
      expect(max(after(rows, t), "latency_ms")).toBeGreaterThanOrEqual(400);
      expect(max(after(rows, t), "obs_latency")).toBeGreaterThanOrEqual(0.4);
      // load-spike: three times the request rate.
      rows = of("load-spike", policy);
      t = injectedAt("load-spike", policy);
      expect(max(after(rows, t), "request_rate")).toBeGreaterThan(max(before(rows, t), "request_rate") * 1.8);
    });

    it(`${policy}: the service recovered from every fault`, () => {
      for (const fault of ["pod-kill", "pod-failure", "cpu-stress", "memory-leak", "network-delay", "load-spike"]) {
        // Recovered, in the SLO's terms (what MTTR measures): serving at the end, and the SLO
        // holding in at least two of the last three steps (one slow scrape on a busy machine
        // is not an outage). Replica counts may differ: the heuristic scales down when idle.
        // A row whose pod metrics were stale (missing bit Pods) reads 0 ready replicas by
        // default: that is a blind scrape, not an outage, so the last row that saw the pods
        // decides (and one of the last three must have seen them).
        const tail = of(fault, policy).slice(-3);
        const shown = JSON.stringify(
          tail.map((r) => ({ t: r.time_s, ready: r.ready_replicas, pods: r.pods, missing: r.missing, slo: r.slo_ok })),
        );
        const seen = tail.filter((r) => (Number(r.missing) & Missing.Pods) === 0);
        expect(seen.length, `${fault}/${policy}: pods seen at the end ${shown}`).toBeGreaterThanOrEqual(1);
        expect(
          Number(seen.at(-1)!.ready_replicas),
          `${fault}/${policy} serving at the end ${shown}`,
        ).toBeGreaterThanOrEqual(1);
        expect(
          tail.filter((r) => r.slo_ok === true).length,
          `${fault}/${policy} SLO at the end ${shown}`,
        ).toBeGreaterThanOrEqual(2);
      }
    });
  }

  it("names the pod of every event about one by the testbed's pod name and uid", () => {
    const withPod = events.filter((e) => Number(e.pod_id) >= 0);
    expect(withPod.length).toBeGreaterThan(0);
    for (const e of withPod) {
      expect(String(e.pod_name), `${e.kind} pod ${e.pod_id}`).toMatch(/^demo-[0-9a-z]+-[0-9a-z]+$/);
      expect(String(e.pod_uid), `${e.kind} pod ${e.pod_id}`).toMatch(/^[0-9a-f-]{36}$/);
    }
    for (const e of events.filter((x) => Number(x.pod_id) < 0)) expect([e.pod_name, e.pod_uid]).toEqual(["", ""]);
  });

  it("executed the heuristic's actions on the real processes", () => {
    const executed = events.filter((e) => e.policy === "heuristic" && e.kind === "action-executed");
    expect(executed.length).toBeGreaterThan(0);
    for (const e of executed) expect(String(e.detail)).toMatch(/deleted demo-|drained demo-|scaled to \d+ replicas/);
    // A restart deletes a real pod: its replacement is created after it.
    const restart = executed.find((e) => String(e.detail).startsWith("deleted "));
    if (restart) {
      expect(
        events.some(
          (e) =>
            e.fault === restart.fault &&
            e.policy === "heuristic" &&
            e.kind === "pod-replaced" &&
            Number(e.time_s) >= Number(restart.time_s),
        ),
      ).toBe(true);
    }
  });
});
