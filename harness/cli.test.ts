import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./store-fixtures.ts";

const root = tempDir("cli-test-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const CLI = join(import.meta.dirname, "..", "scripts", "harness.mjs");
const SMOKE = join(import.meta.dirname, "..", "scenarios", "ci-smoke.yaml");

function harness(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: root, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("harness CLI", () => {
  it("run prints the per-cell table on stdout and keeps logs on stderr; metrics --json is machine-readable", () => {
    const db = join(root, "smoke.duckdb");
    const run = harness("run", SMOKE, "--db", db, "--jobs", "2");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^run ci-smoke-\S+ -> /);
    expect(run.stdout).toMatch(/pod-kill\s+fast\s+heuristic\s+2\s+[01](\.\d{3})?\s/);
    expect(run.stdout).not.toMatch(/"level"/);
    expect(run.stderr).toMatch(/"msg":"run finished"/);

    const metrics = harness("metrics", "--db", db, "--json");
    expect(metrics.code, metrics.stderr).toBe(0);
    const rows = JSON.parse(metrics.stdout) as { policy: string; episodes: number; uptimeMean: number }[];
    expect(rows.map((r) => r.policy).sort()).toEqual(["heuristic", "none"]);
    expect(rows.every((r) => r.episodes === 2 && r.uptimeMean >= 0 && r.uptimeMean <= 1)).toBe(true);

    const runs = harness("runs", "--db", db, "--json");
    expect(JSON.parse(runs.stdout)).toHaveLength(1);

    const out = join(root, "parquet");
    const exported = harness("export", "--db", db, "--parquet", out);
    expect(exported.code, exported.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(
      expect.arrayContaining(["steps.parquet", "episodes.parquet", "cell_metrics.parquet"]),
    );
  });

  it("exits 2 on an invalid scenario, naming file, line, column and path", () => {
    const bad = join(root, "bad.yaml");
    writeFileSync(
      bad,
      "name: bad\nseeds: [1]\nmatrix:\n  fault: [pod-kill]\n  frequency: { f: { kind: fixed, intervalS: 60 } }\n  policy: [none, hpa, nosuch]\n",
    );
    const r = harness("run", bad, "--db", join(root, "bad.duckdb"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:6:\d+/);
    expect(r.stderr).toMatch(/matrix\.policy\[2\]/);
    expect(existsSync(join(root, "bad.duckdb"))).toBe(false);
  });

  it("exits 2 on a bad flag value, saying what was expected", () => {
    expect(harness("run", SMOKE, "--shard", "3/2").stderr).toMatch(/Expected --shard as i\/N/);
    expect(harness("run", SMOKE, "--shard", "3/2").code).toBe(2);
    const seeds = harness("run", SMOKE, "--seeds", "99", "--db", join(root, "x.duckdb"));
    expect(seeds.code).toBe(2);
    expect(seeds.stderr).toMatch(/Expected seed 99 to be one of the scenario's: 1, 2/);
    expect(harness("nosuch").code).toBe(2);
  });

  it("--help lists the commands with examples", () => {
    const r = harness("run", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--resume/);
    expect(r.stdout).toMatch(/Examples:/);
    expect(harness("--help").stdout).toMatch(/merge <target> <sources\.\.>/);
  });
});
