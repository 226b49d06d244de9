import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { SimBackend } from "../../sim/backend.ts";
import { Action, type Policy } from "../core/contract.ts";
import { guardLimitsSchema } from "../core/guard.ts";
import { OPEN_EPISODE, TraceStore } from "../store.ts";
import { type LongRunOptions, runLongRunning } from "./long-run.ts";
import { pacedSim } from "./paced-sim.ts";
import { controllerMeta, controllerRunContext } from "./records.ts";
import { readState } from "./state.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "long-run-"));
  dirs.push(d);
  return d;
}

const always = (action: Action): Policy => ({ name: "always", decide: () => ({ action, confidence: 1 }) });

/** Runs the long-running loop on the simulator until `stopAfter` steps, then aborts it as SIGTERM would. */
async function runFor(
  store: TraceStore,
  stopAfter: number,
  over: Partial<LongRunOptions> & { stateFile: string; guard?: object },
): Promise<{ steps: { step: number; reason: string; message: string; executed: number }[]; events: string[] }> {
  const ac = new AbortController();
  const steps: { step: number; reason: string; message: string; executed: number }[] = [];
  const events: string[] = [];
  await runLongRunning({
    store,
    runId: "r",
    meta: controllerMeta("r"),
    backend: new SimBackend({ seed: 1 }),
    policy: always(Action.ScaleUp),
    fallback: null,
    limits: guardLimitsSchema.parse(over.guard ?? {}),
    slo: { latencyMs: 300, errorRate: 0.01, confirmWindowS: 30 },
    stepSeconds: 10,
    codec: { maxReplicas: 10, episodeSeconds: 600 },
    clockOriginMs: () => 0,
    signal: ac.signal,
    batchSteps: 2,
    sinks: [
      {
        onStep: (r) => {
          steps.push({ step: r.step, reason: r.reason, message: r.message, executed: r.executed });
          if (r.step + 1 >= stopAfter) ac.abort();
        },
        onEvent: (e) => events.push(`${e.kind}: ${e.detail}`),
      },
    ],
    ...over,
  });
  return { steps, events };
}

