/**
 * The trainer end to end on tiny budgets: it is seeded (same seed, same curve), a resumed
 * run continues exactly as the uninterrupted one, it learns (beats a random policy on the
 * simulator with one fault), and `harness train`'s whole path (store, checkpoints, ONNX,
 * card, /metrics) runs.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runTraining } from "../../harness/cli-train.ts";
import { ACTION_COUNT, Action, OBS_V1 } from "../../harness/core/contract.ts";
import { TrainingStore } from "../../harness/store-training.ts";
import { parseModelCard } from "../model-card.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { TrainingMetrics } from "./metrics.ts";
import { ActorCritic } from "./mlp.ts";
import { type PpoOptions, type PpoOptionsInput, ppoOptionsSchema } from "./options.ts";
import { TrainRng } from "./rng.ts";
import { createEngine, mlpSpecFor, PpoTrainer, train, type UpdateMetrics } from "./train.ts";
import { VecEnv } from "./vec-env.ts";

const dir = mkdtempSync(join(tmpdir(), "ppo-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 3 updates of 2 envs x 64 steps; 40-step episodes so that some finish. */
const TINY: PpoOptionsInput = {
  threads: 1,
  nEnvs: 2,
  nSteps: 64,
  batchSize: 32,
  nEpochs: 2,
  totalTimesteps: 3 * 128,
  episodeSteps: 40,
  normObs: true,
  annealLr: true,
  db: null,
  progress: false,
};

function tiny(over: PpoOptionsInput = {}): PpoOptions {
  // The tests share one scratch model file.
  return ppoOptionsSchema.parse({
    ...TINY,
    checkpointDir: join(dir, "ck"),
    out: join(dir, "model.onnx"),
    overwrite: true,
    ...over,
  });
}

/** A curve without its wall-clock fields. */
function curveOf(ms: readonly UpdateMetrics[]) {
  return ms.map(({ wallTimeS: _w, stepsPerS: _s, ...rest }) => rest);
}

async function trainCurve(o: PpoOptions): Promise<{ curve: ReturnType<typeof curveOf>; params: Float32Array }> {
  const ms: UpdateMetrics[] = [];
  const t = await train(new PpoTrainer(o, null, "test"), { onUpdate: (m) => void ms.push(m) });
  return { curve: curveOf(ms), params: Float32Array.from(t.net.params) };
}

