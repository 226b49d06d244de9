/**
 * A quick held-out check of a trained policy, for the model card and the end-of-training
 * log: the greedy policy (argmax) and `none` (always noop) on the training distribution, on
 * seeds 2,000,000 upward (never trained on, and not the evaluation scenarios' 1..20), both
 * through the guard. Uptime, cost and recovery as VecEnv measures them. The harness's
 * evaluation (`harness run scenarios/full-matrix.yaml`) is the real verdict; this is a sanity
 * figure that travels with the model.
 */
import { ACTION_COUNT } from "../../harness/core/contract.ts";
import { maskedArgmax } from "../../harness/core/guard.ts";
import { ActorCritic } from "./mlp.ts";
import type { RunningMeanStd } from "./obs-norm.ts";
import type { PpoOptions } from "./options.ts";
import { mlpSpecFor } from "./train.ts";
import { VecEnv } from "./vec-env.ts";

export const EVAL_SEED_START = 2_000_000;

export interface QuickEvalRow {
  readonly policy: string;
  readonly episodes: number;
  /** Share of steps with the SLO held. */
  readonly uptime: number;
  /** Mean desired replicas (cost per step). */
  readonly replicasMean: number;
  readonly recoveryTimeMeanS: number | null;
  readonly episodeReturnMean: number;
  readonly actionsPerEpisode: number;
}

export interface QuickEval {
  readonly seeds: string;
  readonly reward: string;
  readonly rows: readonly QuickEvalRow[];
}

function run(
  o: PpoOptions,
  episodes: number,
  label: string,
  act: ((obs: Float32Array, mask: Uint8Array) => number) | null,
): QuickEvalRow {
  const vec = new VecEnv({ ...o, nEnvs: 1, trainingSeedStart: EVAL_SEED_START });
  vec.resetAll();
  const action = new Int32Array(1);
  const mask = new Uint8Array(ACTION_COUNT).fill(1);
  const masked = o.actionMask === "guard";
  const recoveries: number[] = [];
  let held = 0;
  let steps = 0;
  let replicas = 0;
  let actions = 0;
  let ret = 0;
  let done = 0;
  while (done < episodes) {
    if (masked) vec.fillMasks(mask);
    action[0] = act === null ? 0 : act(vec.obs, mask);
    vec.step(action);
    held += vec.sloHeldSteps;
    steps += vec.steps;
    replicas += vec.replicaSum;
    actions += vec.executedCounts[1] + vec.executedCounts[2] + vec.executedCounts[3] + vec.executedCounts[4];
    recoveries.push(...vec.recoveries);
    for (const ep of vec.finished) ret += ep.return;
    done += vec.finished.length;
    vec.clearStats();
  }
  return {
    policy: label,
    episodes,
    uptime: held / steps,
    replicasMean: replicas / steps,
    recoveryTimeMeanS: recoveries.length ? recoveries.reduce((a, b) => a + b, 0) / recoveries.length : null,
    episodeReturnMean: ret / episodes,
    actionsPerEpisode: actions / episodes,
  };
}

/** Greedy policy vs none on `episodes` held-out episodes each. */
export function quickEvaluate(
  o: PpoOptions,
  params: Float32Array,
  obsNorm: RunningMeanStd | null,
  episodes = 56,
): QuickEval {
  const spec = mlpSpecFor(o);
  const net = new ActorCritic(spec, 1, params);
  // The options' codec: VecEnv encodes the episodes with it, as in training.
  const x = new Float32Array(spec.obsDim);
  // Argmax over the allowed actions (every action without actionMask), as the rl policy decides.
  const greedy = (obs: Float32Array, mask: Uint8Array) => {
    if (obsNorm === null) x.set(obs);
    else obsNorm.normalize(obs, 1, o.obsClip, x);
    net.forward(x, 1);
    return maskedArgmax(net.logits, mask);
  };
  return {
    seeds: `${EVAL_SEED_START}..${EVAL_SEED_START + episodes - 1} (training distribution, held out)`,
    reward: o.reward,
    rows: [run(o, episodes, "ppo (greedy)", greedy), run(o, episodes, "none", null)],
  };
}
