/**
 * The example CI workflow (.github/workflows/scenarios.yml) as GitHub would read it, and its
 * commands run as its runner would run them: a workflow that only looks right is caught
 * here, not on the first pull request. `npm ci` is the one step not run (it would replace
 * this checkout's node_modules); the GitHub-provided variables get temporary stand-ins.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { SPAWN_TEST_MS } from "../harness/cli-spawn.ts";
import { tempDir } from "../harness/store-fixtures.ts";

const ROOT = join(import.meta.dirname, "..");
const FILE = join(ROOT, ".github", "workflows", "scenarios.yml");

const stepSchema = z
  .object({
    name: z.string().optional(),
    uses: z.string().optional(),
    run: z.string().optional(),
    if: z.string().optional(),
    with: z.record(z.string(), z.unknown()).optional(),
    env: z.record(z.string(), z.string()).optional(),
  })
  .refine((s) => (s.uses === undefined) !== (s.run === undefined), { message: "a step has uses or run" });

const workflowSchema = z.object({
  name: z.string(),
  on: z.record(z.string(), z.unknown()),
  jobs: z.record(
    z.string(),
    z.object({
      "runs-on": z.string(),
      env: z.record(z.string(), z.string()).default({}),
      steps: z.array(stepSchema).min(1),
    }),
  ),
});

const out = tempDir("workflow-test-");
afterAll(() => rmSync(out, { recursive: true, force: true }));

function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-e", "-o", "pipefail", "-c", script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += String(d);
    });
    child.stderr.on("data", (d) => {
      output += String(d);
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

describe(".github/workflows/scenarios.yml", () => {
  const workflow = workflowSchema.parse(parse(readFileSync(FILE, "utf8")));
  const job = Object.values(workflow.jobs)[0]!;

  it("checks out, installs with npm ci on Node 20, runs a suite, and uploads the report even when a gate fails", () => {
    expect(Object.keys(workflow.on)).toEqual(expect.arrayContaining(["pull_request", "push"]));
    const uses = job.steps.map((s) => s.uses?.split("@")[0]);
    expect(uses).toEqual(expect.arrayContaining(["actions/checkout", "actions/setup-node", "actions/upload-artifact"]));
    expect(job.steps.find((s) => s.uses?.startsWith("actions/setup-node"))?.with?.["node-version"]).toBe(20);
    expect(job.steps.some((s) => s.run?.trim() === "npm ci")).toBe(true);
    const run = job.steps.find((s) => s.run?.includes("scripts/harness.mjs run"));
    expect(run?.run).toMatch(/--report .* --junit /);
    const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"));
    expect(upload?.if).toBe("always()");
  });

  it(
    "its commands run here: the suite passes its gates, writes the report, JUnit XML and the step summary",
    async () => {
      const env = { ...job.env, RUNNER_TEMP: out, GITHUB_STEP_SUMMARY: join(out, "summary.md") };
      for (const step of job.steps) {
        if (step.run === undefined || step.run.trim() === "npm ci") continue;
        const r = await bash(step.run, { ...env, ...step.env });
        expect(r.code, `${step.name ?? step.run}\n${r.output}`).toBe(0);
      }
      const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"))!;
      const paths = String(upload.with?.path)
        .split("\n")
        // GitHub's expression for the runner's temp folder, which the steps see as $RUNNER_TEMP.
        .map((p) => p.trim().replace(/\$\{\{ runner\.temp \}\}/g, out))
        .filter((p) => p !== "");
      for (const p of paths) expect(existsSync(p), p).toBe(true);
      expect(existsSync(join(out, "scenarios", "report", "index.html"))).toBe(true);

      const junit = readFileSync(join(out, "scenarios", "junit.xml"), "utf8");
      expect(junit).toMatch(/<testsuites name="harness" tests="4" failures="0"/);
      expect(
        junit.match(/<testcase name="[^"]+" classname="ci-suite\.gates" file="[^"]*ci-suite\.yaml" line="\d+">/g),
      ).toHaveLength(3);
      expect(readFileSync(join(out, "summary.md"), "utf8")).toMatch(/^# Report: ci-suite/);
    },
    SPAWN_TEST_MS,
  );
});
