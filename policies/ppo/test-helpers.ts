/**
 * A PPO run small enough for a test (one env, 64-step rollouts, seconds of CPU): options
 * for `runTraining` that write nothing but the model and checkpoints under `dir`.
 */
import { join } from "node:path";
import { type PpoOptions, type PpoOptionsInput, ppoOptionsSchema } from "./options.ts";

export function tinyPpoOptions(dir: string, over: PpoOptionsInput = {}): PpoOptions {
  return ppoOptionsSchema.parse({
    threads: 1,
    nEnvs: 1,
    nSteps: 64,
    batchSize: 32,
    nEpochs: 2,
    totalTimesteps: 192,
    episodeSteps: 40,
    db: null,
    progress: false,
    checkpointEvery: 0,
    checkpointDir: join(dir, "ck"),
    out: join(dir, "model.onnx"),
    overwrite: true,
    ...over,
  });
}
