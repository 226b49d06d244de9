/**
 * The guard: the one safety gate between a policy's proposal and the backend, shared by
 * the controller loop and RL training so that a trained policy learns under the same
 * limits it is evaluated and deployed under. Modelled on the HPA's
 * `convertDesiredReplicasWithRules`: a pure function that returns what to execute and a
 * stable reason code, written verbatim to the audit log.
 *
 * Precedence (first match wins; see {@link guard}):
 *   1. noop proposed              -> Noop (or PolicyUnavailable when it came from the fallback)
 *   2. paused                     -> Paused
 *   3. observe-only mode          -> ObserveOnly
 *   4. metrics missing            -> MetricsUnavailable
 *   5. scale-down at/below min    -> MinReplicas
 *   6. scale-up at/above max      -> MaxReplicas
 *   7. too soon after last action -> MinInterval
 *   8. approve mode, not approved -> AwaitingApproval
 *   9. otherwise                  -> Allowed (or PolicyUnavailable when it came from the fallback)
 */
import { z } from "zod";
import { ACTION_COUNT, ACTION_NAMES, Action, missingNames } from "./contract.ts";

export const GUARD_MODES = ["observe-only", "approve", "autonomous"] as const;
export type GuardMode = (typeof GUARD_MODES)[number];

/** What the loop does when the policy throws or times out. */
export const NOOP_FALLBACK = "noop";

/**
 * Guard limits, as a scenario's `guard:` section and the long-running controller's config
 * state them. The scenario schema narrows `fallback` to the policy registry's names; it is
 * a plain string here so the guard does not depend on `policies/` (training imports it).
 */
export const guardLimitsSchema = z
  .object({
    mode: z
      .enum(GUARD_MODES)
      .default("autonomous")
      .describe(
        "observe-only: record proposals, execute nothing; approve: execute only approved actions; autonomous: execute every allowed action.",
      ),
    paused: z.boolean().default(false).describe("Execute nothing while true (the operator's stop switch)."),
    minIntervalS: z
      .number()
      .min(0)
      .default(60)
      .describe("Minimum seconds between two executed actions (any action but noop)."),
    minReplicas: z.number().int().min(1).default(1).describe("Scale-down is refused at this count; never below 1."),
    maxReplicas: z.number().int().min(1).default(10).describe("Scale-up is refused at this count."),
    fallback: z
      .string()
      .min(1)
      .default(NOOP_FALLBACK)
      .describe("Decides in place of a policy that throws or times out: noop, or a policy name from the registry."),
    policyTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("A policy that has not decided within this many milliseconds is treated as unavailable."),
  })
  .strict()
  .refine((l) => l.minReplicas <= l.maxReplicas, {
    message: "Expected minReplicas <= maxReplicas",
    path: ["maxReplicas"],
  });
export type GuardLimitsInput = z.input<typeof guardLimitsSchema>;
export type GuardLimits = z.output<typeof guardLimitsSchema>;

/** Stable reason codes, written verbatim to the audit log: never rename one. */
export const GuardReason = {
  /** The proposed action is executed. */
  Allowed: "Allowed",
  /** The policy proposed noop; nothing to guard. */
  Noop: "Noop",
  /** Mode `observe-only`: proposals are recorded, never executed. */
  ObserveOnly: "ObserveOnly",
  /** Mode `approve`: the action would be allowed but nobody approved it (yet). */
  AwaitingApproval: "AwaitingApproval",
  /** The pause switch is on. */
  Paused: "Paused",
  /** Too soon after the last executed action. */
  MinInterval: "MinInterval",
  /** Scale-down at or below the minimum replica count. */
  MinReplicas: "MinReplicas",
  /** Scale-up at or above the maximum replica count. */
  MaxReplicas: "MaxReplicas",
  /** The policy threw or timed out and the fallback's action passed (or was noop). */
  PolicyUnavailable: "PolicyUnavailable",
  /** The snapshot had missing metrics: acting on defaulted values would be blind. */
  MetricsUnavailable: "MetricsUnavailable",
  /** Allowed, but the backend failed to carry it out (after its retries, for a transient failure). */
  ExecuteFailed: "ExecuteFailed",
} as const;
export type GuardReason = (typeof GuardReason)[keyof typeof GuardReason];

export interface GuardProposal {
  readonly action: Action;
  /**
   * Set when the policy threw or timed out and `action` is the fallback's decision instead:
   * why the policy was unavailable (e.g. "timed out after 1000 ms"), for the message.
   */
  readonly policyError?: string;
}

export interface GuardContext {
  /** Seconds since the episode (or controller) started. */
  readonly now: number;
  /** Time of the last executed action other than noop, seconds; null when none yet. */
  readonly lastActionAt: number | null;
  /** The replica count currently asked of the deployment (`Snapshot.desiredReplicas`). */
  readonly desiredReplicas: number;
  /** `Snapshot.missing`: bitmask of metrics that were absent; any bit set refuses action. */
  readonly missing: number;
  /**
   * Runtime pause switch (e.g. flipped by an operator on the long-running controller),
   * on top of `limits.paused`.
   * @default false
   */
  readonly paused?: boolean;
  /**
   * In `approve` mode, whether this proposal was approved. Ask the approver only after
   * a first call returned `AwaitingApproval` (every other rule passed), then call again
   * with `approved: true`; on the simulator an approval policy may simply say yes.
   * @default false
   */
  readonly approved?: boolean;
}

export interface GuardResult {
  /** What to execute: the proposed action, or noop when refused. */
  readonly action: Action;
  readonly reason: GuardReason;
  /** Human-readable why, for logs and the audit trail. */
  readonly message: string;
}

