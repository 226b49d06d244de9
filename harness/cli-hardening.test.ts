/**
 * The CLI as a new user meets it with wrong input and a hostile environment (issue 12): each
 * case is one invocation, its exit code and the first line on stderr, and what it must
 * not have done (create a file, overwrite one, leave a run `running`).
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, runCli, SPAWN_TEST_MS } from "./cli-spawn.ts";
import { TraceStore } from "./store.ts";
import { makeMeta, makeRunContext, makeTrace, tempDir } from "./store-fixtures.ts";

const root = tempDir("cli-hardening-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const harness = (...args: string[]) => runCli(args, { cwd: root });
const SMOKE = join(import.meta.dirname, "..", "scenarios", "ci-smoke.yaml");

const SCENARIO_TEXT = `name: stored\nseeds: [1, 2, 3]\nmatrix:\n  fault: [pod-kill]\n  frequency: { often: { kind: fixed, intervalS: 60 } }\n  policy: [none, heuristic]\n`;

/** A store with one run per entry: its id, seeds and provenance, episodes for both policies. */
async function fixtureStore(
  name: string,
  runs: { runId: string; seeds: number[]; gitSha?: string; models?: Record<string, string>; shard?: string }[],
): Promise<string> {
  const db = join(root, `${name}.duckdb`);
  const store = await TraceStore.open(db);
  for (const [i, r] of runs.entries()) {
    await store.beginRun(
      makeRunContext({
        runId: r.runId,
        scenarioName: "stored",
        scenarioText: SCENARIO_TEXT,
        argv: ["run", "stored.yaml"],
        seeds: r.seeds,
        gitSha: r.gitSha ?? null,
        modelChecksums: r.models ?? {},
        shard: r.shard ?? null,
        startedAt: new Date(Date.UTC(2025, 0, 1, 0, i)),
      }),
    );
    for (const policy of ["none", "heuristic"]) {
      for (const seed of r.seeds) {
        await store.writeEpisode(r.runId, makeMeta({ policy, seed, frequency: "often" }), makeTrace(10));
      }
    }
    await store.finishRun(r.runId, "completed");
  }
  await store.close();
  return db;
}

describe("read-only commands never create a database", { timeout: SPAWN_TEST_MS }, () => {
  it("a missing --db is exit 2 naming its path, for runs, metrics, report, compare and export", async () => {
    const missing = join(root, "missing.duckdb");
    for (const args of [
      ["runs", "--db", missing],
      ["metrics", "--db", missing],
      ["report", "--db", missing],
      ["compare", "--db", missing],
      ["export", "--db", missing, "--parquet", join(root, "pq-missing")],
    ]) {
      const r = await harness(...args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.firstError).toBe(`No trace store at ${missing} (--db): the file does not exist`);
      expect(existsSync(missing)).toBe(false);
    }
  });

  it("an unknown --run is exit 2 naming the runs there are (metrics, export)", async () => {
    const db = await fixtureStore("two-runs", [
      { runId: "r1", seeds: [1] },
      { runId: "r2", seeds: [1] },
    ]);
    const r = await harness("metrics", "--db", db, "--run", "nosuch");
    expect(r.code).toBe(2);
    expect(r.firstError).toBe(`No run nosuch in ${db}; it holds: r1, r2`);
    const e = await harness("export", "--db", db, "--run", "nosuch", "--parquet", join(root, "pq-nosuch"));
    expect(e.code).toBe(2);
    expect(e.firstError).toMatch(/^No run nosuch in .*; it holds: r1, r2$/);
  });
});

