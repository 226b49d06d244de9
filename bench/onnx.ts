/**
 * ONNX inference in process (the `rl` policy's cost per decision):
 *
 * - single-decision latency: `await policy.decide(state)` of the rl policy, 20,000 calls
 *   after a warm-up, on the SB3 fixture (batch axis fixed at 1) and on a 9-64-64-5 tanh
 *   MLP with a probabilities output (the shape of our own export); median and p99.
 *   Target: median <= 20 us (SB3's `predict` measured 80 us here).
 * - the same network through onnxruntime-node's native binding, which runs synchronously
 *   but is not public API: what a synchronous rl policy would cost (not used; see
 *   policies/README.md).
 * - batched throughput: `decideBatch` at batch 1,024 on the 9-64-64-5 MLP (dynamic batch
 *   axis), decisions/s, with 1 intra-op thread (the policy's setting) and with one per core.
 * - the controller loop with the simulator: episode steps/s with the rl policy against
 *   `none`, single thread, i.e. the price of an asynchronous decision per step.
 *
 *   node --import tsx bench/onnx.ts
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { runPlannedEpisode } from "../harness/episode.ts";
import { expandPlan } from "../harness/plan.ts";
import { parseScenario } from "../harness/scenario-file.ts";
import { createPolicy, preparePolicy } from "../policies/index.ts";
import { loadOnnxModel } from "../policies/onnx-model.ts";
import { buildMlpOnnx, readSb3Vectors, SB3_FIXTURES } from "../policies/onnx-test-models.ts";
import { testContext } from "../policies/test-helpers.ts";

export interface OnnxBenchOptions {
  /** Timed single decisions per model. @default 20_000 */
  readonly calls?: number;
  /** Untimed decisions first. @default 2_000 */
  readonly warmup?: number;
  /** Rows per batch. @default 1_024 */
  readonly batch?: number;
  /** Timed batches (the median is reported). @default 50 */
  readonly batches?: number;
  /** Episodes per policy in the loop figure. @default 40 */
  readonly episodes?: number;
}

export interface LatencyFigure {
  readonly label: string;
  readonly medianUs: number;
  readonly p99Us: number;
  readonly meanUs: number;
}

export interface OnnxBenchFigures {
  readonly latency: LatencyFigure[];
  /** null when the internal binding is not where this version of onnxruntime-node had it. */
  readonly nativeSync: LatencyFigure | null;
  readonly throughput: { readonly threads: number; readonly decisionsPerSecond: number; readonly batchMs: number }[];
  readonly loop: { readonly policy: string; readonly stepsPerSecond: number }[];
}

const quiet = { logger: { warn: () => {} } };

function stats(label: string, ns: BigInt64Array): LatencyFigure {
  const us = Array.from(ns, (x) => Number(x) / 1000).sort((a, b) => a - b);
  return {
    label,
    medianUs: us[Math.floor(us.length / 2)]!,
    p99Us: us[Math.floor(us.length * 0.99)]!,
    meanUs: us.reduce((a, b) => a + b, 0) / us.length,
  };
}

/** States to cycle through: the SB3 test vectors (real obs-v1 values). */
function benchStates(): Float32Array[] {
  return readSb3Vectors(SB3_FIXTURES.extractor).vectors.map((v) => Float32Array.from(v.observation));
}

async function policyLatency(label: string, model: string, o: Required<OnnxBenchOptions>): Promise<LatencyFigure> {
  await preparePolicy("rl", { model }, quiet);
  const policy = createPolicy("rl", { model }, testContext);
  const states = benchStates();
  const snapshot = null as never; // the rl policy reads only the state
  for (let i = 0; i < o.warmup; i++) await policy.decide(states[i % states.length]!, snapshot);
  const ns = new BigInt64Array(o.calls);
  for (let i = 0; i < o.calls; i++) {
    const t0 = process.hrtime.bigint();
    await policy.decide(states[i % states.length]!, snapshot);
    ns[i] = process.hrtime.bigint() - t0;
  }
  return stats(label, ns);
}

