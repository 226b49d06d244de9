import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTION_COUNT, OBS_V1 } from "../../../harness/core/contract.ts";
import { loadOnnxModel, type OnnxPolicyModel } from "../../onnx-model.ts";
import { importOnnx } from "../../ppo/onnx-export.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../../rl.ts";
import { buildAgentApp } from "../app.ts";
import {
  type CandidateRecord,
  predictResponseSchema,
  problemSchema,
  type Transition,
  updateResponseSchema,
  updatesResponseSchema,
} from "../schemas.ts";
import { fineTune } from "./finetune.ts";
import { OnlineStore } from "./store.ts";
import type { OnlineOptions } from "./updater.ts";

const quiet = { logger: { warn: () => {} } };
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "agent-online-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A chain of seeded transitions (each next state is the following state), `action` chosen by `pick`. */
function transitions(
  n: number,
  seed: number,
  pick: (i: number) => number,
  reward: (a: number) => number,
): Transition[] {
  const rng = xoroshiro128plus(seed);
  const states = Array.from({ length: n + 1 }, () =>
    Array.from({ length: OBS_V1.dim }, () => Math.fround((rng.next() >>> 0) / 0x1_0000_0000)),
  );
  return Array.from({ length: n }, (_, i) => {
    const action = pick(i);
    return { state: states[i]!, action, reward: reward(action), nextState: states[i + 1]!, done: i === n - 1 };
  });
}

let base: OnnxPolicyModel;
beforeAll(async () => {
  base = await loadOnnxModel(resolveModelPath(DEFAULT_MODEL), quiet);
});
afterAll(async () => base?.dispose());

describe("the transition log", () => {
  it("keeps every acknowledged batch across a reopen and cuts a torn last line (a crash mid-append)", () => {
    const dir = tempDir();
    const store = new OnlineStore(dir);
    store.appendBatch(
      transitions(
        3,
        1,
        () => 0,
        () => 1,
      ),
    );
    store.appendBatch(
      transitions(
        2,
        2,
        () => 1,
        () => 0,
      ),
    );
    store.close();
    appendFileSync(join(dir, "transitions.jsonl"), '{"batch":3,"at":"x","transitions":[{"sta');
    const again = new OnlineStore(dir);
    expect(again.transitionCount).toBe(5);
    expect(
      again.appendBatch(
        transitions(
          1,
          3,
          () => 2,
          () => 0,
        ),
      ).batch,
    ).toBe(3);
    again.close();
    const lines = readFileSync(join(dir, "transitions.jsonl"), "utf8").trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).batch)).toEqual([1, 2, 3]);
  });
});

describe("fineTune (PPO on recorded transitions)", () => {
  const exported = () => importOnnx(readFileSync(resolveModelPath(DEFAULT_MODEL)));

  it("leaves the weights as they are with a zero learning rate", () => {
    const b = exported();
    const { params, stats } = fineTune(
      b,
      transitions(
        64,
        4,
        (i) => i % ACTION_COUNT,
        () => 0,
      ),
      {
        epochs: 2,
        batchSize: 16,
        learningRate: 0,
        clipCoef: 0.2,
        entCoef: 0.01,
        vfCoef: 0.5,
        maxGradNorm: 0.5,
        gamma: 0.99,
        gaeLambda: 0.95,
        seed: 1,
      },
    );
    expect(params).toEqual(b.params);
    expect(stats.minibatchSteps).toBe(8);
    // pi_old is the served policy: the first ratio is 1, so nothing is clipped at lr 0.
    expect(stats.clipFrac).toBe(0);
  });

  it("moves probability toward the action that was rewarded", async () => {
    const b = exported();
    const data = transitions(
      256,
      5,
      (i) => i % ACTION_COUNT,
      (a) => (a === 2 ? 10 : -10),
    );
    const { params } = fineTune(b, data, {
      epochs: 8,
      batchSize: 64,
      learningRate: 3e-3,
      clipCoef: 0.2,
      entCoef: 0,
      vfCoef: 0.5,
      maxGradNorm: 0.5,
      gamma: 0.99,
      gaeLambda: 0.95,
      seed: 1,
    });
    const { ActorCritic } = await import("../../ppo/mlp.ts");
    const meanProb = (p: Float32Array) => {
      const net = new ActorCritic(b.spec, 1, p);
      let sum = 0;
      for (const t of data) {
        const x = Float32Array.from(t.state, (v, j) => {
          const z = (v - b.obsNorm!.mean[j]!) / Math.sqrt(b.obsNorm!.var[j]! + 1e-8);
          return Math.min(b.obsClip, Math.max(-b.obsClip, z));
        });
        net.forward(x, 1);
        sum += net.probs[2]!;
      }
      return sum / data.length;
    };
    // The clipped surrogate bounds the move (ratio within 1 +- 0.2 of pi_old), so it is modest.
    expect(meanProb(params)).toBeGreaterThan(meanProb(b.params) * 1.05);
  });
});

