/**
 * `npm run bench` (node --expose-gc --import tsx bench/index.ts): every benchmark, in
 * turn, printing figures. Targets are checked by reading the figures, never in tests.
 * The matrix bench runs first so that its peak RSS is not the other benches' high-water mark.
 *
 *   sim     SimEnv steps/s for 3 and 10 pods, heap growth over 1M steps   (target >= 1M steps/s, 10 pods)
 *   matrix  full-matrix.yaml end to end: wall time and peak RSS           (target <= 20 s, < 1 GB)
 *   loop    controller loop per step vs SimEnv.step directly              (target < 2x)
 *   store   steps rows/s through the DuckDB appender, fresh and steady    (target >= 1M rows/s steady)
 *   train   PPO env-steps/s incl. updates, 1 and 8 envs                   (target >= 4,400 / 4,800)
 *   report  full-matrix report (1,800 episodes): stats, charts, HTML, MD  (target < 10 s)
 *   onnx    rl decision latency (median, p99) and batch-1,024 decisions/s (target median <= 20 us)
 *   collector  PromQL collector latency per observation, real Prometheus, 10 pods (target p99 <= 20 ms)
 *   agent   agent service over HTTP (wrk, loopback): /predict req/s with keep-alive, p50/p99 at
 *           2,000 req/s, /predict/batch decisions/s (target >= 10,000/s, p99 <= 2 ms, >= 200,000/s).
 *           A child process and wrk: not part of the default set, run it by name.
 *   testbed local backend: harness work per step and collector per observation with 10
 *           replicas (target p99 <= 50 ms / 20 ms), load generator accuracy (within 2% to 2,000 rps).
 *           Real processes and Prometheus: not part of the default set, run it by name.
 */
import { printAgentBench } from "./agent.ts";
import { printCollectorBench } from "./collector.ts";
import { printLoopBench } from "./loop.ts";
import { printMatrixBench } from "./matrix.ts";
import { printOnnxBench } from "./onnx.ts";
import { printReportBench } from "./report.ts";
import { printSimBench } from "./sim.ts";
import { printStoreBench } from "./store.ts";
import { printTestbedBench } from "./testbed.ts";
import { printTrainBench } from "./train.ts";

const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);

if (want("matrix")) await printMatrixBench();
if (want("sim")) printSimBench();
if (want("loop")) await printLoopBench();
if (want("store")) await printStoreBench();
if (want("report")) await printReportBench();
if (want("onnx")) await printOnnxBench();
if (want("train")) await printTrainBench();
if (want("collector")) await printCollectorBench();
// Minutes of real processes: only when named.
if (only.includes("testbed")) await printTestbedBench();
if (only.includes("agent")) await printAgentBench();