describe("a --db that is no trace store is one line, not a stack", { timeout: SPAWN_TEST_MS }, () => {
  it("a text file, a directory and a truncated database are exit 2; a lock held by another process is exit 1", async () => {
    const text = join(root, "text.duckdb");
    writeFileSync(text, "not a database\n");
    const dir = join(root, "dir.duckdb");
    mkdirSync(dir, { recursive: true });
    const good = await fixtureStore("good", [{ runId: "r1", seeds: [1] }]);
    const truncated = join(root, "truncated.duckdb");
    writeFileSync(truncated, readFileSync(good).subarray(0, 20_000));

    const t = await harness("runs", "--db", text);
    expect([t.code, t.firstError]).toEqual([
      2,
      expect.stringMatching(/text\.duckdb.*not a valid DuckDB database file/),
    ]);
    const d = await harness("metrics", "--db", dir);
    expect([d.code, d.firstError]).toEqual([2, `${dir} (--db) is a directory; expected a DuckDB file`]);
    const rd = await harness("run", SMOKE, "--db", dir);
    expect([rd.code, rd.firstError]).toEqual([2, `--db ${dir} is a directory; expected a DuckDB file`]);
    const tr = await harness("runs", "--db", truncated);
    expect(tr.code).toBe(2);
    expect(tr.firstError).toMatch(/truncated\.duckdb/);
    for (const r of [t, d, rd, tr]) expect(r.stderr).not.toMatch(/\n\s+at /);

    // This process holds the database open, as a second `harness run` would.
    const holder = await TraceStore.open(good);
    try {
      const l = await harness("runs", "--db", good);
      expect(l.code).toBe(1);
      expect(l.firstError).toMatch(
        new RegExp(
          `^${good.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is locked by another process \\(PID ${process.pid}\\)`,
        ),
      );
      expect(l.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      await holder.close();
    }
  });
});

describe("merge", { timeout: SPAWN_TEST_MS }, () => {
  it("refuses shards of one run cut into different N, and a missing source, before creating the target", async () => {
    const a = await fixtureStore("shard-1of2", [{ runId: "plan-x", seeds: [1], shard: "1/2" }]);
    const b = await fixtureStore("shard-2of3", [{ runId: "plan-x", seeds: [2], shard: "2/3" }]);
    const target = join(root, "merged.duckdb");
    const r = await harness("merge", target, a, b);
    expect(r.code).toBe(2);
    expect(r.firstError).toMatch(
      /^Cannot merge .*shard-2of3\.duckdb: run plan-x is shard 2\/3 there and 1\/2 in .*merged\.duckdb; shards of one run must be slices of the same N/,
    );
    // The first source went in before the second was refused; nothing of the second did.
    const store = await TraceStore.open(target);
    expect(await store.query("SELECT count(*) AS n FROM episodes")).toEqual([{ n: 2 }]);
    await store.close();

    const other = join(root, "merged-2.duckdb");
    const m = await harness("merge", other, a, join(root, "nosuch.duckdb"));
    expect(m.code).toBe(2);
    expect(m.firstError).toBe(
      `No trace store at ${join(root, "nosuch.duckdb")} (merge source): the file does not exist`,
    );
    expect(existsSync(other)).toBe(false);
  });

  it("prints one summary line, and JSON only with --json", async () => {
    const a = await fixtureStore("quiet-1of2", [{ runId: "plan-q", seeds: [1], shard: "1/2" }]);
    const b = await fixtureStore("quiet-2of2", [{ runId: "plan-q", seeds: [2], shard: "2/2" }]);
    const target = join(root, "quiet.duckdb");
    const r = await harness("merge", target, a, b);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`merged 2 file(s) into ${target}: 4 episodes added, 0 already there\n`);
    const j = await harness("merge", target, a, "--json");
    expect(JSON.parse(j.stdout)).toMatchObject({ episodesAdded: 0, episodesSkipped: 2, partialRuns: [] });
  });

  it("warns when a run still lacks shards after the merge", async () => {
    const a = await fixtureStore("lone-1of3", [{ runId: "plan-l", seeds: [1], shard: "1/3" }]);
    const r = await harness("merge", join(root, "lone.duckdb"), a);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/run plan-l holds shards 1\/3 only \(missing 2\/3, 3\/3\)/);
  });
});