/**
 * Decides whether a proposed action is executed. Pure: same inputs, same result.
 *
 * The order of the rules (module doc) puts the switches an operator sets (pause, mode)
 * before facts about the data (missing metrics), then limits that make the action wrong
 * in itself (replica bounds) before the rate limit that only makes it early, and approval
 * last, so an approver is only ever asked about an action that would otherwise run.
 *
 * A fallback proposal (`policyError` set) passes through the same rules as any other: if
 * allowed it executes with reason `PolicyUnavailable` (the audit shows the policy was down
 * and who acted instead); if refused, the refusal reason wins, since that is why nothing
 * ran, and the message still says the policy was unavailable.
 */
export function guard(proposal: GuardProposal, context: GuardContext, limits: GuardLimits): GuardResult {
  const { action, policyError } = proposal;
  // Most steps of most policies: one shared result, nothing to build.
  if (action === Action.Noop && policyError === undefined) return NOOP_RESULT;
  const name = ACTION_NAMES[action];
  const prefix = policyError === undefined ? "" : `policy unavailable (${policyError}); fallback `;

  if (action === Action.Noop) {
    return result(Action.Noop, GuardReason.PolicyUnavailable, `${prefix}proposed noop`);
  }
  if (limits.paused || context.paused === true) {
    return refuse(GuardReason.Paused, `${prefix}${name} not executed: paused`);
  }
  if (limits.mode === "observe-only") {
    return refuse(GuardReason.ObserveOnly, `${prefix}${name} not executed: observe-only mode`);
  }
  if (context.missing !== 0) {
    const what = missingNames(context.missing).join(", ") || `mask ${context.missing}`;
    return refuse(GuardReason.MetricsUnavailable, `${prefix}${name} refused: metrics unavailable (${what})`);
  }
  const replicas = context.desiredReplicas;
  if (action === Action.ScaleDown && replicas <= limits.minReplicas) {
    return refuse(GuardReason.MinReplicas, `${prefix}${name} refused: ${count(limits.minReplicas)} is the minimum`);
  }
  if (action === Action.ScaleUp && replicas >= limits.maxReplicas) {
    return refuse(GuardReason.MaxReplicas, `${prefix}${name} refused: ${count(limits.maxReplicas)} is the maximum`);
  }
  if (context.lastActionAt !== null) {
    const since = context.now - context.lastActionAt;
    if (since < limits.minIntervalS) {
      return refuse(
        GuardReason.MinInterval,
        `${prefix}${name} refused: ${fmtSeconds(since)} since the last action, minimum is ${fmtSeconds(limits.minIntervalS)}`,
      );
    }
  }
  if (limits.mode === "approve" && context.approved !== true) {
    return refuse(GuardReason.AwaitingApproval, `${prefix}${name} awaits approval`);
  }
  const change =
    action === Action.ScaleUp
      ? `: ${replicas} -> ${replicas + 1} replicas`
      : action === Action.ScaleDown
        ? `: ${replicas} -> ${replicas - 1} replicas`
        : "";
  return policyError === undefined
    ? result(action, GuardReason.Allowed, `${name} allowed${change}`)
    : result(action, GuardReason.PolicyUnavailable, `${prefix}${name} executed${change}`);
}

/**
 * Which actions the guard's limits would let through now, as a mask over action ids
 * (1: allowed), written into `out`: what a policy trained with action masking
 * (policies/ppo, `actionMask: guard`) samples among, in training and at decision time alike.
 * `offset`: where in `out` the mask starts (one row of a batch of masks).
 *
 * Only the rules about the action itself are masked: the replica bounds and the minimum
 * interval. The operator's switches (pause, observe-only, approval) and missing metrics
 * are left to {@link guard}, so that what a policy would have done stays in the audit log
 * while it is refused. For an unpaused autonomous guard with complete metrics the mask is
 * exactly "guard(action) executes it" (guard.test.ts checks it over a grid).
 */
export function allowedActions(context: GuardContext, limits: GuardLimits, out: Uint8Array, offset = 0): Uint8Array {
  const early = context.lastActionAt !== null && context.now - context.lastActionAt < limits.minIntervalS;
  const replicas = context.desiredReplicas;
  out[offset + Action.Noop] = 1;
  out[offset + Action.RestartPod] = early ? 0 : 1;
  out[offset + Action.DrainPod] = early ? 0 : 1;
  out[offset + Action.ScaleUp] = early || replicas >= limits.maxReplicas ? 0 : 1;
  out[offset + Action.ScaleDown] = early || replicas <= limits.minReplicas ? 0 : 1;
  return out;
}

const NOOP_RESULT: GuardResult = Object.freeze({
  action: Action.Noop,
  reason: GuardReason.Noop,
  message: "policy proposed noop",
});

function result(action: Action, reason: GuardReason, message: string): GuardResult {
  return { action, reason, message };
}

function refuse(reason: GuardReason, message: string): GuardResult {
  return { action: Action.Noop, reason, message };
}

function count(n: number): string {
  return n === 1 ? "1 replica" : `${n} replicas`;
}

function fmtSeconds(s: number): string {
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/**
 * The index of the largest score among the allowed actions (`allowed[k]` 1; noop, always
 * allowed, wins when nothing else is), ties to the lowest index as an argmax: the decision
 * of a greedy policy over scores (logits or probabilities) under {@link allowedActions}.
 */
export function maskedArgmax(scores: ArrayLike<number>, allowed: ArrayLike<number>): Action {
  let best: Action = Action.Noop;
  for (let k = 1; k < ACTION_COUNT; k++) {
    if (allowed[k] === 1 && scores[k]! > scores[best]!) best = k as Action;
  }
  return best;
}
