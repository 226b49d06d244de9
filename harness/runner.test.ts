import { spawn } from "node:child_process";
import { rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunStart, type RunSummary, runScenario } from "./runner.ts";
import { parseScenario } from "./scenario-file.ts";
import { mergeStores, TraceStore } from "./store.ts";
import { tempDir } from "./store-fixtures.ts";

const root = tempDir("runner-test-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dbPath = () => join(root, `db-${++n}.duckdb`);

const TEXT = `
name: runner
steps: 60
seeds: { count: 4, start: 1 }
matrix:
  fault: [pod-kill, load-spike]
  frequency:
    often: { kind: fixed, intervalS: 150 }
  policy: [none, heuristic, hpa]
`;
const loaded = (() => {
  const r = parseScenario(TEXT, "runner.yaml");
  if (!r.success) throw new Error(JSON.stringify(r.errors));
  return r.data;
})();
const TOTAL = 2 * 1 * 4 * 3;

async function read<T>(db: string, f: (s: TraceStore) => Promise<T>): Promise<T> {
  const s = await TraceStore.open(db);
  try {
    return await f(s);
  } finally {
    await s.close();
  }
}

/** Every stored episode's key, step count and a digest of its steps, in key order. */
function fingerprint(db: string, runId?: string) {
  return read(db, (s) =>
    s.query(
      `SELECT e.episode_key AS key, e.status, count(st.step) AS steps,
              sum(st.reward) AS ret, sum(st.cpu * (st.step + 1)) AS cpu_digest, sum(st.executed * st.step) AS act_digest
         FROM episodes e JOIN steps st USING (episode_id)
        WHERE ($1::VARCHAR IS NULL OR e.run_id = $1)
        GROUP BY ALL ORDER BY key`,
      [runId ?? null],
    ),
  );
}

// Each test runs the matrix once or more on worker threads: seconds alone, minutes beside a CPU stressor.
describe("runScenario", { timeout: 300_000 }, () => {
  it("runs every episode of the matrix on worker threads and stores each whole", async () => {
    const db = dbPath();
    const summary = await runScenario({ loaded, db, jobs: 2 });
    expect(summary).toMatchObject({ total: TOTAL, skipped: 0, completed: TOTAL, failed: 0, interrupted: false });
    const rows = await fingerprint(db);
    expect(rows).toHaveLength(TOTAL);
    expect(rows.every((r) => r.steps === 60 && r.status === "completed")).toBe(true);
    const runs = await read(db, (s) => s.listRuns());
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ runId: summary.runId, status: "completed", scenarioSha256: loaded.sha256 });
  });

  it("gives the same traces with 1 or 2 workers (the pool does not change results)", async () => {
    const [a, b] = [dbPath(), dbPath()];
    await runScenario({ loaded, db: a, jobs: 1 });
    await runScenario({ loaded, db: b, jobs: 2 });
    expect(await fingerprint(a)).toEqual(await fingerprint(b));
  });

  it("stops dispatching on abort, then --resume runs only the missing episodes into the same run", async () => {
    const db = dbPath();
    const controller = new AbortController();
    let seen = 0;
    const first = await runScenario({
      loaded,
      db,
      jobs: 1,
      signal: controller.signal,
      reporters: [{ onEpisodeEnd: () => ++seen === 5 && controller.abort() }],
    });
    expect(first.interrupted).toBe(true);
    expect(first.completed).toBeLessThan(TOTAL);
    expect(first.completed).toBeGreaterThanOrEqual(5);
    expect((await read(db, (s) => s.listRuns()))[0]!.status).toBe("interrupted");

    const second = await runScenario({ loaded, db, jobs: 2, resume: true });
    expect(second.runId).toBe(first.runId);
    expect(second.skipped).toBe(first.completed);
    expect(second.completed).toBe(TOTAL - first.completed);

    const reference = dbPath();
    await runScenario({ loaded, db: reference, jobs: 2 });
    expect(await fingerprint(db)).toEqual(await fingerprint(reference));
    expect((await read(db, (s) => s.listRuns()))[0]!.status).toBe("completed");
  });

  it("--resume with nothing left to do runs nothing; without --resume it starts a new run", async () => {
    const db = dbPath();
    const a = await runScenario({ loaded, db, jobs: 2 });
    const b = await runScenario({ loaded, db, jobs: 2, resume: true });
    expect(b).toMatchObject({ runId: a.runId, skipped: TOTAL, completed: 0 });
    const c = await runScenario({ loaded, db, jobs: 2 });
    expect(c.runId).not.toBe(a.runId);
    expect(await read(db, (s) => s.listRuns())).toHaveLength(2);
  });

  it("caps jobs at the cores and the episodes to run, and reports both", async () => {
    let start: RunStart | null = null;
    await runScenario({
      loaded,
      db: dbPath(),
      jobs: 1000,
      plan: { seeds: [1], policies: ["none"] },
      reporters: [
        {
          onRunStart: (s) => {
            start = s;
          },
        },
      ],
    });
    expect(start).toMatchObject({ jobsRequested: 1000, jobs: Math.min(2, availableParallelism()), total: 2 });
  });

  it("a run that fails half-way (here a reporter throws; a full disk is another) is recorded failed, not running", async () => {
    const db = dbPath();
    const err = await runScenario({
      loaded,
      db,
      jobs: 1,
      reporters: [
        {
          onEpisodeEnd: (d) => {
            if (d.done === 2) throw new Error("No space left on device (simulated)");
          },
        },
      ],
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/No space left on device/);
    expect((await read(db, (s) => s.listRuns())).map((r) => r.status)).toEqual(["failed"]);
  });

  it("narrows to --seeds and --policies", async () => {
    const summary = await runScenario({ loaded, db: dbPath(), jobs: 1, plan: { seeds: [2], policies: ["hpa"] } });
    expect(summary.total).toBe(2);
  });

  it("shards 1/3, 2/3, 3/3 merge into the same run and traces as one unsharded run", async () => {
    const shards = [1, 2, 3].map(() => dbPath());
    const summaries: RunSummary[] = [];
    for (const [i, db] of shards.entries()) {
      summaries.push(await runScenario({ loaded, db, jobs: 1, shard: { index: i + 1, count: 3 } }));
    }
    expect(summaries.map((s) => s.total)).toEqual([8, 8, 8]);
    expect(new Set(summaries.map((s) => s.runId)).size).toBe(1);
    const merged = dbPath();
    await mergeStores(merged, shards);
    const whole = dbPath();
    await runScenario({ loaded, db: whole, jobs: 2 });
    expect(await fingerprint(merged)).toEqual(await fingerprint(whole));
    const runs = await read(merged, (s) => s.listRuns());
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: "completed", episodes: TOTAL });
  });
});

