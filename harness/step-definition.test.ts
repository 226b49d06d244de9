/**
 * One step definition (harness/core/step.ts): PPO's training environments (VecEnv over
 * SimEnv) and the controller loop (over SimBackend) take the same step, so a policy sees the
 * same observations, in the same order, through both for the same seed: the agent is
 * evaluated on the ordering it was trained on.
 */
import { describe, expect, it } from "vitest";
import { ppoOptionsSchema } from "../policies/ppo/options.ts";
import { scenarioIndexForSeed, VecEnv } from "../policies/ppo/vec-env.ts";
import { SimBackend } from "../sim/backend.ts";
import { rewards } from "../sim/reward.ts";
import { Action, type Policy } from "./core/contract.ts";
import { generateSchedule } from "./core/schedule.ts";
import { runEpisode } from "./loop.ts";

/** A rule over the obs-v1 vector alone that uses every action, so the guard has work. */
function rule(obs: ArrayLike<number>, at = 0): Action {
  const [, degraded, crashed, cpu, , latency, errors, , replicas] = Array.from({ length: 9 }, (_, i) => obs[at + i]!);
  if (crashed! > 0) return Action.RestartPod;
  if (cpu! > 0.75 || errors! > 0.02) return Action.ScaleUp;
  if (latency! > 0.4 && degraded! > 0) return Action.DrainPod;
  if (cpu! < 0.3 && replicas! > 0.3) return Action.ScaleDown;
  return Action.Noop;
}

describe("one step definition", () => {
  const options = ppoOptionsSchema.parse({
    nEnvs: 1,
    episodeSteps: 120,
    faults: ["combined", "pod-kill", "load-spike"],
  });

  for (const seed of [1_000_000, 1_000_001, 1_000_002, 1_000_003, 1_000_004, 1_000_005]) {
    it(`gives a policy the same observations and rewards through VecEnv and through the loop (seed ${seed})`, async () => {
      // Training: one env, episode 0 on `seed`.
      const vec = new VecEnv({ ...options, trainingSeedStart: seed });
      vec.resetAll();
      const trained: number[][] = [[...vec.obs]];
      const trainedRewards: number[] = [];
      const action = new Int32Array(1);
      for (;;) {
        action[0] = rule(vec.obs);
        vec.step(action);
        trainedRewards.push(vec.rewards[0]!);
        if (vec.dones[0] === 1) break;
        trained.push([...vec.obs]);
      }
      const cell = vec.scenarios[scenarioIndexForSeed(seed, vec.scenarios.length)]!.config;

      // Evaluation: the same episode through the controller loop, schedule generated from the seed.
      const episodeSeconds = options.episodeSteps * 10;
      const schedule = generateSchedule({
        faults: cell.faults!,
        frequency: cell.frequency!,
        episodeSeconds,
        seed,
      });
      expect(schedule.length).toBeGreaterThan(0);
      const seen: number[][] = [];
      const loopRewards: number[] = [];
      const policy: Policy = {
        name: "rule",
        decide: (state) => {
          seen.push([...state]);
          return { action: rule(state), confidence: 1 };
        },
      };
      await runEpisode(
        {
          backend: new SimBackend({ seed, params: cell.params, workload: cell.workload }),
          policy,
          fallback: null,
          schedule,
          steps: options.episodeSteps,
          stepSeconds: 10,
          codec: { maxReplicas: options.guard.maxReplicas, episodeSeconds },
          limits: options.guard,
          slo: { latencyMs: 300, errorRate: 0.01 },
          confirmWindowS: options.slo.confirmWindowS,
          reward: rewards[options.reward],
        },
        { onStep: (r) => loopRewards.push(r.reward) },
      );

      // VecEnv ends an episode when no pod serves; the loop goes on observing.
      expect(trained.length).toBeGreaterThan(10);
      expect(seen.slice(0, trained.length)).toEqual(trained);
      // The loop's step k records the reward of the transition into observation k (VecEnv keeps float32).
      expect(loopRewards.slice(1, trained.length).map(Math.fround)).toEqual(
        trainedRewards.slice(0, trained.length - 1),
      );
      expect(trained.some((o) => rule(o) !== Action.Noop)).toBe(true);
    });
  }
});
