/**
 * The Kubernetes Horizontal Pod Autoscaler's algorithm (pkg/controller/podautoscaler) on
 * CPU utilisation, moving one replica per decision toward its recommendation, since every
 * policy here acts through the same single-step actions.
 *
 * Replica math as pure functions that return a count and a reason, as upstream does:
 * - usage ratio = mean CPU of ready pods / target; within `tolerance` of 1 nothing changes;
 * - desired = ceil(serving pods x ratio); when scaling up, pods not yet ready count as 0% CPU
 *   (upstream's conservative rule), so pods already starting damp further scale-ups;
 * - scale-down stabilisation: the applied recommendation is the highest one of the last
 *   `downscaleStabilizationS` seconds (upstream default 300 s);
 * - scale-up rate limit: at most max(2 x current, current + 4) per `scaleUpPeriodS`;
 * - clamped to [minReplicas, maxReplicas].
 *
 * `targetCpu`'s default was tuned on the simulator by scripts/tune-baselines.ts (`npm run tune`;
 * policies/README.md, "Tuning"); the other three are upstream's constants and stay as they are.
 */
import { z } from "zod";
import { Action, type Decision, type ReplicaLimits, type Snapshot, type SyncPolicy } from "../harness/core/contract.ts";
import { definePolicy } from "./definition.ts";

export const hpaParamsSchema = z
  .object({
    targetCpu: z.number().gt(0).max(1).default(0.25).describe("Target mean CPU utilisation of ready pods, 0..1."),
    tolerance: z.number().min(0).max(1).default(0.1).describe("No change while |usage ratio - 1| <= tolerance."),
    downscaleStabilizationS: z
      .number()
      .min(0)
      .default(300)
      .describe("Scale down only to the highest recommendation of this many past seconds."),
    scaleUpPeriodS: z.number().positive().default(15).describe("Period of the scale-up rate limit, seconds."),
  })
  .strict();
export type HpaParams = z.output<typeof hpaParamsSchema>;

export interface Recommendation {
  readonly replicas: number;
  readonly reason: string;
}

/**
 * Upstream's `GetResourceReplicas` for one CPU metric: the raw recommendation. Drained pods
 * are replicas that will never serve, so the math sizes the serving pods and adds the
 * drained ones on top; pending pods are the "not ready yet" ones.
 */
export function recommendReplicas(s: Snapshot, p: HpaParams): Recommendation {
  const serving = s.readyReplicas - s.drained;
  const current = s.desiredReplicas;
  if (serving <= 0) return { replicas: current, reason: "no serving pod: no CPU reading to scale on" };
  const ratio = s.cpu / p.targetCpu;
  if (Math.abs(ratio - 1) <= p.tolerance) {
    return { replicas: current, reason: `cpu ${fmt(s.cpu)} within tolerance of target ${fmt(p.targetCpu)}` };
  }
  const starting = s.pending;
  if (ratio > 1 && starting > 0) {
    // Pods not ready yet count as 0% CPU when scaling up: load will spread onto them once ready.
    const damped = (s.cpu * serving) / (p.targetCpu * (serving + starting));
    if (damped <= 1 + p.tolerance) {
      return { replicas: current, reason: `cpu ${fmt(s.cpu)} high but ${starting} pod(s) not ready yet` };
    }
    return {
      replicas: Math.ceil(damped * (serving + starting)) + s.drained,
      reason: `cpu ${fmt(s.cpu)} above target ${fmt(p.targetCpu)}`,
    };
  }
  return {
    replicas: Math.ceil(serving * ratio) + s.drained,
    reason: `cpu ${fmt(s.cpu)} ${ratio > 1 ? "above" : "below"} target ${fmt(p.targetCpu)}`,
  };
}

/** Upstream's scale-up limit: at most double, or four more pods, whichever is larger. */
export function scaleUpLimit(current: number): number {
  return Math.max(2 * current, current + 4);
}

/**
 * Applies stabilisation, rate limit and bounds to a raw recommendation, given the
 * recommendations of the stabilisation window (including this one) and the replica count
 * at the start of the current scale-up period.
 */
export function applyRules(
  raw: number,
  current: number,
  windowMax: number,
  periodStartReplicas: number,
  limits: ReplicaLimits,
): Recommendation {
  let replicas = raw;
  let reason = "recommendation";
  if (raw < current) {
    // Scale-down stabilisation: never below the highest recent recommendation.
    replicas = Math.min(current, windowMax);
    if (replicas > raw) reason = "scale-down held by the stabilisation window";
  }
  const upLimit = scaleUpLimit(periodStartReplicas);
  if (replicas > upLimit) {
    replicas = upLimit;
    reason = "scale-up rate limit";
  }
  if (replicas > limits.maxReplicas) {
    replicas = limits.maxReplicas;
    reason = "maxReplicas";
  }
  if (replicas < limits.minReplicas) {
    replicas = limits.minReplicas;
    reason = "minReplicas";
  }
  return { replicas, reason };
}

function fmt(x: number): string {
  return x.toFixed(2);
}

export const hpa = definePolicy({
  description: "Kubernetes HPA on CPU (tolerance, 300 s scale-down stabilisation, scale-up rate limit).",
  params: hpaParamsSchema,
  create: (params, ctx): SyncPolicy => {
    // Recommendations within the stabilisation window, as (time, replicas) pairs; a ring would
    // be cheaper, but a window holds at most downscaleStabilizationS / stepSeconds entries.
    let history: { time: number; replicas: number }[] = [];
    let periodStart = Number.NEGATIVE_INFINITY;
    let periodStartReplicas = 0;
    const decision: Decision = { action: Action.Noop, confidence: 1, reason: "" };
    return {
      name: "hpa",
      reset() {
        history = [];
        periodStart = Number.NEGATIVE_INFINITY;
      },
      decide(_state, s) {
        const current = s.desiredReplicas;
        if (s.time - periodStart >= params.scaleUpPeriodS) {
          periodStart = s.time;
          periodStartReplicas = current;
        }
        const raw = recommendReplicas(s, params);
        history.push({ time: s.time, replicas: raw.replicas });
        const horizon = s.time - params.downscaleStabilizationS;
        while (history.length > 0 && history[0]!.time < horizon) history.shift();
        let windowMax = raw.replicas;
        for (const h of history) windowMax = Math.max(windowMax, h.replicas);
        const rec = applyRules(raw.replicas, current, windowMax, periodStartReplicas, ctx.limits);
        decision.action =
          rec.replicas > current ? Action.ScaleUp : rec.replicas < current ? Action.ScaleDown : Action.Noop;
        decision.reason = `${raw.reason}; desired ${rec.replicas} (${rec.reason}), current ${current}`;
        return decision;
      },
    };
  },
});