/** Resolves once `done()` holds, checking every 20 ms: waiting for a condition, not for a time. */
async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 20));
}

describe("a run killed with SIGKILL", () => {
  it("keeps whole episodes only, and --resume completes the matrix", async () => {
    const db = dbPath();
    const big = join(root, "big.yaml");
    // Long enough that the kill lands mid-run on any machine this suite runs on.
    const text = TEXT.replace("steps: 60", "steps: 400").replace("count: 4", "count: 300");
    writeFileSync(big, text);
    const total = 2 * 300 * 3;
    const cli = join(import.meta.dirname, "..", "scripts", "harness.mjs");
    const child = spawn(process.execPath, [cli, "run", big, "--db", db, "--jobs", "1"], { stdio: "pipe" });
    const exited = new Promise((r) => child.once("exit", r));
    let stderr = "";
    await new Promise<void>((resolve) => {
      child.stderr.on("data", (d) => {
        stderr += String(d);
        if (stderr.includes("run started")) resolve();
      });
      child.once("exit", () => resolve());
    });
    // Kill once episodes have been committed, whatever the machine's speed. Another process
    // cannot read the locked database to ask, but the files tell: a checkpoint moves
    // committed rows from the WAL into the file and then empties the WAL. The WAL alone
    // grows during a commit too (a kill then loses that commit), so its shrinking is the
    // event waited for.
    const walSize = () => statSync(`${db}.wal`, { throwIfNoEntry: false })?.size ?? 0;
    let walMax = 0;
    await waitFor(() => {
      const now = walSize();
      walMax = Math.max(walMax, now);
      return child.exitCode !== null || now < walMax - 64 * 1024;
    });
    expect(child.exitCode, `the run ended before the kill:\n${stderr}`).toBeNull();
    child.kill("SIGKILL");
    await exited;

    const after = await read(db, (s) =>
      s.query(`SELECT (SELECT count(*) FROM episodes) AS episodes,
                      (SELECT count(*) FROM episodes e WHERE steps <> (SELECT count(*) FROM steps s WHERE s.episode_id = e.episode_id)) AS partial`),
    );
    expect(after[0]!.partial).toBe(0);
    expect(after[0]!.episodes).toBeGreaterThan(0);
    expect(after[0]!.episodes).toBeLessThan(total);

    const r = parseScenario(text, big);
    if (!r.success) throw new Error("bad");
    const resumed = await runScenario({ loaded: r.data, db, jobs: 2, resume: true });
    expect(resumed.skipped).toBe(after[0]!.episodes);
    const keys = await read(db, (s) => s.query("SELECT count(DISTINCT episode_key) AS k, count(*) AS n FROM episodes"));
    expect(keys[0]).toEqual({ k: total, n: total });
  }, 300_000);
});
