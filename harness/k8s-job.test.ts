/**
 * `harness plan --k8s-job`: the Indexed Job is valid for Kubernetes, and it computes what one
 * unsharded run computes. No cluster runs here, so its pods run as local processes, each
 * with what Kubernetes would give it: the ConfigMap's files in a folder, a shared folder for
 * the volume, `JOB_COMPLETION_INDEX` set, and `$(JOB_COMPLETION_INDEX)` expanded in its args.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseShard } from "./core/runs.ts";
import { JOB_PATHS, k8sJobObjects, k8sJobYaml } from "./k8s-job.ts";
import { TraceStore } from "./store.ts";
import { tempDir } from "./store-fixtures.ts";

const repo = join(import.meta.dirname, "..");
const root = tempDir("k8s-job-test-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SCENARIO = `name: sharded
steps: 40
seeds: { count: 3, start: 1 }
matrix:
  fault: [pod-kill, { type: cpu-stress, durationS: 60 }]
  frequency:
    often: { kind: fixed, intervalS: 120, offsetS: 30 }
  policy: [none, heuristic]
`;
const EPISODES = 2 * 3 * 2;

const options = (over: Partial<Parameters<typeof k8sJobObjects>[0]> = {}) => ({
  name: "matrix-sharded",
  namespace: "chaos-rl",
  image: "chaos-rl-harness:dev",
  shards: 3,
  scenarioFile: "scenarios/sharded.yaml",
  scenarioText: SCENARIO,
  backend: "sim",
  ...over,
});

// biome-ignore lint/suspicious/noExplicitAny: objects read back from YAML, checked field by field
type Obj = any;

describe("parseShard's Job form", () => {
  it("is shard JOB_COMPLETION_INDEX + 1 of N", () => {
    expect(parseShard("job/4", { JOB_COMPLETION_INDEX: "0" })).toEqual({ index: 1, count: 4 });
    expect(parseShard("job/4", { JOB_COMPLETION_INDEX: "3" })).toEqual({ index: 4, count: 4 });
  });

  it("refuses a missing, malformed or out-of-range index, naming the variable", () => {
    expect(() => parseShard("job/4", {})).toThrow(/JOB_COMPLETION_INDEX.*got none/);
    expect(() => parseShard("job/4", { JOB_COMPLETION_INDEX: "x" })).toThrow(/JOB_COMPLETION_INDEX.*"x"/);
    expect(() => parseShard("job/4", { JOB_COMPLETION_INDEX: "4" })).toThrow(/not below the shard count 4/);
  });
});

describe("k8sJobObjects", () => {
  const [config, job, merge] = k8sJobObjects(options()) as Obj[];

  it("is a ConfigMap, an Indexed Job and a suspended merge Job, valid for the Kubernetes schema", () => {
    new ConfigMap(config).validate();
    new Job(job).validate();
    new Job(merge).validate();
    expect(job.spec).toMatchObject({ completionMode: "Indexed", completions: 3, parallelism: 3 });
    expect(merge.spec.suspend).toBe(true);
    expect(config.data).toEqual({ "sharded.yaml": SCENARIO });
  });

  it("runs `harness run --shard job/N` into one file per index, and merges every index's file", () => {
    const args = job.spec.template.spec.containers[0].args as string[];
    expect(args.slice(0, 4)).toEqual(["run", `${JOB_PATHS.config}/sharded.yaml`, "--shard", "job/3"]);
    expect(args).toContain(`${JOB_PATHS.runs}/matrix-sharded/shard-$(JOB_COMPLETION_INDEX).duckdb`);
    expect(merge.spec.template.spec.containers[0].args).toEqual([
      "merge",
      `${JOB_PATHS.runs}/matrix-sharded/matrix.duckdb`,
      ...[0, 1, 2].map((k) => `${JOB_PATHS.runs}/matrix-sharded/shard-${k}.duckdb`),
    ]);
  });

  it("a broken Job is refused by the schema (the check can fail)", () => {
    const bad = structuredClone(job);
    bad.spec.completions = "3";
    expect(() => new Job(bad).validate()).toThrow(/spec\/completions/);
  });

  it("refuses what it cannot run: cluster and local scenarios, a bad name, no shards", () => {
    expect(() => k8sJobObjects(options({ backend: "cluster" }))).toThrow(/one deployment under test/);
    expect(() => k8sJobObjects(options({ backend: "local" }))).toThrow(/Prometheus and cgroups/);
    expect(() => k8sJobObjects(options({ name: "Matrix_1" }))).toThrow(/DNS label/);
    expect(() => k8sJobObjects(options({ shards: 0 }))).toThrow(/--shards/);
  });
});

/** Runs `node scripts/harness.mjs ...args`; resolves with the exit code and stderr. */
function harness(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, "scripts", "harness.mjs"), ...args], {
      cwd: repo,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code: code ?? -1, stderr }));
  });
}