describe("compare", { timeout: SPAWN_TEST_MS }, () => {
  it("refuses runs with no (cell, seed) pair unless --unpaired, which says so first", async () => {
    const db = await fixtureStore("unpaired", [
      { runId: "base", seeds: [1, 2] },
      { runId: "cand", seeds: [3, 4] },
    ]);
    const r = await harness("compare", "--db", db, "--gate", "candidate.uptime >= baseline.uptime");
    expect(r.code).toBe(2);
    expect(r.firstError).toMatch(/^No pairs to compare: runs base and cand share no episode .*pass --unpaired/);
    const u = await harness("compare", "--db", db, "--unpaired");
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout.split("\n")[0]).toMatch(/^UNPAIRED compare \(no common cell and seed/);
  });

  it("shows every provenance difference (git sha, model sha256) at the top", async () => {
    const db = await fixtureStore("provenance", [
      { runId: "old", seeds: [1, 2], gitSha: "aaaa111", models: { "models/m.onnx": "1".repeat(64) } },
      { runId: "new", seeds: [1, 2], gitSha: "bbbb222", models: { "models/m.onnx": "2".repeat(64) } },
    ]);
    const r = await harness("compare", "--db", db, "--out", join(root, "cmp-prov"));
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[1]).toBe("differs: git sha: aaaa111 -> bbbb222");
    expect(lines[2]).toBe(`differs: model models/m.onnx sha256: ${"1".repeat(64)} -> ${"2".repeat(64)}`);
    const md = readFileSync(join(root, "cmp-prov", "compare.md"), "utf8");
    expect(md.indexOf("models/m.onnx sha256")).toBeLessThan(md.indexOf("| run "));
  });
});

describe("export", { timeout: SPAWN_TEST_MS }, () => {
  it("--run exports one run; an existing file is not replaced without --overwrite", async () => {
    const db = await fixtureStore("export", [
      { runId: "r1", seeds: [1] },
      { runId: "r2", seeds: [1, 2] },
    ]);
    const out = join(root, "pq");
    const r = await harness("export", "--db", db, "--run", "r2", "--parquet", out);
    expect(r.code, r.stderr).toBe(0);
    const store = await TraceStore.open(db);
    try {
      const q = (t: string) => store.query(`SELECT count(*) AS n FROM read_parquet('${join(out, `${t}.parquet`)}')`);
      expect(await q("episodes")).toEqual([{ n: 4 }]);
      expect(await q("runs")).toEqual([{ n: 1 }]);
      expect(await q("steps")).toEqual([{ n: 40 }]);
    } finally {
      await store.close();
    }
    const again = await harness("export", "--db", db, "--parquet", out);
    expect(again.code).toBe(2);
    expect(again.firstError).toMatch(/runs\.parquet exists \(and \d+ more\); pass --overwrite to replace/);
    expect((await harness("export", "--db", db, "--parquet", out, "--overwrite")).code).toBe(0);
    const onFile = await harness("export", "--db", db, "--parquet", db);
    expect([onFile.code, onFile.firstError]).toEqual([
      2,
      `--parquet ${db} is a file; expected a folder for the Parquet files`,
    ]);
  });
});

