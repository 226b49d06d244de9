/**
 * Rewards, as a small registry of functions of one signature, selected by name
 * (`reward: "seed"` in a SimEnv config). Another reward is added beside `seed`, never in
 * its place, so that trained models keep the reward they were trained with.
 *
 * A reward sees the snapshots before and after a step (scalars only: `prev.podTable` may
 * be null), the action taken, and the replica limits. It must not allocate or keep
 * references: both snapshots are reused buffers.
 */
import { z } from "zod";
import { Action, type ReplicaLimits, type Snapshot } from "../harness/core/contract.ts";

export type RewardFn = (
  prev: Readonly<Snapshot>,
  cur: Readonly<Snapshot>,
  action: Action,
  limits: ReplicaLimits,
) => number;

/** Weights and thresholds of the seed reward. */
export const SEED_REWARD = {
  /** All desired pods healthy and ready, after a step where they were not. */
  recovered: 100,
  /** More healthy pods than at the previous step (not paid on the step that pays `recovered`). */
  improved: 10,
  /** Any degraded or crashed pod present. */
  degraded: -10,
  /** No pod can serve: no ready pod, or every request fails (error rate 1). */
  allDown: -50,
  /** Any action other than noop, applied or refused. */
  action: -1,
  /** Mean CPU below `overScaleCpu` with more replicas than minReplicas (not while all down). */
  overScaled: -5,
  overScaleCpu: 0.3,
} as const;

/** All desired pods healthy (healthy and ready, drained or not) and no other pod around. */
export function allHealthy(s: Readonly<Snapshot>): boolean {
  return s.desiredReplicas > 0 && s.healthy >= s.desiredReplicas && s.healthy === s.pods;
}

/** No pod can serve. In the simulator, no serving pod always reads as error rate 1. */
export function allDown(s: Readonly<Snapshot>): boolean {
  return s.readyReplicas === 0 || s.errorRate >= 1;
}

/**
 * The reward of the original RL design, term by term (they add up):
 * - +100 fully recovered: `allHealthy(cur)` and not `allHealthy(prev)`;
 * - +10 health improved: `cur.healthy > prev.healthy`, unless +100 was paid this step
 *   (note: a scale-up pod becoming ready counts as an improvement, as in the original);
 * - -10 degraded: `cur.degraded + cur.crashed > 0` (pending/restarting pods do not count);
 * - -50 all down: `allDown(cur)`;
 * - -1 per non-noop action, whether or not the backend could apply it;
 * - -5 over-scaling: `cur.cpu < 0.3` while `cur.desiredReplicas > minReplicas` and the
 *   service is not all down (its CPU of 0 then says nothing about over-provisioning).
 */
export const seedReward: RewardFn = (prev, cur, action, limits) => {
  let r = 0;
  if (allHealthy(cur) && !allHealthy(prev)) r += SEED_REWARD.recovered;
  else if (cur.healthy > prev.healthy) r += SEED_REWARD.improved;
  if (cur.degraded + cur.crashed > 0) r += SEED_REWARD.degraded;
  const down = allDown(cur);
  if (down) r += SEED_REWARD.allDown;
  if (action !== Action.Noop) r += SEED_REWARD.action;
  if (!down && cur.cpu < SEED_REWARD.overScaleCpu && cur.desiredReplicas > limits.minReplicas) {
    r += SEED_REWARD.overScaled;
  }
  return r;
};

/**
 * Weights of the aligned reward: each term stands for one thing the harness measures, in
 * the harness's own units (one step = one observation interval).
 */
export const ALIGNED_REWARD = {
  /** The SLO the harness scores uptime and recovery against (the scenarios' default). */
  sloLatencyMs: 300,
  sloErrorRate: 0.01,
  /** Paid for every step the SLO holds: uptime. A breach earns nothing, so recovery time is the uptime lost. */
  sloHeld: 1,
  /**
   * Cost per desired replica per step (replica-seconds), charged only while the SLO holds:
   * one replica kept for a whole episode costs as much as 2% of its uptime, so replicas are
   * worth adding exactly when they buy more uptime than that. Not charged during a breach,
   * so adding capacity to end one is never discouraged and a breached step is never negative.
   */
  replicaCost: 0.02,
  /**
   * Any executed action other than noop (churn: every action disturbs the service), a
   * quarter of a step of uptime. At 0.05 a trained agent restarted a pod whenever the guard
   * let it (about 26 unnecessary actions per episode on the validation seeds, against 3 for
   * the heuristic); at 0.25 it acts about as often as the heuristic, with no loss of uptime.
   */
  action: -0.25,
  /** An action after which the SLO went from held to breached (action harm, the loop's `regression`). */
  harm: -0.5,
} as const;