describe("long-running mode", () => {
  it("runs without a step limit until aborted and streams every step into one episode", async () => {
    const dir = tempDir();
    const store = await TraceStore.open(join(dir, "t.duckdb"));
    try {
      await store.beginRun(controllerRunContext("r"));
      const r = await runFor(store, 25, { stateFile: join(dir, "state.json"), guard: { minIntervalS: 0 } });
      expect(r.steps).toHaveLength(25);
      const [ep] = await store.query("SELECT status, error, steps FROM episodes");
      expect(ep).toEqual({ status: "completed", error: null, steps: 25 });
      const [rows] = await store.query("SELECT count(*) AS n, max(step) AS last FROM steps");
      expect(rows).toEqual({ n: 25, last: 24 });
    } finally {
      await store.close();
    }
  });

  it("resumes the guard's minimum interval after a restart from the persisted state", async () => {
    const dir = tempDir();
    const stateFile = join(dir, "state.json");
    const store = await TraceStore.open(join(dir, "t.duckdb"));
    try {
      await store.beginRun(controllerRunContext("r"));
      // First process: the clock's origin is Unix 1,000 s; it scales up at once (t = 0).
      const first = await runFor(store, 1, { stateFile, clockOriginMs: () => 1_000_000, guard: { minIntervalS: 60 } });
      expect(first.steps[0]).toMatchObject({ executed: Action.ScaleUp, reason: "Allowed" });
      expect(readState(stateFile).lastActionAtMs).toBe(1_000_000);
      // Second process, started 20 s later (another origin): 20 s since the action, then 30, ...
      const second = await runFor(store, 6, { stateFile, clockOriginMs: () => 1_020_000, guard: { minIntervalS: 60 } });
      expect(second.steps.map((s) => s.reason)).toEqual([
        "MinInterval",
        "MinInterval",
        "MinInterval",
        "MinInterval",
        "Allowed",
        "MinInterval",
      ]);
      expect(second.steps[0]!.message).toContain("20 s since the last action, minimum is 60 s");
      expect(readState(stateFile).lastActionAtMs).toBe(1_020_000 + 40_000);
      // Two episodes in the one run, one per process lifetime.
      const eps = await store.query("SELECT steps, status FROM episodes ORDER BY episode_id");
      expect(eps).toEqual([
        { steps: 1, status: "completed" },
        { steps: 6, status: "completed" },
      ]);
    } finally {
      await store.close();
    }
  });

  it("queues approvals without stalling: observation goes on, and an approval runs at a later step", async () => {
    const dir = tempDir();
    const stateFile = join(dir, "state.json");
    const store = await TraceStore.open(join(dir, "t.duckdb"));
    try {
      await store.beginRun(controllerRunContext("r"));
      let approveAt = -1;
      const origin = Date.now();
      const ac = new AbortController();
      const steps: { reason: string; executed: number; message: string }[] = [];
      await runLongRunning({
        store,
        runId: "r",
        meta: controllerMeta("r"),
        backend: pacedSim({ seed: 1 }),
        policy: always(Action.ScaleUp),
        fallback: null,
        limits: guardLimitsSchema.parse({ mode: "approve", minIntervalS: 0 }),
        slo: { latencyMs: 300, errorRate: 0.01, confirmWindowS: 30 },
        stepSeconds: 10,
        codec: { maxReplicas: 10, episodeSeconds: 600 },
        clockOriginMs: () => origin,
        signal: ac.signal,
        stateFile,
        onReady: ({ approvals }) => {
          // The person answers while the loop keeps stepping: after step 3 is recorded.
          const poll = setInterval(() => {
            if (steps.length >= 4 && approveAt < 0) {
              approveAt = steps.length;
              approvals.approve(approvals.open()[0]!.id, "test");
            }
          }, 1);
          ac.signal.addEventListener("abort", () => clearInterval(poll));
        },
        sinks: [
          {
            onStep: (r) => {
              steps.push({ reason: r.reason, executed: r.executed, message: r.message });
              if (steps.length >= 40) ac.abort();
            },
          },
        ],
      });
      // Requests were awaiting approval while the loop went on (one request, not one per step).
      expect(steps.slice(0, 4).every((s) => s.reason === "AwaitingApproval")).toBe(true);
      const ran = steps.findIndex((s) => s.executed === Action.ScaleUp);
      expect(ran).toBeGreaterThanOrEqual(approveAt);
      expect(steps[ran]!.message).toMatch(/approved request 1/);
      const state = readState(stateFile);
      expect(state.approvals[0]).toMatchObject({ id: "1", status: "executed", decidedBy: "test" });
    } finally {
      await store.close();
    }
  });

  it("a crash mid-run loses at most the uncommitted batches; every committed step is stored", async () => {
    const dir = tempDir();
    const db = join(dir, "t.duckdb");
    const batch = 20;
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        fileURLToPath(new URL("./long-run-child.ts", import.meta.url)),
        db,
        String(batch),
        join(dir, "state.json"),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    let lastStep = -1;
    let committed = 0;
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
      child.stdout!.on("data", (d) => {
        out += String(d);
        const lines = out.split("\n");
        out = lines.pop()!;
        for (const l of lines) {
          const [what, n] = l.split(" ");
          if (what === "step") lastStep = Number(n);
          if (what === "committed") committed = Number(n);
        }
        // Mid-run: three batches committed, the fourth filling.
        if (committed >= 3 * batch && lastStep % batch > batch / 2) {
          child.removeAllListeners("exit");
          child.kill("SIGKILL");
          child.once("exit", () => resolve());
        }
      });
    });
    const store = await TraceStore.open(db);
    try {
      const [ep] = await store.query("SELECT status, error, steps FROM episodes");
      // Never closed: the row says so, and counts what was committed.
      expect(ep).toMatchObject({ status: "aborted", error: OPEN_EPISODE });
      const [s] = await store.query("SELECT count(*) AS n, count(DISTINCT step) AS d, max(step) AS last FROM steps");
      const n = s!.n as number;
      // A contiguous prefix of whole batches, holding every step reported committed.
      expect(s!.d).toBe(n);
      expect(s!.last).toBe(n - 1);
      expect(n % batch).toBe(0);
      expect(n).toBeGreaterThanOrEqual(committed);
      expect(ep!.steps).toBe(n);
      // Lost: the batch being filled and at most one being written.
      expect(lastStep + 1 - n).toBeLessThan(2 * batch);
    } finally {
      await store.close();
    }
  }, 120_000);
});
