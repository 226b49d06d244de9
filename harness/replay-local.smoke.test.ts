/**
 * `harness replay --backend local` on the real testbed (issue 16, part 2): the committed
 * testbed recording (harness/fixtures/replay-local.json: one cpu-stress under heuristic, 13
 * steps of 2 s) replayed through the CLI under `none`, on real processes and a real
 * Prometheus. Asserted from the stored rows: the replayed injection is the recorded one
 * (fault type, after the same step and within one step's time, the same target rank), the
 * load generator was driven by the recorded load series (edited in the copy, so that it
 * differs from what the scenario's workload would generate), what ran was real (stress-ng in the
 * pod's cgroup, client-side windows), `none` acted on nothing, and the report pairs recorded
 * and replayed; and that nothing was left behind, after success and after Ctrl-C with the
 * fault live.
 *
 * About a minute of wall time each: runs when LOCAL_SMOKE=1 (`.ci/run` sets it). Without
 * prometheus or stress-ng it is skipped locally and fails under CI.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CliRun,
  cliLeftovers,
  isStressNg,
  markedProcesses,
  type Row,
  readRows,
  runCli,
  smokeSuite,
} from "../cluster/local/cli-run.ts";
import { waitFor } from "../cluster/local/wait.ts";
import { TraceStore } from "./store.ts";
import { tempDir } from "./store-fixtures.ts";
import { loadRun, readTraceFixture } from "./trace-fixture.ts";

const smoke = smokeSuite("local replay suite");
const fixture = readTraceFixture(join(import.meta.dirname, "fixtures", "replay-local.json"));
const recorded = fixture.episodes[0]!;
const STEP_S = recorded.meta.stepSeconds;
/**
 * The recording offered a constant 20 rps, which is also what its scenario's workload
 * generates: a replay that ignored the recorded load would pass unseen. So the copy replayed
 * here records another series, which only the recording holds.
 */
const LOAD = recorded.steps.step!.map((k) => (Number(k) < 7 ? 15 : 25));

