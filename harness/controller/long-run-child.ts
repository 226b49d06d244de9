/**
 * For long-run.test.ts: a controller loop on the simulator that runs until it is killed,
 * streaming into the store given as argv[2] in batches of argv[3] steps, with a real
 * timer between steps (so a kill lands mid-run). Prints `step N` after every step and
 * `committed N` after every committed batch, so the test can kill it at a known point.
 */
import { seedReward } from "../../sim/reward.ts";
import { Action } from "../core/contract.ts";
import { guardLimitsSchema } from "../core/guard.ts";
import { TraceStore } from "../store.ts";
import { runLongRunning } from "./long-run.ts";
import { pacedSim } from "./paced-sim.ts";
import { controllerMeta, controllerRunContext } from "./records.ts";

const [dbPath, batch, stateFile] = process.argv.slice(2) as [string, string, string];
const store = await TraceStore.open(dbPath);
await store.beginRun(controllerRunContext("crash-test"));
const backend = pacedSim({ seed: 3 }, 5);
let step = 0;
await runLongRunning({
  store,
  runId: "crash-test",
  meta: controllerMeta("crash-test"),
  backend,
  policy: { name: "up-down", decide: () => ({ action: step % 2 ? Action.ScaleUp : Action.ScaleDown, confidence: 1 }) },
  fallback: null,
  limits: guardLimitsSchema.parse({ minIntervalS: 0 }),
  slo: { latencyMs: 300, errorRate: 0.01, confirmWindowS: 30 },
  stepSeconds: 10,
  codec: { maxReplicas: 10, episodeSeconds: 600 },
  reward: seedReward,
  stateFile,
  clockOriginMs: () => 0,
  signal: new AbortController().signal,
  batchSteps: Number(batch),
  maxDelayMs: 60_000,
  sinks: [
    {
      onStep: (r) => {
        step = r.step;
        process.stdout.write(`step ${step}\n`);
      },
    },
  ],
  onCommitted: (n) => void process.stdout.write(`committed ${n}\n`),
});
