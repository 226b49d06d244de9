/**
 * Counterfactual and decision replay on a committed recording (harness/fixtures/replay-sim.json:
 * a simulator run of a compound kill-and-stress cell, none and heuristic, seeds 1 and 2).
 */
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PolicyName } from "../policies/index.ts";
import { UsageError } from "./cli-errors.ts";
import { replayDecisions } from "./decision-replay.ts";
import { replayRun } from "./replay-run.ts";
import { TraceStore } from "./store.ts";
import { tempDir } from "./store-fixtures.ts";
import { loadRun, readTraceFixture } from "./trace-fixture.ts";

const FIXTURE = join(import.meta.dirname, "fixtures", "replay-sim.json");
const fixture = readTraceFixture(FIXTURE);
const root = tempDir("replay-run-");
const pristine = join(root, "pristine.duckdb");
let n = 0;
/** A fresh copy of the recording, so tests that write a replay beside it do not see each other's runs. */
function recording(): string {
  const file = join(root, `rec-${n++}.duckdb`);
  copyFileSync(pristine, file);
  return file;
}

beforeAll(async () => {
  const store = await TraceStore.open(pristine);
  try {
    await loadRun(store, fixture);
  } finally {
    await store.close();
  }
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("harness replay", () => {
  it("replays the recorded policy on its recorded faults and load: every episode equals its recording row for row", async () => {
    const db = recording();
    const r = await replayRun({
      db,
      select: { cell: { fault: "kill-and-stress", frequency: "busy", policy: "heuristic" } },
      policy: "heuristic",
      jobs: 1,
    });
    expect(r.sourceRun).toBe(fixture.run.runId);
    expect(r.summary.completed).toBe(2);
    expect(r.identical).toEqual({ same: 2, compared: 2, first: null });
    const uptime = r.counterfactuals[0]!.rows.find((x) => x.metric === "uptime")!;
    expect(uptime.difference.n).toBe(2);
    expect(uptime.difference.estimate).toBe(0);
    expect(uptime.replayed).toBe(uptime.recorded);
    expect(r.markdown).toContain("Row for row: 2 of 2 replayed episodes of heuristic equal their recording");
    // Written beside the recording as a new run; the default run of the next replay is still the recording.
    const again = await replayRun({ db, select: { episode: 1 }, policy: "none", jobs: 1 });
    expect(again.sourceRun).toBe(fixture.run.runId);
  }, 300_000);

  it("another policy: a counterfactual against every recorded policy, paired by cell and seed", async () => {
    const db = recording();
    const out = join(root, "hpa.duckdb");
    const r = await replayRun({ db, policy: "hpa", dbOut: out, jobs: 1 });
    expect(r.summary.completed).toBe(2);
    expect(r.identical).toBeNull();
    expect(r.counterfactuals.map((c) => c.recordedPolicy).sort()).toEqual(["heuristic", "none"]);
    // The recorded side is the recording's own figure: uptime from the fixture's slo_ok and time_s.
    for (const c of r.counterfactuals) {
      const uptime = c.rows.find((x) => x.metric === "uptime")!;
      expect(uptime.difference.n).toBe(2);
      const eps = fixture.episodes.filter((e) => e.meta.policy === c.recordedPolicy);
      const mean =
        eps.reduce((sum, e) => sum + e.steps.slo_ok!.reduce((a, b) => a + Number(b), 0) / e.steps.slo_ok!.length, 0) /
        eps.length;
      expect(uptime.recorded).toBeCloseTo(mean, 12);
    }
    // hpa's episodes ran the recorded faults: the same injections, at the same times, as the recording.
    const store = await TraceStore.open(out);
    try {
      const injected = await store.query(
        `SELECT e.seed, f.fault_id, f.injected_at, f.fault_type FROM fault_spans f JOIN episodes e USING (episode_id)
         WHERE f.status = 'injected' ORDER BY e.seed, f.fault_id`,
      );
      const recorded = fixture.episodes
        .filter((e) => e.meta.policy === "none")
        .flatMap((e) =>
          e.events
            .filter((v) => v.kind === "fault-injected")
            .map((v) => ({
              seed: e.meta.seed,
              fault_id: v.faultId,
              injected_at: v.time,
              fault_type: v.detail.split(" ")[0],
            })),
        );
      expect(injected).toEqual(recorded);
      expect(recorded.length).toBeGreaterThanOrEqual(4);
      // Same offered load as recorded.
      const load = await store.query(
        "SELECT e.seed, list(s.load_rps ORDER BY s.step) AS load FROM steps s JOIN episodes e USING (episode_id) GROUP BY e.seed ORDER BY e.seed",
      );
      for (const row of load) {
        const rec = fixture.episodes.find((e) => e.meta.seed === row.seed && e.meta.policy === "none")!;
        expect(row.load).toEqual(rec.steps.load_rps);
      }
    } finally {
      await store.close();
    }
    expect(r.markdown).toContain("## hpa against recorded heuristic");
    expect(r.markdown).toContain("## hpa against recorded none");
  }, 300_000);

  it("says what is missing: an episode, a cell, a seed, a policy, a run, a recording of an older schema", async () => {
    const db = recording();
    const fail = (o: Partial<Parameters<typeof replayRun>[0]>) =>
      replayRun({ db, policy: "hpa", jobs: 1, ...o } as Parameters<typeof replayRun>[0]);
    await expect(fail({ select: { episode: 999 } })).rejects.toThrow(
      /No episode 999 in run .*; its episodes are 1\.\.4/,
    );
    await expect(fail({ select: { cell: { fault: "x", frequency: "busy", policy: "none" } } })).rejects.toThrow(
      /No cell x\/busy\/none in run .*; it has kill-and-stress\/busy\/none/,
    );
    await expect(fail({ select: { seed: 9 } })).rejects.toThrow(/No seed 9 in the selection; it has 1, 2/);
    await expect(fail({ policy: "nope" as PolicyName })).rejects.toThrow(/Unknown policy "nope"/);
    await expect(fail({ runId: "nope" })).rejects.toThrow(/No run nope in/);
    await expect(fail({ select: { episode: 1, cell: { fault: "a", frequency: "b", policy: "c" } } })).rejects.toThrow(
      UsageError,
    );
    const old = recording();
    const s = await TraceStore.open(old);
    await s.query("UPDATE schema_version SET version = 3");
    await s.close();
    await expect(replayRun({ db: old, policy: "hpa" })).rejects.toThrow(
      /has trace store schema version 3; this build reads version 5/,
    );
  }, 300_000);
});

describe("decision replay on the recording", () => {
  it("none proposes noop everywhere: its agreement is the share of recorded noop proposals", async () => {
    const store = await TraceStore.open(recording());
    try {
      const run = (await store.listRuns())[0]!;
      const r = await replayDecisions(store, { run, policy: "none" });
      const proposed = fixture.episodes.flatMap((e) => e.steps.proposed!.map(Number));
      expect(r.steps).toBe(proposed.length);
      expect(r.agreed).toBe(proposed.filter((a) => a === 0).length);
      expect(r.byRecordedPolicy.find((p) => p.policy === "none")).toEqual({
        policy: "none",
        steps: proposed.length / 2,
        agreed: proposed.length / 2,
      });
      expect(r.agreed).toBeLessThan(r.steps);
      // The heuristic on its own episodes, from the recorded observations: every disagreement listed is real.
      const h = await replayDecisions(store, { run, policy: "heuristic", episodes: [2, 4], keep: 1000 });
      const own = fixture.episodes.filter((e) => e.meta.policy === "heuristic");
      expect(h.steps).toBe(own.reduce((k, e) => k + e.steps.step!.length, 0));
      for (const d of h.disagreements) expect(d.recorded).not.toBe(d.replayed);
      expect(h.agreed + h.disagreements.length).toBe(h.steps);
    } finally {
      await store.close();
    }
  }, 120_000);
});

/**
 * A local-testbed recording (harness/fixtures/replay-local.json): one cpu-stress on real
 * processes under heuristic, 13 steps of 2 s, recorded on a 2-core machine at load ~44, so
 * the service was overloaded throughout (the SLO never held): a real trace, not a pretty one.
 */
describe("a local-testbed recording", () => {
  const local = readTraceFixture(join(import.meta.dirname, "fixtures", "replay-local.json"));
  const file = join(root, "local.duckdb");
  beforeAll(async () => {
    const store = await TraceStore.open(file);
    try {
      await loadRun(store, local);
    } finally {
      await store.close();
    }
  }, 120_000);

  it("replays in the simulator on its recorded fault and load, and says the difference includes the simulator's", async () => {
    const out = join(root, "local-replay.duckdb");
    const r = await replayRun({ db: file, policy: "none", dbOut: out, jobs: 1 });
    expect(r.summary.completed).toBe(1);
    expect(r.identical).toBeNull();
    // Another policy than the recorded one: a counterfactual, not the simulator's error.
    expect(r.sideBySide!.episodes).toHaveLength(0);
    expect(r.notes.join(" ")).toMatch(/backend local; the replay runs its faults and load in the simulator/);
    const uptime = r.counterfactuals[0]!.rows.find((x) => x.metric === "uptime")!;
    expect(uptime.recorded).toBe(0);
    expect(uptime.difference.n).toBe(1);
    const store = await TraceStore.open(out);
    try {
      const [spans] = await store.query("SELECT fault_type, status, fault FROM fault_spans");
      const recorded = local.episodes[0]!.events.find((e) => e.kind === "fault-injected")!;
      expect(spans).toEqual({ fault_type: "cpu-stress", status: "injected", fault: recorded.fault });
      const [load] = await store.query("SELECT list(load_rps ORDER BY step) AS load FROM steps");
      expect(load!.load).toEqual(local.episodes[0]!.steps.load_rps);
    } finally {
      await store.close();
    }
  }, 300_000);

  it("replayed under its own policy, it is shown beside the simulated trajectory, per series and step by step", async () => {
    const out = join(root, "local-side-by-side.duckdb");
    const r = await replayRun({ db: file, policy: "heuristic", dbOut: out, jobs: 1 });
    const sbs = r.sideBySide!;
    expect(sbs.episodes).toHaveLength(1);
    const e = sbs.episodes[0]!;
    expect([e.fault, e.policy, e.seed]).toEqual(["cpu-stress", "heuristic", 1]);
    const rec = local.episodes[0]!.steps;
    expect(e.steps.map((x) => x.latencyMs[0])).toEqual(rec.latency_ms!.map(Number));
    expect(e.steps.map((x) => x.ready[0])).toEqual(rec.ready_replicas!.map(Number));
    const store = await TraceStore.open(out);
    try {
      const sim = await store.query(
        "SELECT latency_ms, ready_replicas, slo_ok FROM steps WHERE episode_id = ? ORDER BY step",
        [e.replayedEpisode],
      );
      expect(e.steps.map((x) => x.latencyMs[1])).toEqual(sim.map((x) => Number(x.latency_ms)));
      expect(e.steps.map((x) => x.ready[1])).toEqual(sim.map((x) => Number(x.ready_replicas)));
      // The SLO series' error is the share of complete steps where the two disagree.
      const complete = rec
        .missing!.map((m, i) => [Number(m), i])
        .filter(([m]) => m === 0)
        .map(([, i]) => i!);
      const disagree = complete.filter((i) => Number(rec.slo_ok![i]) !== (sim[i]!.slo_ok ? 1 : 0)).length;
      expect(sbs.errors[0]!.mae.slo).toBeCloseTo(disagree / complete.length, 12);
      expect(sbs.errors[0]!.steps).toBe(complete.length);
    } finally {
      await store.close();
    }
    expect(r.markdown).toContain("Recorded (local) against simulated, step by step");
    expect(r.markdown).toContain("Episode 1 (cpu-stress/once/heuristic, seed 1): recorded / simulated");
  }, 300_000);

  it("decision replay works on it: none agrees exactly where the recorded heuristic proposed noop", async () => {
    const store = await TraceStore.open(file);
    try {
      const run = (await store.listRuns())[0]!;
      const r = await replayDecisions(store, { run, policy: "none" });
      const proposed = local.episodes[0]!.steps.proposed!.map(Number);
      expect(r.steps).toBe(13);
      expect(r.agreed).toBe(proposed.filter((a) => a === 0).length);
      expect(r.agreed).toBeLessThan(13);
    } finally {
      await store.close();
    }
  }, 120_000);
});
