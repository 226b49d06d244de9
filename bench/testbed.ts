/**
 * `npm run bench -- testbed`: what the local testbed costs the harness, and how true its load
 * generator is (issue 13's figures; never asserted in tests).
 *
 * - step: the controller loop's own work per step on `backend: local` with 10 replicas
 *   (collector query + decide + guard + execute + record; the wall-clock sleep excluded),
 *   p50/p99 over 60 steps of 1 s with the heuristic deciding. Target p99 <= 50 ms.
 * - collector: one observation (one PromQL round trip and the snapshot), p50/p99 of 200.
 *   Target p99 <= 20 ms.
 * - loadgen: achieved send rate and answered rate against the target, 500..2,000 rps for 5 s
 *   each against one demo-service process (its cheap /health route, so the server is not the
 *   limit). Target within 2% up to 2,000 rps.
 */
import { fork } from "node:child_process";
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LocalBackend } from "../cluster/local/backend.ts";
import { TrafficProcess } from "../cluster/local/traffic.ts";
import { createCollector } from "../cluster/prometheus/collector.ts";
import { guardLimitsSchema } from "../harness/core/guard.ts";
import { runEpisode } from "../harness/loop.ts";
import { TraceRecorder } from "../harness/trace.ts";
import { createPolicy } from "../policies/index.ts";

function pct(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

async function stepAndCollector(): Promise<void> {
  const stepS = 1;
  const steps = 60;
  const backend = await LocalBackend.open({
    deployment: { replicas: 10, cpuCores: 0.2, memoryMiB: 128, workMs: 1, startTimeoutMs: 120_000 },
    stepSeconds: stepS,
    rates: [50],
  });
  try {
    const costs: number[] = [];
    const wall = backend.clock;
    const gridSleep = wall.sleep.bind(wall);
    let stepStart = performance.now();
    // The loop's work is everything between two sleeps.
    wall.sleep = async (s: number) => {
      costs.push(performance.now() - stepStart);
      await gridSleep(s);
      stepStart = performance.now();
    };
    const limits = guardLimitsSchema.parse({ minIntervalS: 5, maxReplicas: 10 });
    const policy = createPolicy(
      "heuristic",
      {},
      { seed: 1, limits, stepSeconds: stepS, slo: { latencyMs: 300, errorRate: 0.05 } },
    );
    stepStart = performance.now();
    await runEpisode(
      {
        backend,
        policy,
        fallback: null,
        schedule: [],
        steps,
        stepSeconds: stepS,
        codec: { maxReplicas: 10, episodeSeconds: steps * stepS },
        limits,
        slo: { latencyMs: 300, errorRate: 0.05 },
        confirmWindowS: 4,
      },
      new TraceRecorder(steps),
    );
    console.log(
      `testbed step (10 replicas, ${costs.length} steps): harness work per step p50 ${pct(costs, 0.5).toFixed(1)} ms, p99 ${pct(costs, 0.99).toFixed(1)} ms (target p99 <= 50 ms)`,
    );
    const s = backend.testbed.supervisor;
    const collector = createCollector({
      url: backend.testbed.prometheus!.url,
      namespace: s.spec.namespace,
      deployment: s.spec.name,
      stepSeconds: stepS,
    });
    const lat: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await collector.observe();
      lat.push(performance.now() - t0);
    }
    console.log(
      `collector (10 replicas): per observation p50 ${pct(lat, 0.5).toFixed(1)} ms, p99 ${pct(lat, 0.99).toFixed(1)} ms (target p99 <= 20 ms)`,
    );
  } finally {
    await backend.close();
  }
}

async function loadgenAccuracy(): Promise<void> {
  const main = fileURLToPath(new URL("../cluster/service/main.ts", import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const server = fork(main, [], {
    execArgv: ["--import", tsx],
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve) =>
    server.stdout!.once("data", (d: Buffer) =>
      resolve((JSON.parse(d.toString().split("\n")[0]!) as { port: number }).port),
    ),
  );
  const gen = await TrafficProcess.start("loadgen", { url: `http://127.0.0.1:${port}/health` });
  try {
    for (const rps of [500, 1000, 2000]) {
      await gen.setRate(rps);
      await sleep(1000);
      await gen.takeWindow();
      await sleep(5000);
      const w = await gen.takeWindow();
      const sent = w.scheduled / w.seconds;
      const answered = w.completed / w.seconds;
      console.log(
        `loadgen ${rps} rps: sent ${sent.toFixed(0)} (${(((sent - rps) / rps) * 100).toFixed(2)}%), answered ${answered.toFixed(0)} (${(((answered - rps) / rps) * 100).toFixed(2)}%), errors ${w.errors}, p50 ${w.p50Ms.toFixed(1)} ms, p99 ${w.p99Ms.toFixed(1)} ms (target within 2%)`,
      );
    }
    await gen.setRate(0);
  } finally {
    await gen.stop();
    server.kill("SIGKILL");
  }
}

export async function printTestbedBench(): Promise<void> {
  await loadgenAccuracy();
  await stepAndCollector();
}