/**
 * A reward that pays for what the harness measures, and for nothing else:
 * - uptime: `+sloHeld` per step with the SLO held (ready replica, latency and error rate
 *   within the SLO), 0 per breached step, so every step of a breach (recovery time) costs
 *   one step of reward, however it ends;
 * - cost: `-replicaCost` per desired replica per step, while the SLO holds;
 * - action harm: `action` per non-noop action, and `harm` more when the SLO held before the
 *   step and not after it.
 *
 * Why the seed reward's exploits do not pay here: there is no bonus for a transition
 * ("recovered", "improved"), only for states the harness scores, so removing a crashed pod
 * by scaling down earns nothing by itself (it saves one replica's cost and loses capacity,
 * which the next fault or load swing turns into breached steps); and extra replicas are
 * charged every step while paying nothing per crash. A breached step is worth 0 and never
 * less, so ending an episode early (all pods down terminates it) never pays either.
 * `sim/reward.test.ts` pins both on fixed seeds.
 */
export const alignedReward: RewardFn = (prev, cur, action, _limits) => {
  const w = ALIGNED_REWARD;
  const held = sloHeld(cur);
  return (held ? w.sloHeld - w.replicaCost * cur.desiredReplicas : 0) + actionTerms(prev, held, action);
};

/**
 * The aligned reward with replicas charged on every step, breaches included (issue 17's
 * "reward shaping that charges replicas during breaches too"). Under `aligned` a breach
 * makes replicas free, so an agent learns to scale up at every breach and keeps the extra
 * replicas until the cost of a held step talks it down: 12% more replica-seconds than the
 * heuristic. Here every replica costs `replicaCost` per step whatever the SLO did, written
 * as a saving below the ceiling, `replicaCost x (maxReplicas - desired)`, so that no step
 * without an action is negative: a breached step still earns less than a held one, and
 * ending the episode (no serving pod) forfeits the savings of every later step, so it never
 * pays. Uptime, action and harm terms are the aligned reward's.
 */
export const alignedCostReward: RewardFn = (prev, cur, action, limits) => {
  const w = ALIGNED_REWARD;
  const held = sloHeld(cur);
  const savings = w.replicaCost * Math.max(0, limits.maxReplicas - cur.desiredReplicas);
  return (held ? w.sloHeld : 0) + savings + actionTerms(prev, held, action);
};

/** The aligned rewards' churn and harm terms: `action` per non-noop action, `harm` more if the SLO broke after it. */
function actionTerms(prev: Readonly<Snapshot>, held: boolean, action: Action): number {
  if (action === Action.Noop) return 0;
  return ALIGNED_REWARD.action + (!held && sloHeld(prev) ? ALIGNED_REWARD.harm : 0);
}

/** The SLO of {@link ALIGNED_REWARD} holds: a ready replica, latency and error rate within it. */
function sloHeld(s: Readonly<Snapshot>): boolean {
  return (
    s.readyReplicas >= 1 && s.errorRate <= ALIGNED_REWARD.sloErrorRate && s.latencyMs <= ALIGNED_REWARD.sloLatencyMs
  );
}

/** The registry: names are the keys. */
export const rewards = {
  seed: seedReward,
  aligned: alignedReward,
  "aligned-cost": alignedCostReward,
} as const satisfies Record<string, RewardFn>;
export type RewardName = keyof typeof rewards;
export const REWARD_NAMES = Object.keys(rewards) as [RewardName, ...RewardName[]];
export const rewardNameSchema = z.enum(REWARD_NAMES).default("seed").describe("Reward function, by name.");