describe("POST /update, GET /updates, POST /rollback", () => {
  /** A service with online learning on a tiny validation budget: one cell, two seeds. */
  async function service(dir: string, fineTuneOptions: OnlineOptions["fineTune"], fault = "pod-kill", margin = 0.005) {
    const records: CandidateRecord[] = [];
    const waiters: ((r: CandidateRecord) => void)[] = [];
    const app = await buildAgentApp({
      model: base,
      online: {
        dir,
        jobEntry: new URL("../../../harness/agent-online-worker.mjs", import.meta.url),
        minTransitions: 32,
        fineTune: fineTuneOptions,
        evaluation: {
          faults: [fault],
          frequencies: ["high"],
          seeds: [501, 502],
          resamples: 200,
          marginUptime: margin,
        },
        onRecord: (r) => {
          if (r.kind !== "candidate") return;
          records.push(r);
          waiters.shift()?.(r);
        },
      },
    });
    const nextRecord = () =>
      records.length > 0 ? Promise.resolve(records.shift()!) : new Promise<CandidateRecord>((r) => waiters.push(r));
    return { app, nextRecord };
  }
  const post = (app: FastifyInstance, url: string, body?: unknown) =>
    app.inject({
      method: "POST",
      url,
      ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
  const servedSha = async (app: FastifyInstance) =>
    predictResponseSchema.parse((await post(app, "/predict", { state: [0.3, 0, 0, 0.5, 0.3, 0.05, 0, 1, 0.3] })).json())
      .model.sha256;

  it("stores transitions, promotes a candidate that is not worse, survives a restart, and rolls back", async () => {
    const dir = tempDir();
    // A zero learning rate: the copy decides as the served model, so it cannot be worse.
    const { app, nextRecord } = await service(dir, { epochs: 1, learningRate: 0 });
    try {
      const few = await post(app, "/update", {
        transitions: transitions(
          16,
          6,
          () => 0,
          () => 0,
        ),
      });
      expect(few.statusCode).toBe(202);
      expect(updateResponseSchema.parse(few.json())).toEqual({ batch: 1, stored: 16, total: 16, job: null });

      const more = updateResponseSchema.parse(
        (
          await post(app, "/update", {
            transitions: transitions(
              16,
              7,
              () => 1,
              () => 0,
            ),
          })
        ).json(),
      );
      expect(more.job).toEqual({ id: 1, status: "started" });
      // /predict keeps answering from the served model while the job runs.
      expect(await servedSha(app)).toBe(base.sha256);

      const record = await nextRecord();
      expect(record.decision, record.reason).toBe("promoted");
      expect(record.transitions).toBe(32);
      expect(record.evaluation!.episodes).toBe(2);
      expect(record.evaluation!.uptime.diff.lower).toBeGreaterThanOrEqual(-record.evaluation!.marginUptime);
      expect(record.candidate!.sha256).not.toBe(base.sha256);
      expect(await servedSha(app)).toBe(record.candidate!.sha256);

      const listed = updatesResponseSchema.parse((await app.inject({ method: "GET", url: "/updates" })).json());
      expect(listed.serving.sha256).toBe(record.candidate!.sha256);
      expect(listed.previous.map((p) => p.sha256)).toEqual([base.sha256]);
      expect(listed.records.map((r) => r.kind)).toEqual(["candidate"]);
    } finally {
      await app.close();
    }

    // serving.json: a restarted service serves the promoted model.
    const restarted = await service(dir, { epochs: 1, learningRate: 0 });
    try {
      const candidateSha = updatesResponseSchema.parse(
        (await restarted.app.inject({ method: "GET", url: "/updates" })).json(),
      ).serving.sha256;
      expect(candidateSha).not.toBe(base.sha256);
      expect(await servedSha(restarted.app)).toBe(candidateSha);

      const back = await post(restarted.app, "/rollback");
      expect(back.statusCode).toBe(200);
      expect(back.json().serving.sha256).toBe(base.sha256);
      expect(await servedSha(restarted.app)).toBe(base.sha256);

      const none = await post(restarted.app, "/rollback");
      expect(none.statusCode).toBe(409);
      expect(problemSchema.parse(none.json()).type).toBe("/problems/no-previous-model");
    } finally {
      await restarted.app.close();
    }
  });

  it("keeps the served model when the candidate is not shown to be not worse, and records why", async () => {
    const dir = tempDir();
    // The copy decides as the served model (learning rate 0), and this service demands a
    // gain of one point of uptime (a negative margin): the interval [0, 0] falls short.
    const { app, nextRecord } = await service(dir, { epochs: 1, learningRate: 0 }, "pod-kill", -0.01);
    try {
      const res = await post(app, "/update", {
        transitions: transitions(
          64,
          8,
          (i) => i % ACTION_COUNT,
          () => 0,
        ),
      });
      expect(updateResponseSchema.parse(res.json()).job?.status).toBe("started");
      const record = await nextRecord();
      expect(record.decision, record.reason).toBe("rejected");
      expect(record.evaluation!.uptime.diff.lower!).toBeLessThan(-record.evaluation!.marginUptime);
      expect(record.reason).toMatch(/^not shown to be not worse: uptime difference/);
      expect(await servedSha(app)).toBe(base.sha256);
      const listed = updatesResponseSchema.parse((await app.inject({ method: "GET", url: "/updates" })).json());
      expect(listed.previous).toEqual([]);
      // The rejected candidate is kept with its card, for inspection.
      expect(JSON.parse(readFileSync(record.candidate!.file.replace(/\.onnx$/, ".json"), "utf8")).sha256).toBe(
        record.candidate!.sha256,
      );
    } finally {
      await app.close();
    }
  });

  it("refuses a malformed transition before storing anything (422 naming the field)", async () => {
    const dir = tempDir();
    const { app } = await service(dir, {});
    try {
      const bad = transitions(
        2,
        9,
        () => 0,
        () => 0,
      );
      const res = await post(app, "/update", { transitions: [bad[0], { ...bad[1], action: 7 }] });
      expect(res.statusCode).toBe(422);
      expect(problemSchema.parse(res.json()).errors!.map((e) => e.field)).toContain("transitions[1].action");
      const listed = updatesResponseSchema.parse((await app.inject({ method: "GET", url: "/updates" })).json());
      expect(listed.records).toEqual([]);
    } finally {
      await app.close();
    }
    expect(readFileSync(join(dir, "transitions.jsonl"), "utf8")).toBe("");
  });
});