describe("PPO trainer", () => {
  it("is seeded: the same seed gives the same curve and weights, another seed does not", async () => {
    const a = await trainCurve(tiny());
    const b = await trainCurve(tiny());
    const c = await trainCurve(tiny({ seed: 2 }));
    expect(a.curve).toHaveLength(3);
    expect(b.curve).toEqual(a.curve);
    expect(Buffer.from(b.params.buffer).equals(Buffer.from(a.params.buffer))).toBe(true);
    expect(c.curve).not.toEqual(a.curve);
  });

  it("gives the same curve and weights on two threads (critic on a worker) as on one", async () => {
    const one = await trainCurve(tiny());
    const o = tiny({ threads: 2 });
    const { engine } = await createEngine(o);
    const ms: UpdateMetrics[] = [];
    const t = await train(new PpoTrainer(o, engine, "test"), { onUpdate: (m) => void ms.push(m) });
    await t.close();
    expect(curveOf(ms)).toEqual(one.curve);
    expect(Buffer.from(t.net.params.buffer.slice(0)).equals(Buffer.from(one.params.buffer))).toBe(true);
  });

  it("resumed from a checkpoint, continues exactly as the uninterrupted run", async () => {
    const whole = await runTraining({ options: tiny({ checkpointEvery: 1 }), skipEvaluation: true, log: () => {} });
    // Interrupt after the first update, then resume from its checkpoint.
    const controller = new AbortController();
    const first = await runTraining({
      options: tiny({ checkpointEvery: 0, out: join(dir, "interrupted.onnx") }),
      signal: controller.signal,
      onUpdate: () => controller.abort(),
      skipEvaluation: true,
      log: () => {},
    });
    expect(first.status).toBe("interrupted");
    expect(first.curve).toHaveLength(1);
    const resumed = await runTraining({
      resume: first.lastCheckpoint!,
      overrides: { out: join(dir, "resumed.onnx") },
      skipEvaluation: true,
      log: () => {},
    });
    expect(resumed.status).toBe("completed");
    expect(curveOf([...first.curve, ...resumed.curve])).toEqual(curveOf(whole.curve));
    const p1 = Buffer.from(whole.trainer.net.params.buffer);
    const p2 = Buffer.from(resumed.trainer.net.params.buffer);
    expect(p2.equals(p1)).toBe(true);
    // The exported models differ only by their metadata (same weights).
    expect(loadCheckpoint(resumed.lastCheckpoint!).update).toBe(3);
  });

  it("refuses to change how the run learns on resume", async () => {
    const controller = new AbortController();
    const first = await runTraining({
      options: tiny({ checkpointEvery: 0 }),
      signal: controller.signal,
      onUpdate: () => controller.abort(),
      skipEvaluation: true,
      log: () => {},
    });
    await expect(
      runTraining({ resume: first.lastCheckpoint!, overrides: { learningRate: 1e-3 }, log: () => {} }),
    ).rejects.toThrow("Cannot change `learningRate` when resuming");
  });

  it("with actionMask guard, samples only what the guard lets through, the same on two threads, and says so on the card", async () => {
    const unmasked = await trainCurve(tiny());
    // Without the mask the policy proposes refused actions: the mask has something to remove.
    expect(unmasked.curve.some((m) => m.refusedShare > 0)).toBe(true);
    const masked = await trainCurve(tiny({ actionMask: "guard" }));
    for (const m of masked.curve) {
      expect(m.refusedShare).toBe(0);
      expect(Number.isFinite(m.entropy) && Number.isFinite(m.policyLoss)).toBe(true);
    }
    expect(masked.curve.some((m) => m.actionShare[Action.Noop]! < 1)).toBe(true);
    const r = await runTraining({
      options: tiny({ actionMask: "guard", threads: 2, out: join(dir, "masked.onnx") }),
      log: () => {},
    });
    expect(curveOf(r.curve)).toEqual(masked.curve);
    const card = parseModelCard(JSON.parse(readFileSync(r.cardPath!, "utf8")));
    expect(card.success && card.card.actionMask).toBe("guard");
  });

  it("learns: beats a random policy on the simulator with one fault type within 16k steps", async () => {
    const o = ppoOptionsSchema.parse({
      nEnvs: 4,
      nSteps: 256,
      batchSize: 64,
      nEpochs: 4,
      totalTimesteps: 16 * 1024,
      learningRate: 1e-3,
      faults: ["pod-failure"],
      frequencies: [{ kind: "poisson", meanIntervalS: 250 }],
      workloads: ["constant"],
      db: null,
      progress: false,
    });
    const trainer = await train(new PpoTrainer(o, null, "learn"));
    const net = new ActorCritic(mlpSpecFor(o), 1, trainer.net.params);
    const rng = new TrainRng(99);
    const x = new Float32Array(OBS_V1.dim);
    const greedy = (obs: Float32Array) => {
      x.set(obs);
      net.forward(x, 1);
      let best = 0;
      for (let k = 1; k < ACTION_COUNT; k++) if (net.logits[k]! > net.logits[best]!) best = k;
      return best;
    };
    const evaluate = (act: (obs: Float32Array) => number) => {
      const vec = new VecEnv({ ...o, nEnvs: 1, trainingSeedStart: 2_000_000 });
      vec.resetAll();
      const a = new Int32Array(1);
      let total = 0;
      while (vec.finished.length < 10) {
        a[0] = act(vec.obs);
        vec.step(a);
      }
      for (const ep of vec.finished) total += ep.return;
      return total / vec.finished.length;
    };
    const learned = evaluate(greedy);
    const random = evaluate(() => rng.int(ACTION_COUNT));
    const none = evaluate(() => Action.Noop);
    expect(learned, `learned ${learned.toFixed(1)} vs random ${random.toFixed(1)}`).toBeGreaterThan(random + 20);
    expect(learned, `learned ${learned.toFixed(1)} vs none ${none.toFixed(1)}`).toBeGreaterThan(none);
  });
});

describe("harness train (smoke)", () => {
  it("trains a tiny budget and writes the store rows, checkpoints, ONNX model and card", async () => {
    const db = join(dir, "train.duckdb");
    const lines: string[] = [];
    const r = await runTraining({ options: tiny({ db, checkpointEvery: 2 }), log: (l) => lines.push(l) });
    expect(r.status).toBe("completed");
    expect(lines.join("\n")).toContain("engine js");
    const card = parseModelCard(JSON.parse(readFileSync(r.cardPath!, "utf8")));
    expect(card.success).toBe(true);
    if (card.success) {
      expect(card.card.steps).toBe(384);
      expect(card.card.seed).toBe(1);
      expect((card.card.training.options as PpoOptions).nSteps).toBe(64);
      expect(card.card.evaluation.quick).toBeDefined();
    }
    const store = await TrainingStore.open(db);
    try {
      const rows = await store.updates(r.trainer.runId);
      expect(rows.map((x) => x.update)).toEqual([1, 2, 3]);
      expect(Number(rows[2]!.global_step)).toBe(384);
      expect(typeof rows[0]!.approx_kl).toBe("number");
    } finally {
      await store.close();
    }
  });

  it("serves the live metrics on /metrics", async () => {
    const m = new TrainingMetrics("smoke");
    const port = await m.listen(0);
    try {
      const [first] = (
        await runTraining({ options: tiny({ totalTimesteps: 128 }), skipEvaluation: true, log: () => {} })
      ).curve;
      m.record(first!);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain('ppo_global_step_total{run_id="smoke"} 128');
      expect(text).toContain('ppo_updates_total{run_id="smoke"} 1');
      expect(text).toContain("# TYPE ppo_global_step_total counter");
      expect(text).toMatch(/ppo_process_resident_memory_bytes\{run_id="smoke"\} \d+/);
      expect(text).toMatch(/ppo_action_share\{action="noop",kind="proposed",run_id="smoke"\}/);
    } finally {
      await m.close();
    }
  });
});
