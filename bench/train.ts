/**
 * PPO training throughput: env-steps/s including updates (rollout + GAE + 10 epochs of
 * minibatch Adam), at the default hyperparameters (nSteps 2048 per env, batch 64, 10
 * epochs, 64x64 tanh MLP), with 1 and with 8 envs, the js engine on 2 threads (the default)
 * and on 1. One untimed update warms the JIT, then
 * the median of the timed updates is reported. Also one minibatch's loss + gradient with
 * the hand-written engine and with tfjs (wasm unless tfjs-node is installed), and one
 * batch-1 forward pass with each: why the hand-written engine is the default.
 *
 * Reference (issue 5): Stable-Baselines3 2.x PPO (torch, CPU) here does about 2,200
 * env-steps/s with 1 env and 2,400 with 8; the target is 4,400 and 4,800.
 *
 *   node --import tsx bench/train.ts
 */
import type { ActionMask } from "../harness/core/contract.ts";
import { ActorCritic, emptyLossStats, type Minibatch } from "../policies/ppo/mlp.ts";
import { ppoOptionsSchema } from "../policies/ppo/options.ts";
import { initTf } from "../policies/ppo/tf-backend.ts";
import { tfForward, tfLossAndGrad } from "../policies/ppo/tf-model.ts";
import { createEngine, PpoTrainer } from "../policies/ppo/train.ts";
import { median } from "./stats.ts";

export interface TrainBenchFigure {
  readonly nEnvs: number;
  readonly engine: "js" | "tfjs";
  readonly threads: number;
  /** Median env-steps/s over the timed updates, optimisation included. */
  readonly stepsPerSecond: number;
  readonly updates: number;
}

/** Env-steps/s of `updates` timed updates after one warm-up, at the default hyperparameters. */
export async function measureTraining(
  nEnvs: number,
  updates: number,
  engine: "js" | "tfjs" = "js",
  threads = 2,
  actionMask: ActionMask = "none",
) {
  const o = ppoOptionsSchema.parse({
    nEnvs,
    engine,
    threads,
    actionMask,
    totalTimesteps: 2048 * nEnvs * (updates + 1),
    db: null,
  });
  const { engine: net } = await createEngine(o);
  const t = new PpoTrainer(o, net, "bench");
  try {
    t.runUpdate();
    const sps: number[] = [];
    for (let u = 0; u < updates; u++) sps.push(t.runUpdate().stepsPerS);
    return { nEnvs, engine, threads, stepsPerSecond: median(sps), updates } satisfies TrainBenchFigure;
  } finally {
    await t.close();
  }
}

/** ms per minibatch (64 rows) loss + gradient, and us per batch-1 forward, for both engines. */
export async function measureEngines() {
  const backend = await initTf();
  const spec = { obsDim: 9, hidden: [64, 64], nActions: 5 };
  const net = new ActorCritic(spec, 64);
  for (let i = 0; i < net.params.length; i++) net.params[i] = Math.sin(i * 12.9898) * 0.3;
  const n = 64;
  const mb: Minibatch = {
    n,
    obs: Float32Array.from({ length: n * 9 }, (_, i) => Math.cos(i)),
    actions: Int32Array.from({ length: n }, (_, i) => i % 5),
    logProbs: Float32Array.from({ length: n }, () => -1.6),
    advantages: Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
    returns: Float32Array.from({ length: n }, () => 0.5),
  };
  const g = new Float32Array(net.params.length);
  const st = emptyLossStats();
  const c = { clipCoef: 0.2, entCoef: 0, vfCoef: 0.5 };
  const time = (reps: number, f: () => void) => {
    for (let i = 0; i < Math.min(50, reps); i++) f();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    return (performance.now() - t0) / reps;
  };
  const one = mb.obs.subarray(0, 9);
  return {
    backend,
    jsMinibatchMs: time(1000, () => net.lossAndGrad(mb, c, g, st)),
    tfjsMinibatchMs: time(200, () => tfLossAndGrad(spec, net.params, mb, c, g, st)),
    jsForwardUs: 1000 * time(20000, () => net.forward(one, 1)),
    tfjsForwardUs: 1000 * time(500, () => tfForward(spec, net.params, one, 1)),
  };
}

export async function printTrainBench(): Promise<void> {
  console.log(
    "\nPPO training throughput (default hyperparameters, env-steps/s incl. updates; median of timed updates)",
  );
  const e = await measureEngines();
  console.log(
    `  one minibatch (64) loss+grad: js ${e.jsMinibatchMs.toFixed(2)} ms, tfjs/${e.backend} ${e.tfjsMinibatchMs.toFixed(2)} ms; ` +
      `batch-1 forward: js ${e.jsForwardUs.toFixed(1)} us, tfjs/${e.backend} ${e.tfjsForwardUs.toFixed(1)} us`,
  );
  for (const [nEnvs, updates, target] of [
    [1, 5, 4400],
    [8, 3, 4800],
  ] as const) {
    for (const threads of [2, 1]) {
      const f = await measureTraining(nEnvs, updates, "js", threads);
      console.log(
        `  ${nEnvs} env${nEnvs === 1 ? " " : "s"} (js, ${threads} thread${threads === 1 ? " " : "s"}): ${Math.round(f.stepsPerSecond).toLocaleString("en-US")} env-steps/s` +
          (threads === 2
            ? `  (target >= ${target.toLocaleString("en-US")}; SB3 ~${nEnvs === 1 ? "2,200" : "2,400"})`
            : ""),
      );
    }
  }
  const masked = await measureTraining(8, 3, "js", 2, "guard");
  console.log(
    `  8 envs (js, 2 threads, actionMask guard): ${Math.round(masked.stepsPerSecond).toLocaleString("en-US")} env-steps/s (the guard's mask in sampling and loss)`,
  );
  const tf1 = await measureTraining(1, 1, "tfjs");
  console.log(
    `  1 env  (tfjs/${e.backend}): ${Math.round(tf1.stepsPerSecond).toLocaleString("en-US")} env-steps/s (the tfjs engine, for comparison)`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await printTrainBench();