describe("run refuses what cannot run, before creating a database", { timeout: SPAWN_TEST_MS }, () => {
  let dir: string;
  beforeAll(() => {
    dir = join(root, "scenarios");
    mkdirSync(dir, { recursive: true });
  });
  const scenario = (name: string, body: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `name: ${name}\nseeds: [1]\n${body}`);
    return file;
  };
  const MATRIX = "matrix:\n  fault: [pod-kill]\n  frequency: { f: { kind: fixed, intervalS: 60 } }\n";

  it("a cluster scenario whose kubeconfig is missing: the episode fails naming the file", async () => {
    const file = scenario(
      "cluster",
      `backend: cluster\ncluster: { namespace: demo, deployment: web, service: web, prometheusUrl: "http://127.0.0.1:9", allowedNamespaces: [demo], kubeconfig: ${dir}/missing-kubeconfig }\n${MATRIX}  policy: [none]\n`,
    );
    const r = await harness("run", file, "--db", join(root, "cluster.duckdb"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cluster\.kubeconfig .*missing-kubeconfig: ENOENT/);
  });

  it("--dry-run on a backend other than cluster, before creating a database", async () => {
    const file = scenario("drysim", `${MATRIX}  policy: [none]\n`);
    const db = join(root, "drysim.duckdb");
    const r = await harness("run", file, "--db", db, "--dry-run");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--dry-run applies to backend cluster only \(this scenario's backend is sim\)/);
    expect(existsSync(db)).toBe(false);
  });

  it("an rl model that does not load stops the run before any episode (missing, or not ONNX)", async () => {
    const missing = scenario(
      "nomodel",
      `${MATRIX}  policy: [none, { name: rl, params: { model: ${dir}/none.onnx } }]\n`,
    );
    const db = join(root, "nomodel.duckdb");
    const r = await harness("run", missing, "--db", db);
    expect(r.code).toBe(2);
    expect(r.firstError).toMatch(/^rl: model file .*none\.onnx not found/);
    expect(existsSync(db)).toBe(false);

    writeFileSync(join(dir, "junk.onnx"), "not a model");
    const junk = scenario(
      "junkmodel",
      `${MATRIX}  policy: [none, { name: rl, params: { model: ${dir}/junk.onnx } }]\n`,
    );
    const j = await harness("run", junk, "--db", db);
    expect(j.code).toBe(2);
    expect(j.firstError).toMatch(/junk\.onnx/);
    expect(j.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(db)).toBe(false);
  });

  it("steps and intervals beyond what a run can hold, at their lines", async () => {
    const file = scenario(
      "bounds",
      "steps: 1000000000000\nmatrix:\n  fault: [pod-kill]\n  frequency: { f: { kind: fixed, intervalS: 0.001 } }\n  policy: [none]\n",
    );
    const r = await harness("run", file, "--db", join(root, "bounds.duckdb"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/✖ Expected a number <= 100000, got 1000000000000 → at steps \(.*bounds\.yaml:3:8\)/);
    const small = scenario(
      "intervals",
      "matrix:\n  fault: [pod-kill]\n  frequency: { f: { kind: poisson, meanIntervalS: 1e-9 } }\n  policy: [none]\n",
    );
    const s = await harness("run", small, "--db", join(root, "bounds.duckdb"));
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/✖ Expected meanIntervalS >= 0\.0400 s .* → at matrix\.frequency\.f\.meanIntervalS/);
    expect(existsSync(join(root, "bounds.duckdb"))).toBe(false);
  });

  it("--jobs above the cores and the episodes is capped, and says so", async () => {
    const r = await harness("run", SMOKE, "--db", join(root, "jobs.duckdb"), "--jobs", "1000");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--jobs 1000 capped at [1-4]: \d+ cores, 4 episodes to run/);
  });
});

describe("training never replaces a model file unasked", { timeout: SPAWN_TEST_MS }, () => {
  it("an existing --out is exit 2 before training starts, and the file is untouched", async () => {
    const model = join(root, "committed.onnx");
    copyFileSync(join(import.meta.dirname, "..", "models", "ppo-obs-v1.onnx"), model);
    const before = readFileSync(model);
    const r = await harness("train", "--out", model, "--total-timesteps", "64", "--n-envs", "1", "--db", "none");
    expect(r.code).toBe(2);
    expect(r.firstError).toBe(
      `${model} exists; pass --overwrite to replace it (and its card), or --out another file (the default, runs/models/<run id>.onnx, is always new)`,
    );
    expect(readFileSync(model).equals(before)).toBe(true);
    expect(r.stderr).not.toMatch(/update 1\//);
  });
});

describe("small things", { timeout: SPAWN_TEST_MS }, () => {
  it("--version, the command list, completion and help texts", async () => {
    const v = await harness("--version");
    expect([v.code, v.stdout.trim()]).toEqual([
      0,
      JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8")).version,
    ]);
    const none = await harness();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /Name a command: run, runs, metrics, report, compare, merge, plan, export, train, .* or completion/,
    );
    const c = await harness("completion");
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/###-begin-harness-completions-###/);
    const t = await harness("train", "--help");
    const help = t.stdout.replace(/\s+/g, " ");
    expect(help).not.toMatch(/RESUMABLE|null: none/);
    expect(help).toMatch(/--db none/);
    expect(help).toMatch(/only --total-timesteps, --threads, --out, --overwrite/);
    expect(help).toMatch(/--hidden .* \[default: 64 64\] \[array\]/);
  });

  it("human log lines with --log-format pretty; metrics keeps the scenario's order", async () => {
    const db = join(root, "pretty.duckdb");
    const r = await harness("run", SMOKE, "--db", db, "--jobs", "1", "--log-format", "pretty");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d INFO {2}run started {2}runId=ci-smoke-/m);
    expect(r.stderr).not.toMatch(/"level"/);
    const m = await harness("metrics", "--db", db);
    const policies = m.stdout
      .split("\n")
      .filter((l) => l.startsWith("pod-kill"))
      .map((l) => l.split(/\s+/)[2]);
    expect(policies).toEqual(["none", "heuristic"]);
  });
});

