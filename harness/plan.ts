/**
 * The matrix, expanded: one planned episode per fault x frequency x seed x policy, in
 * that nesting order, so the episodes of one paired comparison (same cell and seed, every
 * policy) sit next to each other. A plan is a pure function of the scenario and the
 * command-line narrowing (`--seeds`, `--policies`); its hash names what a run computes,
 * which is what `--resume` and `harness merge` match on.
 */
import { createHash } from "node:crypto";
import type { FaultCell, FrequencyCell, PolicyCell, Scenario } from "../scenarios/schema.ts";
import type { Shard } from "./core/runs.ts";

export interface PlannedEpisode {
  /** Position in the full (unsharded) plan. */
  readonly index: number;
  /** `fault|frequency|policy|seed`: unique within a plan, stable across runs of it. */
  readonly key: string;
  readonly fault: FaultCell;
  readonly frequency: FrequencyCell;
  readonly policy: PolicyCell;
  readonly seed: number;
}

export interface PlanOptions {
  /** Run only these seeds (each must be one of the scenario's). */
  readonly seeds?: readonly number[];
  /** Run only these policy labels (each must be on the policy axis). */
  readonly policies?: readonly string[];
}

export function episodeKey(fault: string, frequency: string, policy: string, seed: number): string {
  return `${fault}|${frequency}|${policy}|${seed}`;
}

/** Expands the matrix; throws a message naming what is unknown when a narrowing does not fit. */
export function expandPlan(scenario: Scenario, options: PlanOptions = {}): PlannedEpisode[] {
  const seeds = narrow(scenario.seeds, options.seeds, "seed", String);
  const policies = narrow(scenario.matrix.policy, options.policies, "policy", (p) => p.label);
  const plan: PlannedEpisode[] = [];
  for (const fault of scenario.matrix.fault) {
    for (const frequency of scenario.matrix.frequency) {
      for (const seed of seeds) {
        for (const policy of policies) {
          const key = episodeKey(fault.label, frequency.label, policy.label, seed);
          plan.push({ index: plan.length, key, fault, frequency, policy, seed });
        }
      }
    }
  }
  return plan;
}

function narrow<T, K extends string | number>(
  all: readonly T[],
  wanted: readonly K[] | undefined,
  what: string,
  id: (t: T) => string,
): T[] {
  if (wanted === undefined) return [...all];
  const byId = new Map(all.map((t) => [id(t), t]));
  return wanted.map((w) => {
    const t = byId.get(String(w));
    if (t === undefined) {
      throw new Error(
        `Expected ${what} ${JSON.stringify(w)} to be one of the scenario's: ${[...byId.keys()].join(", ")}`,
      );
    }
    return t;
  });
}

/**
 * A deterministic 1/N slice: episode `k` of the plan goes to shard `k mod N + 1`. Dealing
 * round-robin (not in blocks) spreads every policy and fault over all shards, so shards take
 * about equally long.
 */
export function shardOf(plan: readonly PlannedEpisode[], shard: Shard | null): PlannedEpisode[] {
  if (shard === null) return [...plan];
  return plan.filter((e) => e.index % shard.count === shard.index - 1);
}

/** What a run of this plan computes: the scenario text's hash and the episode keys, in order. */
export function planSha256(scenarioSha256: string, plan: readonly PlannedEpisode[]): string {
  const h = createHash("sha256").update(scenarioSha256);
  for (const e of plan) h.update("\n").update(e.key);
  return h.digest("hex");
}
