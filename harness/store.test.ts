import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, describe, expect, it } from "vitest";
import { VIEW_NAMES } from "../reports/views.ts";
import { ACTION_NAMES } from "./core/contract.ts";
import { DRAIN_ROWS, exportParquet, mergeStores, type StoreOptions, TraceStore } from "./store.ts";
import { makeMeta, makeRunContext, makeTrace, tempDir } from "./store-fixtures.ts";
import { DATA_TABLES, SCHEMA_VERSION } from "./store-schema.ts";
import { GUARD_REASONS, STEP_COLUMNS, type TraceEvent } from "./trace.ts";

const root = tempDir("store-test-");
let n = 0;
/** A fresh database path in its own (not yet existing) folder. */
const dbPath = () => join(root, `case-${++n}`, "nested", "trace.duckdb");
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs `body` on a store opened at `path` and closes it. */
async function withStore<T>(path: string, body: (s: TraceStore) => Promise<T>, options: StoreOptions = {}): Promise<T> {
  const store = await TraceStore.open(path, options);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/**
 * Tests that build one batch across several writes must not see the maxDelayMs timer commit
 * part of it first: on a loaded machine writing 10,000 steps takes longer than the default 1 s.
 */
const ONLY_EXPLICIT_FLUSH = { maxDelayMs: 3_600_000 };

/** Episodes whose stored step and event counts differ from what their row says: should be none. */
const PARTIAL_EPISODES = `SELECT e.episode_id FROM episodes e
  LEFT JOIN (SELECT episode_id, count(*) AS n FROM steps GROUP BY ALL) s USING (episode_id)
  WHERE coalesce(s.n, 0) <> e.steps
  UNION ALL SELECT DISTINCT episode_id FROM steps WHERE episode_id NOT IN (SELECT episode_id FROM episodes)
  UNION ALL SELECT DISTINCT episode_id FROM events WHERE episode_id NOT IN (SELECT episode_id FROM episodes)`;

async function count(store: TraceStore, sql: string): Promise<number> {
  const [row] = await store.query(`SELECT count(*) AS n FROM (${sql})`);
  return row!.n as number;
}

/**
 * Begins "run-1" and commits its first episode (seed 1, 10 steps), then copies that
 * episode's row under id `first + ahead` (key 'squatter'): the staged episode that gets
 * that id makes its batch's commit fail. Returns the first episode's id.
 */
async function firstEpisodeThenSquatter(store: TraceStore, ahead: number): Promise<number> {
  await store.beginRun(makeRunContext());
  const first = await store.writeEpisode("run-1", makeMeta({ seed: 1 }), makeTrace(10));
  await store.query(
    `INSERT INTO episodes SELECT * REPLACE (episode_id + ? AS episode_id, 'squatter' AS episode_key)
     FROM episodes WHERE episode_id = ?`,
    [ahead, first],
  );
  return first;
}

describe("TraceStore.open", () => {
  it("creates the file, its folder and the schema, with the steps columns of STEP_COLUMNS", async () => {
    const path = dbPath();
    await withStore(path, async (store) => {
      expect(existsSync(path)).toBe(true);
      const columns = await store.query("SELECT column_name, column_type FROM (DESCRIBE steps)");
      expect(columns.map((c) => [c.column_name, c.column_type])).toEqual([
        ["episode_id", "INTEGER"],
        ...STEP_COLUMNS.map(([name, type]) => [name, type]),
      ]);
      expect(await store.query("SELECT * FROM guard_reasons ORDER BY code")).toEqual(
        GUARD_REASONS.map((reason, code) => ({ code, reason })),
      );
      expect(await store.query("SELECT * FROM actions ORDER BY id")).toEqual(
        ACTION_NAMES.map((name, id) => ({ id, name })),
      );
    });
  });

  it("reopens an existing store unchanged and continues its episode ids", async () => {
    const path = dbPath();
    const first = await withStore(path, async (store) => {
      await store.beginRun(makeRunContext());
      await store.writeEpisode("run-1", makeMeta({ seed: 1 }), makeTrace(10));
      return store.writeEpisode("run-1", makeMeta({ seed: 2 }), makeTrace(10));
    });
    await withStore(path, async (store) => {
      expect(await store.query("SELECT version FROM schema_version")).toEqual([{ version: SCHEMA_VERSION }]);
      expect(await count(store, "SELECT * FROM guard_reasons")).toBe(GUARD_REASONS.length);
      expect(await count(store, "SELECT * FROM actions")).toBe(ACTION_NAMES.length);
      expect(await store.writeEpisode("run-1", makeMeta({ seed: 3 }), makeTrace(10))).toBe(first + 1);
      expect(await count(store, "SELECT * FROM steps")).toBe(30);
    });
  });

  it("refuses a DuckDB file that is not a trace store, naming the file", async () => {
    const path = dbPath();
    await withStore(path, async () => {}); // creates the folder
    const other = join(path, "..", "other.duckdb");
    const instance = await DuckDBInstance.create(other);
    const con = await instance.connect();
    await con.run("CREATE TABLE measurements (x INTEGER)");
    con.closeSync();
    instance.closeSync();
    await expect(TraceStore.open(other)).rejects.toThrow(
      `${resolve(other)} is not a trace store: it has tables (measurements) but no schema_version table`,
    );
  });

  it("refuses a trace store of a version no migration reaches (newer, or older than the oldest migration)", async () => {
    const path = dbPath();
    await withStore(path, (s) => s.query("UPDATE schema_version SET version = 99"));
    await expect(TraceStore.open(path)).rejects.toThrow(
      `${resolve(path)} has trace store schema version 99; this build reads version ${SCHEMA_VERSION} (the file was written by a newer build)`,
    );
    // Older than any migration reaches (store-migrate.ts): refused too, not guessed at.
    const old = dbPath();
    await withStore(old, (s) => s.query("UPDATE schema_version SET version = 3"));
    await expect(TraceStore.open(old)).rejects.toThrow(
      `${resolve(old)} has trace store schema version 3; this build reads version ${SCHEMA_VERSION}`,
    );
  });

  it("refuses a file that is not a DuckDB database, naming the file", async () => {
    const path = dbPath();
    await withStore(path, async () => {});
    const junk = join(path, "..", "junk.duckdb");
    writeFileSync(junk, "not a database, just text".repeat(200));
    await expect(TraceStore.open(junk)).rejects.toThrow(`Cannot open trace store ${resolve(junk)}`);
  });
});

describe("writing runs and episodes", () => {
  it("stores every step column, event and episode field as given", async () => {
    await withStore(dbPath(), async (store) => {
      await store.beginRun(makeRunContext({ gitSha: "abc123", modelChecksums: { "models/rl.onnx": "f00" } }));
      const trace = makeTrace(5, (i) => ({
        cpu: 0.1 * i + 0.05,
        obs_cpu: 0.1 * i + 0.05,
        latency_ms: 1000 + i,
        reason: i % GUARD_REASONS.length,
        proposed: i % 5,
        executed: i % 5,
        applied: i % 2,
        slo_ok: (i + 1) % 2,
        reward: -i / 3,
        since_failure_s: 1e6 + i,
      }));
      const events: TraceEvent[] = [
        {
          time: 10,
          kind: "fault-injected",
          action: -1,
          podId: 7,
          podName: "demo-7f9c-x2k4p",
          podUid: "0b8e5a7c-1d2f-4e3a-9b6c-7d8e9f0a1b2c",
          faultId: 0,
          detail: "pod-kill hit pod 7",
        },
        {
          time: 20,
          kind: "action-executed",
          action: 1,
          podId: 7,
          podName: "demo-7f9c-x2k4p",
          podUid: "0b8e5a7c-1d2f-4e3a-9b6c-7d8e9f0a1b2c",
          faultId: -1,
          detail: "restarted 'pod-7'",
        },
        { time: 30, kind: "slo-breached", action: -1, podId: -1, podName: "", podUid: "", faultId: -1, detail: "" },
      ];
      trace.events.push(...events);
      const meta = makeMeta({ steps: 5, status: "failed", error: "boom", faultSpecs: [{ type: "cpu-stress" }] });
      const id = await store.writeEpisode("run-1", meta, trace);

      const steps = await store.query("SELECT * FROM steps WHERE episode_id = ? ORDER BY step", [id]);
      expect(steps).toHaveLength(5);
      steps.forEach((row, i) => {
        for (const [name, type] of STEP_COLUMNS) {
          const v = trace.columns[name][i]!;
          const expected = type === "BOOLEAN" ? v === 1 : type === "FLOAT" ? Math.fround(v) : v;
          expect(row[name], `${name}[${i}]`).toBe(expected);
        }
      });
      expect(
        await store.query(
          "SELECT time_s AS time, kind, action, pod_id AS podId, pod_name AS podName, pod_uid AS podUid, fault_id AS faultId, detail FROM events WHERE episode_id = ? ORDER BY seq",
          [id],
        ),
      ).toEqual(events);
      const [episode] = await store.query("SELECT * FROM episodes WHERE episode_id = ?", [id], { camelCase: true });
      expect(episode).toMatchObject({
        runId: "run-1",
        episodeKey: meta.key,
        policyName: "heuristic",
        status: "failed",
        error: "boom",
        steps: 5,
        confirmWindowS: 20,
        faultSpecs: '[{"type":"cpu-stress"}]',
      });
      const [run] = await store.listRuns();
      expect(run).toMatchObject({
        runId: "run-1",
        gitSha: "abc123",
        argv: ["run", "test.yaml"],
        modelChecksums: { "models/rl.onnx": "f00" },
        seeds: [1, 2],
        startedAt: new Date("2025-01-01T00:00:00Z"),
        finishedAt: null,
        status: "running",
        episodes: 1,
        completedEpisodes: 0,
      });
    });
  });

  it("refuses to begin a run whose id exists", async () => {
    await withStore(dbPath(), async (store) => {
      await store.beginRun(makeRunContext());
      await expect(store.beginRun(makeRunContext())).rejects.toThrow(/Run run-1 already exists in .*trace\.duckdb/);
    });
  });

  it("finds the latest run of a plan and shard, and resumes it without its unfinished episodes", async () => {
    await withStore(dbPath(), async (store) => {
      const plan = "c".repeat(64);
      await store.beginRun(makeRunContext({ runId: "old", planSha256: plan, shard: "1/2" }));
      await store.beginRun(
        makeRunContext({ runId: "new", planSha256: plan, shard: "1/2", startedAt: new Date("2025-02-01") }),
      );
      await store.beginRun(makeRunContext({ runId: "other-shard", planSha256: plan, shard: "2/2" }));
      expect((await store.findRun(plan, "1/2"))?.runId).toBe("new");
      expect((await store.findRun(plan, "2/2"))?.runId).toBe("other-shard");
      expect(await store.findRun(plan, null)).toBeNull();
      expect(await store.findRun("d".repeat(64), "1/2")).toBeNull();

      await store.writeEpisode("new", makeMeta({ seed: 1 }), makeTrace(10));
      await store.writeEpisode("new", makeMeta({ seed: 2, status: "failed", error: "x" }), makeTrace(10));
      await store.writeEpisode("new", makeMeta({ seed: 3, status: "aborted" }), makeTrace(10));
      await store.finishRun("new", "interrupted");
      expect(await store.storedEpisodeKeys("new")).toEqual(new Set(["pod-kill|often|heuristic|1"]));

      await store.markRunning("new");
      const run = (await store.listRuns()).find((r) => r.runId === "new");
      expect(run).toMatchObject({ status: "running", finishedAt: null, episodes: 1, completedEpisodes: 1 });
      expect(await count(store, "SELECT * FROM steps")).toBe(10);
      await expect(store.markRunning("missing")).rejects.toThrow(/No run missing in /);
    });
  });

  it("records how a run finished", async () => {
    await withStore(dbPath(), async (store) => {
      await store.beginRun(makeRunContext());
      await store.finishRun("run-1", "completed", new Date("2025-01-01T01:00:00Z"));
      const [run] = await store.listRuns();
      expect(run).toMatchObject({ status: "completed", finishedAt: new Date("2025-01-01T01:00:00Z") });
    });
  });
});

describe("atomic episodes", () => {
  it("drops a trace that throws half-way whole, and keeps the others", async () => {
    await withStore(dbPath(), async (store) => {
      await store.beginRun(makeRunContext());
      await store.writeEpisode("run-1", makeMeta({ seed: 1 }), makeTrace(10));
      const bad = makeTrace(10, () => ({}), [{ kind: "fault-injected" }]);
      // Steps are staged before events: the event that throws comes after them.
      bad.events.push({
        get kind(): never {
          throw new Error("corrupt event");
        },
      } as unknown as TraceEvent);
      await expect(store.writeEpisode("run-1", makeMeta({ seed: 2 }), bad)).rejects.toThrow("corrupt event");
      await store.writeEpisode("run-1", makeMeta({ seed: 3 }), makeTrace(10));
      expect(await count(store, PARTIAL_EPISODES)).toBe(0);
      expect(await count(store, "SELECT * FROM episodes")).toBe(2);
      expect(await count(store, "SELECT * FROM steps")).toBe(20);
      expect(await count(store, "SELECT * FROM events")).toBe(0);
    });
  });

  it("rolls back a batch whose commit fails after its steps were appended", async () => {
    await withStore(
      dbPath(),
      async (store) => {
        // Take the id the next episode will get, so its episodes row (appended last) collides.
        const first = await firstEpisodeThenSquatter(store, 2);
        await store.writeEpisode(
          "run-1",
          makeMeta({ seed: 2 }),
          makeTrace(10, () => ({}), [{ kind: "regression" }]),
        );
        await expect(store.writeEpisode("run-1", makeMeta({ seed: 3 }), makeTrace(10))).resolves.toBe(first + 2);
        await expect(store.flush()).rejects.toThrow(/writing a batch of episodes failed/);
        // Neither episode of the failed batch left a row; the store still works.
        expect(await count(store, "SELECT * FROM steps")).toBe(10);
        expect(await count(store, "SELECT * FROM events")).toBe(0);
        await store.writeEpisode("run-1", makeMeta({ seed: 4 }), makeTrace(10));
        expect(await count(store, "SELECT * FROM steps")).toBe(20);
        expect(await count(store, "SELECT * FROM episodes WHERE episode_key <> 'squatter'")).toBe(2);
      },
      ONLY_EXPLICIT_FLUSH,
    );
  });

  /** Runs a child process that writes episodes and then kills itself with SIGKILL. */
  function writeThenKill(
    path: string,
    opts: { episodes: number; steps?: number; batchRows: number; maxDelayMs: number; waitMs: number },
  ) {
    const url = (f: string) => pathToFileURL(resolve(import.meta.dirname, f)).href;
    const script = join(root, `child-${++n}.mts`);
    writeFileSync(
      script,
      `import { TraceStore } from ${JSON.stringify(url("store.ts"))};
       import { makeMeta, makeRunContext, makeTrace } from ${JSON.stringify(url("store-fixtures.ts"))};
       const store = await TraceStore.open(${JSON.stringify(path)}, { batchRows: ${opts.batchRows}, maxDelayMs: ${opts.maxDelayMs} });
       await store.beginRun(makeRunContext());
       for (let seed = 0; seed < ${opts.episodes}; seed++) {
         await store.writeEpisode("run-1", makeMeta({ seed, steps: ${opts.steps ?? 20} }), makeTrace(${opts.steps ?? 20}, () => ({}), [{ kind: "pod-crashed" }]));
       }
       await new Promise((r) => setTimeout(r, ${opts.waitMs}));
       process.kill(process.pid, "SIGKILL");`,
    );
    const child = spawnSync(process.execPath, ["--import", "tsx", script], {
      cwd: resolve(import.meta.dirname, ".."),
      encoding: "utf8",
    });
    expect(child.signal, child.stderr).toBe("SIGKILL");
  }

  it("loses only the uncommitted batch to a kill -9, never part of an episode", async () => {
    const path = dbPath();
    // 20-step episodes, a commit every 60 rows: 8 commits of 3 episodes, the 25th staged only.
    writeThenKill(path, { episodes: 25, batchRows: 50, maxDelayMs: 60_000, waitMs: 0 });
    await withStore(path, async (store) => {
      expect(await count(store, PARTIAL_EPISODES)).toBe(0);
      expect(await count(store, "SELECT * FROM episodes")).toBe(24);
      expect(await count(store, "SELECT * FROM steps")).toBe(24 * 20);
      expect(await count(store, "SELECT * FROM events")).toBe(24);
      expect((await store.listRuns())[0]).toMatchObject({ status: "running", completedEpisodes: 24 });
    });
  });

  it("loses a batch whose rows already went into its open transaction to a kill -9, and only it", async () => {
    const path = dbPath();
    // 2,000-step episodes, a commit every 30,000 rows: episodes 1-15 commit; 16-25 make
    // 20,000 rows, which passed DRAIN_ROWS, so most of them sit uncommitted in the table.
    expect(DRAIN_ROWS).toBeLessThan(20_000);
    writeThenKill(path, { episodes: 25, steps: 2000, batchRows: 30_000, maxDelayMs: 60_000, waitMs: 0 });
    await withStore(path, async (store) => {
      expect(await count(store, PARTIAL_EPISODES)).toBe(0);
      expect(await count(store, "SELECT * FROM episodes")).toBe(15);
      expect(await count(store, "SELECT * FROM steps")).toBe(15 * 2000);
    });
  });

  it("a background commit that fails while a flush waits behind it fails that flush: no run finishes 'completed' over lost episodes", async () => {
    await withStore(
      dbPath(),
      async (store) => {
        await firstEpisodeThenSquatter(store, 1);
        // Staged with the store's 1 ms timer; ours, set after it with the same delay, fires
        // after it, while the background commit (its episodes row collides) is in flight.
        await store.writeEpisode("run-1", makeMeta({ seed: 2 }), makeTrace(10));
        const finished = await new Promise<unknown>((resolve) => {
          setTimeout(() => {
            store.finishRun("run-1", "completed").then(
              () => resolve(null),
              (err: unknown) => resolve(err),
            );
          }, 1);
        });
        expect(String(finished)).toMatch(/writing a batch of episodes failed/);
        await store.finishRun("run-1", "failed");
        expect((await store.listRuns())[0]!.status).toBe("failed");
        expect(await count(store, "SELECT * FROM episodes WHERE episode_key <> 'squatter'")).toBe(1);
      },
      { maxDelayMs: 1 },
    );
  });

  it("rolls back the rows a batch had handed to its transaction when its commit fails", async () => {
    await withStore(
      dbPath(),
      async (store) => {
        const first = await firstEpisodeThenSquatter(store, 2);
        // 2 x 10,000 rows pass DRAIN_ROWS: the first 20,000 step rows enter the transaction
        // before the commit finds the colliding episodes row.
        await store.writeEpisode("run-1", makeMeta({ seed: 2, steps: 10_000 }), makeTrace(10_000));
        await store.writeEpisode("run-1", makeMeta({ seed: 3, steps: 10_000 }), makeTrace(10_000));
        await expect(store.flush()).rejects.toThrow(/writing a batch of episodes failed/);
        const stored = await store.query("SELECT episode_id, count(*) AS n FROM steps GROUP BY ALL");
        expect(stored).toEqual([{ episode_id: first, n: 10 }]);
        await store.writeEpisode("run-1", makeMeta({ seed: 4 }), makeTrace(10));
        expect(await count(store, "SELECT * FROM steps")).toBe(20);
      },
      { batchRows: 1_000_000, ...ONLY_EXPLICIT_FLUSH },
    );
  });

  it("drops the whole batch when handing rows to its transaction fails, and stays usable", async () => {
    await withStore(
      dbPath(),
      async (store) => {
        await store.beginRun(makeRunContext());
        await store.writeEpisode("run-1", makeMeta({ seed: 1 }), makeTrace(10));
        await store.flush();
        // The table no longer has the appender's columns: handing rows over fails.
        await store.query("ALTER TABLE steps ADD COLUMN extra INTEGER");
        await store.writeEpisode("run-1", makeMeta({ seed: 2, steps: 10_000 }), makeTrace(10_000));
        await expect(
          store.writeEpisode("run-1", makeMeta({ seed: 3, steps: 10_000 }), makeTrace(10_000)),
        ).rejects.toThrow(/writing a batch of episodes failed/);
        await store.query("ALTER TABLE steps DROP COLUMN extra");
        await store.writeEpisode("run-1", makeMeta({ seed: 4 }), makeTrace(10));
        expect(await count(store, PARTIAL_EPISODES)).toBe(0);
        const seeds = await store.query("SELECT seed FROM episodes ORDER BY seed");
        expect(seeds.map((r) => r.seed)).toEqual([1, 4]);
      },
      { batchRows: 1_000_000, ...ONLY_EXPLICIT_FLUSH },
    );
  });

  it("commits a staged episode within maxDelayMs even when no more come", async () => {
    const path = dbPath();
    writeThenKill(path, { episodes: 2, batchRows: 16384, maxDelayMs: 50, waitMs: 500 });
    await withStore(path, async (store) => {
      expect(await count(store, "SELECT * FROM episodes")).toBe(2);
      expect(await count(store, PARTIAL_EPISODES)).toBe(0);
    });
  });

  it("writes many episodes through several batches", async () => {
    await withStore(
      dbPath(),
      async (store) => {
        await store.beginRun(makeRunContext());
        const ids: number[] = [];
        for (let seed = 0; seed < 40; seed++) {
          ids.push(await store.writeEpisode("run-1", makeMeta({ seed, steps: 300 }), makeTrace(300)));
        }
        // One episode longer than the staging buffers: they grow.
        ids.push(await store.writeEpisode("run-1", makeMeta({ seed: 40, steps: 5000 }), makeTrace(5000)));
        expect(ids).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
        expect(await count(store, "SELECT * FROM steps")).toBe(40 * 300 + 5000);
        const [last] = await store.query("SELECT max(step) AS s, sum(step) AS t FROM steps WHERE episode_id = 41");
        expect(last).toEqual({ s: 4999, t: (4999 * 5000) / 2 });
        expect(await count(store, PARTIAL_EPISODES)).toBe(0);
      },
      { batchRows: 1000 },
    );
  });
});

describe("mergeStores", () => {
  /** A shard store of run "plan-run" holding the given seeds. */
  async function shard(shard: string, seeds: number[], status: "completed" | "running" = "completed") {
    const path = dbPath();
    await withStore(path, async (store) => {
      await store.beginRun(
        makeRunContext({ runId: "plan-run", shard, seeds, startedAt: new Date(`2025-01-0${seeds[0]! + 1}`) }),
      );
      for (const seed of seeds) {
        await store.writeEpisode(
          "plan-run",
          makeMeta({ seed }),
          makeTrace(10, () => ({}), [{ kind: "pod-ready" }]),
        );
      }
      if (status === "completed") await store.finishRun("plan-run", "completed", new Date(`2025-01-1${seeds[0]}`));
    });
    return path;
  }

  it("joins the shards of a run into one run with renumbered episodes, and is idempotent", async () => {
    const a = await shard("1/2", [0, 1]);
    const b = await shard("2/2", [2, 3, 4]);
    const target = dbPath();
    const summary = await mergeStores(target, [a, b]);
    expect(summary).toMatchObject({ episodesAdded: 5, episodesSkipped: 0 });
    expect(summary.sources.map((s) => [s.runsAdded, s.runsMerged])).toEqual([
      [1, 0],
      [0, 1],
    ]);
    const check = async () =>
      withStore(target, async (store) => {
        const runs = await store.listRuns();
        expect(runs).toHaveLength(1);
        expect(runs[0]).toMatchObject({
          runId: "plan-run",
          shard: null,
          status: "completed",
          seeds: [0, 1, 2, 3, 4],
          startedAt: new Date("2025-01-01"),
          finishedAt: new Date("2025-01-12"),
          episodes: 5,
        });
        const episodes = await store.query("SELECT episode_id, seed FROM episodes ORDER BY episode_id");
        expect(episodes).toEqual([0, 1, 2, 3, 4].map((seed, i) => ({ episode_id: i + 1, seed })));
        expect(await count(store, "SELECT * FROM steps")).toBe(50);
        expect(await count(store, "SELECT * FROM events")).toBe(5);
        expect(await count(store, PARTIAL_EPISODES)).toBe(0);
      });
    await check();
    const again = await mergeStores(target, [b, a]);
    expect(again).toMatchObject({ episodesAdded: 0, episodesSkipped: 5 });
    await check();
  });

  it("keeps the shard list and the worst status while shards are missing or unfinished", async () => {
    const a = await shard("1/3", [0]);
    const c = await shard("3/3", [2], "running");
    const target = dbPath();
    const summary = await mergeStores(target, [c, a]);
    expect(summary.partialRuns).toEqual([{ runId: "plan-run", shards: "1/3,3/3", missing: ["2/3"] }]);
    await withStore(target, async (store) => {
      expect((await store.listRuns())[0]).toMatchObject({ shard: "1/3,3/3", status: "running" });
    });
  });

  it("names no partial run once every shard is merged", async () => {
    const summary = await mergeStores(dbPath(), [await shard("2/2", [1]), await shard("1/2", [0])]);
    expect(summary.partialRuns).toEqual([]);
  });

  it("replaces an unfinished episode of the target by the source's completed one", async () => {
    const target = dbPath();
    await withStore(target, async (store) => {
      await store.beginRun(makeRunContext({ runId: "plan-run", shard: "1/2" }));
      await store.writeEpisode("plan-run", makeMeta({ seed: 0, status: "failed", error: "x" }), makeTrace(3));
    });
    const a = await shard("1/2", [0]);
    const summary = await mergeStores(target, [a]);
    expect(summary.sources[0]).toMatchObject({ episodesAdded: 0, episodesReplaced: 1, episodesSkipped: 0 });
    await withStore(target, async (store) => {
      expect(await store.query("SELECT episode_id, status, steps FROM episodes")).toEqual([
        { episode_id: 2, status: "completed", steps: 10 },
      ]);
      expect(await count(store, PARTIAL_EPISODES)).toBe(0);
    });
  });

  it("refuses a missing source, a non-store and the target itself", async () => {
    const target = dbPath();
    await withStore(target, async () => {});
    await expect(mergeStores(target, [join(root, "nope.duckdb")])).rejects.toThrow(/nope\.duckdb: no such file/);
    await expect(mergeStores(target, [target])).rejects.toThrow(/into itself/);
    const other = join(target, "..", "plain.duckdb");
    const instance = await DuckDBInstance.create(other);
    instance.closeSync();
    await expect(mergeStores(target, [other])).rejects.toThrow(/plain\.duckdb is not a trace store/);
  });
});

describe("exportParquet", () => {
  it("writes every table and metric view with all their rows", async () => {
    const path = dbPath();
    await withStore(path, async (store) => {
      await store.beginRun(makeRunContext());
      for (const seed of [1, 2]) {
        // An applied action, a fault and an incident, so that every view has rows.
        const act = (i: number) => (i === 3 ? { proposed: 2, executed: 2, applied: 1 } : i === 5 ? { slo_ok: 0 } : {});
        await store.writeEpisode("run-1", makeMeta({ seed }), makeTrace(10, act, [{ kind: "fault-injected" }]));
      }
    });
    const out = join(path, "..", "parquet");
    const files = await exportParquet(path, out);
    expect(files).toEqual([...DATA_TABLES, ...VIEW_NAMES].map((name) => join(out, `${name}.parquet`)));
    await withStore(path, async (store) => {
      for (const [i, name] of [...DATA_TABLES, ...VIEW_NAMES].entries()) {
        expect(existsSync(files[i]!)).toBe(true);
        const [row] = await store.query(
          `SELECT (SELECT count(*) FROM ${name}) AS stored, (SELECT count(*) FROM read_parquet(?)) AS exported`,
          [files[i]!],
        );
        expect(row!.exported, name).toBe(row!.stored);
        expect(row!.stored, name).toBeGreaterThan(0);
      }
    });
  });
});
