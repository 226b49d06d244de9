/**
 * Checkpoints: the complete trainer state between two updates, as one JSON file, so that
 * `--resume <file>` continues exactly as the uninterrupted run would have (same curve, same
 * final weights, bit for bit):
 *
 * - the options (a resumed run keeps them; see `resumeOptions` in cli.ts for what may change),
 * - network parameters and Adam's moments and step count (float32, base64 little-endian),
 * - the trainer's RNG state (four int32s) and the observation statistics (float64 as JSON
 *   numbers, which round-trip exactly),
 * - per env: the current episode's seed, scenario cell, running statistics and the actions
 *   executed so far. Envs are rebuilt by replaying those actions from the seed: the
 *   simulator is deterministic, so this restores its state without serialising it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ppoOptionsSchema } from "./options.ts";
import type { TrainerState } from "./train.ts";

export const CHECKPOINT_FORMAT = "ppo-checkpoint";
export const CHECKPOINT_VERSION = 1;

function f32ToBase64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

function base64ToF32(s: string): Float32Array {
  const b = Buffer.from(s, "base64");
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** The checkpoint file of `update` in `dir`/`runId`. */
export function checkpointPath(dir: string, runId: string, update: number): string {
  return join(dir, runId, `update-${String(update).padStart(5, "0")}.json`);
}

/** Writes the state atomically (temp file + rename) and returns the path. */
export function saveCheckpoint(path: string, s: TrainerState): string {
  const json = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    createdAt: new Date().toISOString(),
    runId: s.runId,
    update: s.update,
    globalStep: s.globalStep,
    wallTimeS: s.wallTimeS,
    options: s.options,
    params: f32ToBase64(s.params),
    adam: { m: f32ToBase64(s.adam.m), v: f32ToBase64(s.adam.v), t: s.adam.t },
    rng: [...s.rng],
    obsNorm: s.obsNorm,
    envs: s.envs,
  };
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(json));
  renameSync(tmp, path);
  return path;
}

/** Reads a checkpoint; throws a clear error for a file that is not one (or of another version). */
export function loadCheckpoint(path: string): TrainerState {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`Cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  if (j.format !== CHECKPOINT_FORMAT || j.version !== CHECKPOINT_VERSION) {
    throw new Error(
      `Expected ${path} to be a ${CHECKPOINT_FORMAT} version ${CHECKPOINT_VERSION}, got format ${JSON.stringify(j.format)} version ${JSON.stringify(j.version)}`,
    );
  }
  const adam = j.adam as { m: string; v: string; t: number };
  return {
    runId: j.runId as string,
    options: ppoOptionsSchema.parse(j.options),
    update: j.update as number,
    globalStep: j.globalStep as number,
    wallTimeS: j.wallTimeS as number,
    params: base64ToF32(j.params as string),
    adam: { m: base64ToF32(adam.m), v: base64ToF32(adam.v), t: adam.t },
    rng: j.rng as number[],
    obsNorm: j.obsNorm as TrainerState["obsNorm"],
    envs: j.envs as TrainerState["envs"],
  };
}
