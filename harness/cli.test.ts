import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, SPAWN_TEST_MS } from "./cli-spawn.ts";
import { TraceStore } from "./store.ts";
import { makeMeta, makeRunContext, makeTrace, tempDir } from "./store-fixtures.ts";

const root = tempDir("cli-test-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const SMOKE = join(import.meta.dirname, "..", "scenarios", "ci-smoke.yaml");

const harness = (...args: string[]) => runCli(args, { cwd: root });

// Each test spawns the CLI a few times: generous timeouts, so a busy machine is slow, not red.
describe("harness CLI", { timeout: SPAWN_TEST_MS }, () => {
  it("run prints the per-cell table on stdout and keeps logs on stderr; metrics --json is machine-readable", async () => {
    const db = join(root, "smoke.duckdb");
    const run = await harness("run", SMOKE, "--db", db, "--jobs", "2");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^run ci-smoke-\S+ -> /);
    expect(run.stdout).toMatch(/pod-kill\s+fast\s+heuristic\s+2\s+[01](\.\d{3})?\s/);
    // Cells in the order the file lists them (none, then heuristic), not alphabetical.
    const cells = run.stdout.split("\n").filter((line) => line.startsWith("pod-kill "));
    expect(cells.map((line) => line.split(/\s+/)[2])).toEqual(["none", "heuristic"]);
    expect(run.stdout).not.toMatch(/"level"/);
    expect(run.stderr).toMatch(/"msg":"run finished"/);

    const metrics = await harness("metrics", "--db", db, "--json");
    expect(metrics.code, metrics.stderr).toBe(0);
    const rows = JSON.parse(metrics.stdout) as { policy: string; episodes: number; uptimeMean: number }[];
    expect(rows.map((r) => r.policy).sort()).toEqual(["heuristic", "none"]);
    expect(rows.every((r) => r.episodes === 2 && r.uptimeMean >= 0 && r.uptimeMean <= 1)).toBe(true);

    const runs = await harness("runs", "--db", db, "--json");
    expect(JSON.parse(runs.stdout)).toHaveLength(1);

    const out = join(root, "parquet");
    const exported = await harness("export", "--db", db, "--parquet", out);
    expect(exported.code, exported.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(
      expect.arrayContaining(["steps.parquet", "episodes.parquet", "cell_metrics.parquet"]),
    );
  });

  it("exits 2 on an invalid scenario, naming file, line, column and path", async () => {
    const bad = join(root, "bad.yaml");
    writeFileSync(
      bad,
      "name: bad\nseeds: [1]\nmatrix:\n  fault: [pod-kill]\n  frequency: { f: { kind: fixed, intervalS: 60 } }\n  policy: [none, hpa, nosuch]\n",
    );
    const r = await harness("run", bad, "--db", join(root, "bad.duckdb"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:6:\d+/);
    expect(r.stderr).toMatch(/matrix\.policy\[2\]/);
    expect(existsSync(join(root, "bad.duckdb"))).toBe(false);
  });

  it("exits 2 on a bad flag value, saying what was expected", async () => {
    expect((await harness("run", SMOKE, "--shard", "3/2")).stderr).toMatch(/Expected --shard as i\/N/);
    expect((await harness("run", SMOKE, "--shard", "3/2")).code).toBe(2);
    const seeds = await harness("run", SMOKE, "--seeds", "99", "--db", join(root, "x.duckdb"));
    expect(seeds.code).toBe(2);
    expect(seeds.stderr).toMatch(/Expected seed 99 to be one of the scenario's: 1, 2/);
    expect((await harness("nosuch")).code).toBe(2);
  });

  it("--help lists the commands with examples", async () => {
    const r = await harness("run", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--resume/);
    expect(r.stdout).toMatch(/Examples:/);
    expect((await harness("--help")).stdout).toMatch(/merge <target> <sources\.\.>/);
  });
});

/** ci-smoke.yaml with other gates: the matrix is none and heuristic on pod-kill/fast. */
function smokeWithGates(name: string, gates: string[]): string {
  const file = join(root, `${name}.yaml`);
  const text = readFileSync(SMOKE, "utf8");
  writeFileSync(file, `${text}\ngates:\n${gates.map((g) => `  - "${g}"`).join("\n")}\n`);
  return file;
}

describe("harness report, run --report and compare", { timeout: SPAWN_TEST_MS }, () => {
  it("run --report writes the report beside the database and exits 0 when every gate passes", async () => {
    const scenario = smokeWithGates("gates-pass", ["heuristic.uptime >= 0", "paired(heuristic, none).uptime.n == 2"]);
    const db = join(root, "gates", "pass.duckdb");
    const r = await harness("run", scenario, "--db", db, "--jobs", "1", "--report");
    expect(r.code, r.stderr).toBe(0);
    const out = join(root, "gates", "ci-smoke-report");
    expect(r.stdout).toContain(`-> ${join(out, "index.html")}`);
    expect(r.stdout).toMatch(/gates: 2 of 2 passed/);
    expect(r.stdout).toMatch(/PASS {2}heuristic\.uptime >= 0 .*gates-pass\.yaml:\d+:\d+/);
    expect(readdirSync(join(out, "charts"))).toEqual(expect.arrayContaining(["mttr.svg", "mttr.png", "mttr.vl.json"]));
    expect(readFileSync(join(out, "report.md"), "utf8")).toMatch(/^# Report: ci-smoke/);
  });

  it("report exits 1 when a gate fails, printing the measured value; run without --report does not judge", async () => {
    const scenario = smokeWithGates("gates-fail", ["heuristic.uptime > 1", "none.uptime >= 0"]);
    const db = join(root, "fail.duckdb");
    expect((await harness("run", scenario, "--db", db, "--jobs", "1")).code).toBe(0);
    const junit = join(root, "fail-junit.xml");
    const r = await harness(
      "report",
      "--db",
      db,
      "--out",
      join(root, "fail-report"),
      "--no-png",
      "--resamples",
      "200",
      "--junit",
      junit,
    );
    expect(r.code, r.stderr).toBe(1);
    // The failed gate is a JUnit failure naming the gate's file and line; the passed one is not.
    const xml = readFileSync(junit, "utf8");
    expect(xml).toMatch(/<testsuites name="harness" tests="2" failures="1"/);
    expect(xml).toMatch(
      /<testcase name="heuristic\.uptime &gt; 1" classname="ci-smoke\.gates" file="[^"]*gates-fail\.yaml" line="\d+">\n\s+<failure message="heuristic\.uptime &gt; 1: [\d.]+ &gt; 1 is false/,
    );
    expect(r.stdout).toMatch(/gates: 1 of 2 passed/);
    expect(r.stdout).toMatch(
      /FAIL {2}heuristic\.uptime > 1 {4}[\d.]+ > 1 is false \(heuristic\.uptime = [\d.]+, n=2\)/,
    );
    expect(existsSync(join(root, "fail-report", "index.html"))).toBe(true);
    // Each stage is announced on stderr as it starts: load, statistics, every chart, write.
    const stages = r.stderr.match(/report: [^"\n]+/g) ?? [];
    expect(stages.slice(0, 3)).toEqual(["report: load", "report: statistics", "report: chart 1/5 (mttr)"]);
    expect(stages.at(-1)).toBe("report: write");
    const json = await harness("report", "--db", db, "--out", join(root, "fail-json"), "--no-png", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ passed: false, gates: [{ pass: false }, { pass: true }] });
  });

  it("a gate naming an unknown policy or metric is an input error (exit 2, with file:line) before anything runs", async () => {
    const scenario = smokeWithGates("gates-bad", ["heuristic.uptime >= 0", "rl.uptime >= 0.99"]);
    const db = join(root, "bad-gate.duckdb");
    const r = await harness("run", scenario, "--db", db);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown policy "rl"; the matrix has none, heuristic/);
    expect(r.stderr).toMatch(/gates-bad\.yaml:\d+:\d+/);
    expect(existsSync(db)).toBe(false);
  });

  it("report exits 2 on a bad gate in the scenario stored with the run, and on an unknown run", async () => {
    const db = join(root, "stored-bad.duckdb");
    const store = await TraceStore.open(db);
    const text = `name: stored\nseeds: [1, 2]\nmatrix:\n  fault: [pod-kill]\n  frequency: { often: { kind: fixed, intervalS: 60 } }\n  policy: [none, heuristic]\ngates:\n  - heuristic.uptme >= 0.5\n`;
    await store.beginRun(
      makeRunContext({ runId: "r1", scenarioName: "stored", scenarioText: text, argv: ["run", "stored.yaml"] }),
    );
    for (const policy of ["none", "heuristic"]) {
      for (const seed of [1, 2])
        await store.writeEpisode("r1", makeMeta({ policy, seed, frequency: "often" }), makeTrace(10));
    }
    await store.close();
    const r = await harness("report", "--db", db, "--no-png");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stored\.yaml:8:\d+/);
    expect(r.stderr).toMatch(/Unknown metric "uptme"/);
    const unknown = await harness("report", "--db", db, "--run", "nosuch");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No run nosuch in .*stored-bad\.duckdb; it holds: r1/);
  });

  it("compare reports no change between two runs of one scenario, and gates against the baseline", async () => {
    const db = join(root, "twice.duckdb");
    expect((await harness("run", SMOKE, "--db", db, "--jobs", "1")).code).toBe(0);
    expect((await harness("run", SMOKE, "--db", db, "--jobs", "1")).code).toBe(0);
    const out = join(root, "compare");
    // (ci-smoke's pod-kills break no SLO: there is no incident, so no MTTR to gate on.)
    const same = await harness("compare", "--db", db, "--out", out, "--gate", "candidate.cost <= baseline.cost * 1.05");
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/no significant change/);
    expect(same.stdout).toMatch(/gates: 1 of 1 passed/);
    expect(readFileSync(join(out, "compare.md"), "utf8")).toMatch(/^# Compare: ci-smoke/);
    const failing = await harness("compare", "--db", db, "--db", db, "--gate", "candidate.uptime > baseline.uptime");
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/FAIL .*none: .* is false/);
    const bad = await harness("compare", "--db", db, "--gate", "candidate.uptime > rl.uptime");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--gate "candidate\.uptime > rl\.uptime": Expected candidate or baseline/);
  });
});
