/**
 * The wiring of `harness replay --backend local`, fast and without a testbed: the testbed's
 * `LocalBackend` is replaced by a simulator behind the same `open`/`close` shape (vi.mock),
 * so these tests pin what the harness hands the testbed (the recorded load as its load
 * generator's rates, the recording's deployment, the recorded schedule to inject), that
 * episodes open one testbed at a time and close each, and that the report sets the replayed
 * injections beside the recorded ones. What the real testbed makes of it is
 * replay-local.smoke.test.ts's (LOCAL_SMOKE=1).
 */
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { LocalBackendOptions } from "../cluster/local/backend.ts";
import { SimBackend } from "../sim/backend.ts";
import type { FaultInjection } from "./core/contract.ts";
import { comparePair, stepOf } from "./replay-injections.ts";
import { deriveScenario, replayRun } from "./replay-run.ts";
import { TraceStore } from "./store.ts";
import { tempDir } from "./store-fixtures.ts";
import { loadRun, readTraceFixture } from "./trace-fixture.ts";

/** What the fake testbed saw: every open's options, every injection, opens and closes over time. */
const seen = vi.hoisted(() => ({
  opened: [] as LocalBackendOptions[],
  injected: [] as FaultInjection[][],
  live: 0,
  maxLive: 0,
  closed: 0,
}));

vi.mock("../cluster/local/backend.ts", () => ({
  LocalBackend: {
    // A simulator in the testbed's place: same step length, the offered rates it is given.
    open: async (o: LocalBackendOptions) => {
      seen.opened.push(o);
      seen.live++;
      seen.maxLive = Math.max(seen.maxLive, seen.live);
      const injected: FaultInjection[] = [];
      seen.injected.push(injected);
      const sim = new SimBackend({
        seed: 1,
        params: { stepSeconds: o.stepSeconds, initialReplicas: o.deployment?.replicas ?? 3 },
        loadSeries: o.rates,
      });
      const inject = sim.inject.bind(sim);
      return Object.assign(sim, {
        inject: (f: FaultInjection) => {
          injected.push(f);
          inject(f);
        },
        close: async () => {
          seen.live--;
          seen.closed++;
        },
      });
    },
  },
}));

const root = tempDir("replay-local-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function loaded(name: string): Promise<{ file: string; fixture: ReturnType<typeof readTraceFixture> }> {
  const fixture = readTraceFixture(join(import.meta.dirname, "fixtures", `${name}.json`));
  const file = join(root, `${name}.duckdb`);
  const store = await TraceStore.open(file);
  try {
    await loadRun(store, fixture);
  } finally {
    await store.close();
  }
  return { file, fixture };
}

let local: Awaited<ReturnType<typeof loaded>>;
let sim: Awaited<ReturnType<typeof loaded>>;
beforeAll(async () => {
  local = await loaded("replay-local");
  sim = await loaded("replay-sim");
}, 120_000);
beforeEach(() => {
  seen.opened.length = 0;
  seen.injected.length = 0;
  Object.assign(seen, { live: 0, maxLive: 0, closed: 0 });
});