/** Every step and event row of every episode, keyed by episode, in order: the whole trace. */
async function rows(db: string) {
  const s = await TraceStore.open(db);
  try {
    const steps = await s.query(
      `SELECT e.episode_key, st.* EXCLUDE (episode_id) FROM steps st JOIN episodes e USING (episode_id)
        ORDER BY e.episode_key, st.step`,
    );
    const events = await s.query(
      `SELECT e.episode_key, ev.* EXCLUDE (episode_id) FROM events ev JOIN episodes e USING (episode_id)
        ORDER BY e.episode_key, ev.seq`,
    );
    const episodes = await s.query(`SELECT episode_key, status, steps, fault_specs FROM episodes ORDER BY episode_key`);
    return { steps, events, episodes };
  } finally {
    await s.close();
  }
}

describe("the Indexed Job's pods, run here as local processes", { timeout: 600_000 }, () => {
  it("compute, once merged, the same rows as one unsharded run", async () => {
    const file = join(root, "job.yaml");
    writeFileSync(file, k8sJobYaml(options()));
    // What kubectl apply would read back.
    const [config, job, merge] = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS()) as Obj[];

    // The volumes: the ConfigMap's keys as files, and one shared folder (the PVC's root).
    const configDir = join(root, "config");
    const runsDir = join(root, "runs");
    mkdirSync(configDir);
    mkdirSync(runsDir);
    for (const [name, text] of Object.entries(config.data as Record<string, string>)) {
      writeFileSync(join(configDir, name), text);
    }
    const mount = (arg: string) => arg.replace(JOB_PATHS.config, configDir).replace(JOB_PATHS.runs, runsDir);
    // The kubelet's expansion of $(VAR) in args from the container's env.
    const expand = (arg: string, env: Record<string, string>) =>
      arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);

    const shardArgs = job.spec.template.spec.containers[0].args as string[];
    const shards = await Promise.all(
      Array.from({ length: job.spec.completions as number }, (_, k) => {
        const env = { JOB_COMPLETION_INDEX: String(k) };
        return harness(
          shardArgs.map((a) => mount(expand(a, env))),
          env,
        );
      }),
    );
    for (const [k, r] of shards.entries()) expect(r.code, `shard ${k}: ${r.stderr}`).toBe(0);

    const merged = await harness((merge.spec.template.spec.containers[0].args as string[]).map(mount));
    expect(merged.code, merged.stderr).toBe(0);

    const whole = join(root, "whole.duckdb");
    const unsharded = await harness(["run", join(configDir, "sharded.yaml"), "--db", whole, "--jobs", "2"]);
    expect(unsharded.code, unsharded.stderr).toBe(0);

    const a = await rows(join(runsDir, "matrix-sharded", "matrix.duckdb"));
    const b = await rows(whole);
    expect(a.episodes).toHaveLength(EPISODES);
    expect(a.episodes.every((e: Obj) => e.status === "completed")).toBe(true);
    expect(a.steps.length).toBe(b.steps.length);
    expect(a.steps.length).toBeGreaterThan(0);
    expect(a.episodes).toEqual(b.episodes);
    expect(a.steps).toEqual(b.steps);
    expect(a.events).toEqual(b.events);
  });
});