describe.skipIf(!smoke.run)("replay --backend local: a recorded testbed episode again, on real processes", () => {
  const root = tempDir("chaos-rl-replay-local-");
  const rec = join(root, "rec.duckdb");
  const out = join(root, "replay.duckdb");
  const report = join(root, "report");
  const runs: CliRun[] = [];

  beforeAll(async () => {
    const store = await TraceStore.open(rec);
    try {
      await loadRun(store, fixture);
      await store.query("UPDATE steps SET load_rps = CASE WHEN step < 7 THEN 15 ELSE 25 END");
    } finally {
      await store.close();
    }
  }, 120_000);

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    for (const r of runs) rmSync(r.tmp, { recursive: true, force: true });
  });

  describe("under another policy (none), start to finish", () => {
    let result: { code: number | null; stdout: string; stderr: string };
    let run: CliRun;
    const rows = (sql: string): Promise<Row[]> => readRows(out, sql);

    beforeAll(async () => {
      run = runCli(
        ["replay", "--db", rec, "--episode", "1", "--policy", "none", "--backend", "local"].concat([
          "--db-out",
          out,
          "--out",
          report,
          "--json",
        ]),
        randomUUID(),
      );
      runs.push(run);
      result = await run.exited;
    }, 600_000);

    it("exits 0 with one completed local episode of none, and leaves nothing behind", async () => {
      expect(result.code, result.stderr.slice(-2000)).toBe(0);
      expect(cliLeftovers(run)).toEqual([]);
      const episodes = await rows("SELECT policy, status, backend, steps FROM episodes");
      expect(episodes).toEqual([{ policy: "none", status: "completed", backend: "local", steps: 13 }]);
    });

    it("injected the recorded fault: same type and spec, after the same step, within a step's time, same target rank", async () => {
      const want = recorded.events.filter((e) => e.kind === "fault-injected");
      expect(want).toHaveLength(1);
      const got = await rows(
        "SELECT fault_id, fault_type, status, injected_at, target_rank, fault FROM fault_spans ORDER BY fault_id",
      );
      expect(got).toHaveLength(want.length);
      const times = (await rows("SELECT time_s FROM steps ORDER BY step")).map((r) => Number(r.time_s));
      const stepAt = (ts: readonly number[], t: number) => ts.filter((x) => x <= t).length - 1;
      const recTimes = recorded.steps.time_s!.map(Number);
      for (const [i, w] of want.entries()) {
        const g = got[i]!;
        expect(g.status).toBe("injected");
        expect(g.fault_id).toBe(w.faultId);
        expect(g.fault_type).toBe(w.detail.split(" ")[0]);
        expect(JSON.parse(String(g.fault))).toEqual(JSON.parse(w.fault!));
        expect(g.target_rank).toBe(w.targetRank);
        expect(stepAt(times, Number(g.injected_at))).toBe(stepAt(recTimes, w.time));
        expect(Math.abs(Number(g.injected_at) - w.time)).toBeLessThan(STEP_S);
      }
    });

    it("ran for real: the recorded load, stress-ng in the pod's cgroup, client windows, no action by none", async () => {
      const load = await rows("SELECT load_rps FROM steps ORDER BY step");
      expect(load.map((r) => Number(r.load_rps))).toEqual(LOAD);
      const events = await rows("SELECT kind, detail FROM events ORDER BY seq");
      const injected = events.find((e) => e.kind === "fault-injected")!;
      expect(String(injected.detail)).toMatch(/^cpu-stress demo-\S+: stress-ng/);
      expect(events.filter((e) => e.kind === "client-window").length).toBeGreaterThanOrEqual(13);
      expect(events.some((e) => e.kind === "testbed" && String(e.detail).startsWith("mechanisms "))).toBe(true);
      expect(events.filter((e) => e.kind === "action-executed")).toEqual([]);
      // The requests really served: Prometheus saw traffic at every complete step.
      const served = await rows("SELECT request_rate FROM steps WHERE missing = 0");
      expect(served.length).toBeGreaterThan(0);
      for (const r of served) expect(Number(r.request_rate)).toBeGreaterThan(0);
    });

    it("reports recorded against replayed, paired, with the injections side by side", () => {
      const data = JSON.parse(result.stdout) as {
        backend: string;
        recordedBackend: string;
        identical: unknown;
        recordedEpisodes: number;
        injections: { matched: number; pairs: unknown[] };
        counterfactuals: { recordedPolicy: string; rows: { metric: string; difference: { n: number } }[] }[];
      };
      expect([data.recordedBackend, data.backend, data.identical]).toEqual(["local", "local", null]);
      expect(data.recordedEpisodes).toBe(1);
      expect(data.injections.pairs).toHaveLength(1);
      expect(data.injections.matched).toBe(1);
      expect(data.counterfactuals.map((c) => c.recordedPolicy)).toEqual(["heuristic"]);
      for (const r of data.counterfactuals[0]!.rows) expect(r.difference.n, r.metric).toBe(1);
      const md = readFileSync(join(report, "replay.md"), "utf8");
      expect(md).toContain("## none against recorded heuristic");
      expect(md).toContain("## Injections: recorded against replayed");
      expect(md).toContain("1 of 1 recorded faults ran as recorded");
      expect(md).toMatch(/replayed \(local\)/);
      expect(readFileSync(join(report, "index.html"), "utf8")).toContain("Injections: recorded against replayed");
    });
  });

  it("Ctrl-C with the replayed fault live: exit 130, every process and cgroup gone", async () => {
    const run = runCli(
      ["replay", "--db", rec, "--episode", "1", "--policy", "none", "--backend", "local"].concat([
        "--db-out",
        join(root, "interrupted.duckdb"),
      ]),
      randomUUID(),
    );
    runs.push(run);
    await waitFor(() => markedProcesses(run.marker).some(isStressNg), {
      // Opening the testbed comes first: a minute or more on a busy 2-core machine.
      timeoutMs: 240_000,
      what: "the replayed cpu-stress to be live",
    });
    run.kill("SIGINT");
    const r = await run.exited;
    expect(r.code, r.stderr.slice(-1500)).toBe(130);
    expect(cliLeftovers(run)).toEqual([]);
  }, 300_000);
});