/** The native binding's synchronous `run` (onnxruntime-node/dist/binding.js): measured, not used. */
async function nativeSyncLatency(model: string, o: Required<OnnxBenchOptions>): Promise<LatencyFigure | null> {
  const ort = await import("onnxruntime-node");
  try {
    const require = createRequire(import.meta.url);
    const b = require("onnxruntime-node/dist/binding.js") as {
      initOrt(): void;
      binding: { InferenceSession: new () => NativeSession };
    };
    interface NativeSession {
      loadModel(path: string, options: object): void;
      run(feeds: object, fetches: object, options: object): object;
      readonly outputMetadata: { name: string }[];
      dispose(): void;
    }
    b.initOrt();
    const s = new b.binding.InferenceSession();
    s.loadModel(model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential" });
    const fetches = Object.fromEntries(s.outputMetadata.map((m) => [m.name, null]));
    const obs = new Float32Array(9);
    const feeds = { obs: new ort.Tensor("float32", obs, [1, 9]) };
    const states = benchStates();
    for (let i = 0; i < o.warmup; i++) s.run(feeds, fetches, {});
    const ns = new BigInt64Array(o.calls);
    for (let i = 0; i < o.calls; i++) {
      const t0 = process.hrtime.bigint();
      obs.set(states[i % states.length]!);
      s.run(feeds, fetches, {});
      ns[i] = process.hrtime.bigint() - t0;
    }
    s.dispose();
    return stats("9-64-64-5, native binding run (sync, internal)", ns);
  } catch {
    return null;
  }
}

async function batchThroughput(model: string, threads: number, o: Required<OnnxBenchOptions>) {
  const m = await loadOnnxModel(model, { ...quiet, threads });
  const states = Float32Array.from({ length: o.batch * 9 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  for (let i = 0; i < 5; i++) await m.decideBatch(states, o.batch);
  const ms: number[] = [];
  for (let i = 0; i < o.batches; i++) {
    const t0 = process.hrtime.bigint();
    await m.decideBatch(states, o.batch);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await m.dispose();
  ms.sort((a, b) => a - b);
  const batchMs = ms[Math.floor(ms.length / 2)]!;
  return { threads, batchMs, decisionsPerSecond: (o.batch / batchMs) * 1000 };
}

async function loopStepsPerSecond(model: string, episodes: number) {
  const text = `
name: onnx-bench
steps: 200
seeds: { start: 1, count: ${episodes} }
matrix:
  fault: [pod-kill, cpu-stress, load-spike]
  frequency: { busy: { kind: poisson, meanIntervalS: 120 } }
  policy: [none, { name: rl, params: { model: ${JSON.stringify(model)} } }]
`;
  const parsed = parseScenario(text, "onnx-bench.yaml");
  if (!parsed.success) throw new Error(JSON.stringify(parsed.errors));
  const scenario = parsed.data.scenario;
  const plan = expandPlan(scenario);
  await preparePolicy("rl", { model }, quiet);
  const out: { policy: string; stepsPerSecond: number }[] = [];
  for (const name of ["none", "rl"]) {
    const mine = plan.filter((e) => e.policy.name === name);
    await runPlannedEpisode(scenario, mine[0]!); // warm-up
    const t0 = process.hrtime.bigint();
    let steps = 0;
    for (const e of mine) {
      const r = await runPlannedEpisode(scenario, e);
      if (r.status !== "completed") throw new Error(`${e.key}: ${r.error}`);
      steps += r.trace.length;
    }
    out.push({ policy: name, stepsPerSecond: steps / (Number(process.hrtime.bigint() - t0) / 1e9) });
  }
  return out;
}

export async function benchOnnx(options: OnnxBenchOptions = {}): Promise<OnnxBenchFigures> {
  const o: Required<OnnxBenchOptions> = {
    calls: options.calls ?? 20_000,
    warmup: options.warmup ?? 2_000,
    batch: options.batch ?? 1_024,
    batches: options.batches ?? 50,
    episodes: options.episodes ?? 40,
  };
  const dir = mkdtempSync(join(tmpdir(), "onnx-bench-"));
  const mlp = join(dir, "mlp-9-64-64-5.onnx");
  writeFileSync(mlp, buildMlpOnnx({ outputs: ["probabilities", "value"], batch: "batch" }).bytes);
  const latency = [
    await policyLatency("SB3 extractor fixture (logits, batch 1), rl policy", SB3_FIXTURES.extractor, o),
    await policyLatency("9-64-64-5 MLP (probabilities), rl policy", mlp, o),
  ];
  const nativeSync = await nativeSyncLatency(mlp, o);
  const cores = availableParallelism();
  const throughput = [await batchThroughput(mlp, 1, o)];
  if (cores > 1) throughput.push(await batchThroughput(mlp, cores, o));
  const loop = await loopStepsPerSecond(SB3_FIXTURES.extractor, o.episodes);
  return { latency, nativeSync, throughput, loop };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Runs the bench and prints its figures. */
export async function printOnnxBench(options: OnnxBenchOptions = {}): Promise<OnnxBenchFigures> {
  const calls = options.calls ?? 20_000;
  console.log(`onnx: onnxruntime-node in process, ${fmt(calls)} single decisions per model (target median <= 20 us)`);
  const f = await benchOnnx(options);
  const line = (l: LatencyFigure) =>
    console.log(
      `  ${l.label.padEnd(52)} median ${l.medianUs.toFixed(1).padStart(5)} us  p99 ${l.p99Us.toFixed(1).padStart(6)} us  mean ${l.meanUs.toFixed(1).padStart(5)} us`,
    );
  for (const l of f.latency) line(l);
  if (f.nativeSync) line(f.nativeSync);
  else console.log("  native binding run: n/a (internal API not found in this onnxruntime-node)");
  for (const t of f.throughput) {
    console.log(
      `  batch ${fmt(options.batch ?? 1024)}, ${t.threads} thread${t.threads > 1 ? "s" : ""}: ${fmt(t.decisionsPerSecond).padStart(11)} decisions/s (${t.batchMs.toFixed(2)} ms per batch, median)`,
    );
  }
  const none = f.loop.find((l) => l.policy === "none")!.stepsPerSecond;
  for (const l of f.loop) {
    const per = l.policy === "none" ? "" : `  (+${((1 / l.stepsPerSecond - 1 / none) * 1e6).toFixed(1)} us per step)`;
    console.log(`  loop + simulator, ${l.policy.padEnd(4)}: ${fmt(l.stepsPerSecond).padStart(9)} steps/s${per}`);
  }
  return f;
}

if (import.meta.url === `file://${process.argv[1]}`) await printOnnxBench();