describe("replay on the local testbed: wiring", () => {
  it("derives a local scenario that keeps the recording's deployment, narrowed to the replayed policy", () => {
    const run = local.fixture.run;
    const derive = (backend: "local" | "sim") =>
      deriveScenario(
        run.scenarioText,
        run.scenarioName,
        run.runId,
        [{ fault: "cpu-stress", frequency: "once", seed: 1 }],
        "none",
        undefined,
        backend,
      );
    const d = derive("local");
    expect(d.scenario.backend).toBe("local");
    expect(d.scenario.local).toMatchObject({ replicas: 3, cpuCores: 0.5, memoryMiB: 96 });
    expect([d.scenario.stepSeconds, d.scenario.steps]).toEqual([2, 13]);
    expect(d.scenario.matrix.policy.map((p) => p.name)).toEqual(["none"]);
    expect(d.text).toMatch(/^backend: local$/m);
    // A simulator replay of the same recording drops the testbed's section.
    const s = derive("sim");
    expect([s.scenario.backend, s.scenario.local]).toEqual(["sim", undefined]);
  });

  it("hands the testbed the recorded load and deployment, injects the recorded schedule, and reports both sides", async () => {
    const out = join(root, "local-out.duckdb");
    // The recording's load is the constant its scenario's workload would generate anyway: give
    // the copy a series only the recording holds, so that ignoring it cannot pass.
    const db = join(root, "local-copy.duckdb");
    copyFileSync(local.file, db);
    const store0 = await TraceStore.open(db);
    await store0.query("UPDATE steps SET load_rps = 10 + 2 * step");
    await store0.close();
    const load = local.fixture.episodes[0]!.steps.step!.map((k) => 10 + 2 * Number(k));
    const r = await replayRun({ db, policy: "none", backend: "local", dbOut: out, jobs: 4 });
    expect(r.summary.completed).toBe(1);
    expect([r.recordedBackend, r.backend]).toEqual(["local", "local"]);
    const rec = local.fixture.episodes[0]!;
    expect(seen.opened).toHaveLength(1);
    const o = seen.opened[0]!;
    expect(Array.from(o.rates)).toEqual(load);
    expect(o.stepSeconds).toBe(2);
    expect(o.deployment).toMatchObject({ replicas: 3, cpuCores: 0.5, memoryMiB: 96, workMs: 2, allocKiB: 128 });
    expect(seen.closed).toBe(1);
    // The schedule injected is the one the recording stored with its fault-injected event.
    const recordedFault = JSON.parse(rec.events.find((e) => e.kind === "fault-injected")!.fault!);
    expect(seen.injected[0]).toEqual([recordedFault]);
    // The report: no row-for-row claim, the injections table, the counterfactual against the recording.
    expect(r.identical).toBeNull();
    expect(r.injections!.pairs).toHaveLength(1);
    const p = r.injections!.pairs[0]!;
    expect(p.recorded).toMatchObject({ status: "injected", type: "cpu-stress", step: 2, rank: 0 });
    expect(p.replayed).toMatchObject({ status: "injected", type: "cpu-stress", rank: 0 });
    expect(r.counterfactuals[0]!.recordedPolicy).toBe("heuristic");
    expect(r.counterfactuals[0]!.rows.find((x) => x.metric === "uptime")!.difference.n).toBe(1);
    expect(r.notes.join(" ")).toMatch(/on the wall clock/);
    expect(r.markdown).toContain("## Injections: recorded against replayed");
    expect(r.markdown).toContain("## none against recorded heuristic");
    const store = await TraceStore.open(out);
    try {
      const [run] = await store.listRuns();
      expect([run!.backend, run!.scenarioText.match(/^backend: (\w+)$/m)?.[1]]).toEqual(["local", "local"]);
      const stored = await store.query("SELECT load_rps FROM steps ORDER BY step");
      expect(stored.map((x) => Number(x.load_rps))).toEqual(load);
    } finally {
      await store.close();
    }
  }, 120_000);

  it("runs one testbed at a time whatever --jobs says (the deployment's parallelEpisodes), each closed", async () => {
    const out = join(root, "sim-on-local.duckdb");
    const db = join(root, "sim-copy.duckdb");
    copyFileSync(sim.file, db);
    const r = await replayRun({ db, policy: "hpa", backend: "local", dbOut: out, jobs: 4 });
    expect(r.summary.completed).toBe(2);
    expect(seen.opened).toHaveLength(2);
    expect(seen.maxLive).toBe(1);
    expect(seen.closed).toBe(2);
    // Each seed's compound schedule, both faults at once, as recorded.
    for (const [i, seed] of [1, 2].entries()) {
      const rec = sim.fixture.episodes.find((e) => e.meta.seed === seed && e.meta.policy === "none")!;
      const injected = rec.events.filter((e) => e.kind === "fault-injected").map((e) => JSON.parse(e.fault!));
      expect(injected).toHaveLength(6);
      expect(seen.injected[i]).toEqual(injected);
    }
    // A simulator recording on the testbed: its steps become wall-clock seconds, as the notes say.
    expect(r.notes.join(" ")).toMatch(/recording ran in the simulator: its steps are replayed as 10 s of wall time/);
    // 4 recorded episodes x 6 faults, each beside its seed's replay: same type, status and step
    // everywhere; a rank differs only where hpa ran another number of pods than the recording
    // (a target key picks a rank among the pods running then).
    expect(r.injections!.pairs).toHaveLength(24);
    for (const p of r.injections!.pairs) expect(p.differs).toMatch(/^(rank \d+ \/ \d+)?$/);
    expect(r.injections!.matched).toBeGreaterThan(12);
  }, 120_000);

  it("compares an injection by type, status, step and rank", () => {
    expect(stepOf([0.1, 2.2, 4.1, 6.0], 4.5)).toBe(2);
    expect(stepOf([0.1, 2.2, 4.1, 6.0], 0.05)).toBe(-1);
    const a = { status: "injected", type: "cpu-stress", atS: 4.5, step: 2, rank: 0 };
    expect(comparePair(a, { ...a, atS: 5.9 })).toBe("");
    expect(comparePair(a, { ...a, step: 3, rank: 1 })).toBe("step 2 / 3, rank 0 / 1");
    expect(comparePair(a, { ...a, status: "skipped", atS: Number.NaN, step: -1, rank: -1 })).toBe("injected / skipped");
  });
});