describe("Ctrl-C twice", { timeout: SPAWN_TEST_MS }, () => {
  it("stops at once with exit 130 and a run recorded interrupted, even while the threads start", async () => {
    const db = join(root, "sigint.duckdb");
    const quickstart = join(import.meta.dirname, "..", "scenarios", "quickstart.yaml");
    const child = spawn(process.execPath, [CLI, "run", quickstart, "--db", db], { cwd: root, stdio: "pipe" });
    let stderr = "";
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    await new Promise<void>((resolve) => {
      child.stderr.on("data", (d) => {
        stderr += String(d);
        if (stderr.includes("run started")) resolve();
      });
      child.once("close", () => resolve());
    });
    // The user's two key presses, 50 ms apart, while the worker threads load their modules.
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    expect(await closed, stderr).toBe(130);
    expect(stderr).not.toMatch(/FATAL|Aborted|terminate called/);
    const store = await TraceStore.open(db);
    try {
      expect((await store.listRuns()).map((r) => r.status)).toEqual(["interrupted"]);
    } finally {
      await store.close();
    }
  });
});

/** A 1.2 MB tmpfs, where the quickstart's store fills the disk; null where mounting is not allowed. */
function smallDisk(): string | null {
  const dir = join(root, "full");
  mkdirSync(dir, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1200k", "tmpfs", dir], { encoding: "utf8" });
  return r.status === 0 ? dir : null;
}

describe("a full disk", { timeout: SPAWN_TEST_MS }, () => {
  it("is exit 1 with one line naming the file, and the run is recorded failed (or complete, if every episode was committed)", async (ctx) => {
    // Mounted here, not at collection: a filtered or skipped run must not leave a mount behind.
    const disk = process.platform === "linux" && process.getuid?.() === 0 ? smallDisk() : null;
    if (disk === null) {
      ctx.skip();
      return;
    }
    try {
      // 120 episodes of 200 steps, several MB of store: the disk fills at a commit in the
      // middle of the run (on a fast machine it can fill only at the final checkpoint, after
      // the whole run was committed complete: then "completed" is the truth, checked below).
      const scenario = join(root, "full-disk.yaml");
      writeFileSync(
        scenario,
        "name: full-disk\nseeds: { count: 20, start: 1 }\nsteps: 200\nmatrix:\n  fault: [pod-kill, cpu-stress]\n  frequency: { f: { kind: fixed, intervalS: 120 } }\n  policy: [none, heuristic, hpa]\n",
      );
      const db = join(disk, "q.duckdb");
      const r = await harness("run", scenario, "--db", db);
      expect(r.code).toBe(1);
      expect(r.firstError).toMatch(/q\.duckdb.*No space left on device \(the disk is full/);
      // Read a copy: the full disk has no room for the views opening a store writes.
      const copy = join(root, "full-copy.duckdb");
      copyFileSync(db, copy);
      if (existsSync(`${db}.wal`)) copyFileSync(`${db}.wal`, `${copy}.wal`);
      const store = await TraceStore.open(copy);
      try {
        const runs = await store.listRuns();
        expect(runs).toHaveLength(1);
        // Never a claim the store does not hold: "completed" only with every episode in it.
        if (runs[0]!.status === "completed") expect(runs[0]!.completedEpisodes).toBe(120);
        else expect(runs[0]!.status).toBe("failed");
      } finally {
        await store.close();
      }
    } finally {
      spawnSync("umount", [disk]);
    }
  });
});
