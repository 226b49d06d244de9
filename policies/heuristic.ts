/**
 * The rule-based recovery policy an SRE would write first, with every threshold exposed
 * so that it can be tuned (scripts/tune-baselines.ts) before anything is compared with it.
 * Rules, first match wins:
 * 1. a crashed pod -> restart it (skips the kubelet's growing back-off);
 * 2. high CPU or high latency while the load explains it -> scale up;
 * 3. a pod's memory above `memoryHigh` -> restart it, before the OOM kill;
 * 4. a pod degraded for `degradedSteps` consecutive decisions while the service is not
 *    overloaded -> restart it (or drain it, when `drainSlowPods` and its latency is the
 *    problem rather than its errors);
 * 5. CPU below `cpuLow` for `lowCpuSteps` consecutive decisions -> scale down;
 * otherwise noop.
 *
 * The defaults were tuned on the simulator by scripts/tune-baselines.ts (`npm run tune`):
 * max uptime on training seeds 10000..10019, then least replica-seconds; policies/README.md
 * ("Tuning") has the grid, the results and the previous defaults. Re-run that script rather
 * than editing a default by hand.
 */
import { z } from "zod";
import {
  Action,
  type Decision,
  PodPhase,
  type PodTable,
  pickTargetPod,
  type Snapshot,
  type SyncPolicy,
} from "../harness/core/contract.ts";
import { definePolicy } from "./definition.ts";

export const heuristicParamsSchema = z
  .object({
    cpuHigh: z.number().gt(0).max(1).default(0.45).describe("Scale up when mean CPU exceeds this, 0..1."),
    latencyHighMs: z
      .number()
      .positive()
      .default(250)
      .describe("Scale up when service latency exceeds this while CPU is above cpuLoaded, ms."),
    cpuLoaded: z
      .number()
      .min(0)
      .max(1)
      .default(0.75)
      .describe("CPU above which high latency is blamed on load (scale up) rather than on one pod."),
    cpuLow: z.number().min(0).max(1).default(0.25).describe("Scale down when mean CPU stays below this, 0..1."),
    lowCpuSteps: z.number().int().min(1).default(8).describe("Consecutive low-CPU decisions before scaling down."),
    restartCrashed: z.boolean().default(true).describe("Restart crashed pods instead of waiting for the kubelet."),
    degradedSteps: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe("Consecutive decisions a pod must stay degraded before it is acted on."),
    drainSlowPods: z
      .boolean()
      .default(false)
      .describe("Drain (rather than restart) a degraded pod whose problem is latency, not errors or memory."),
    memoryHigh: z.number().gt(0).max(1).default(0.85).describe("Restart a pod whose memory exceeds this, 0..1."),
  })
  .strict();

/** Highest memory utilisation among running pods: a leak shows here before it shows in the mean. */
function maxMemory(pods: PodTable): number {
  let m = 0;
  for (let i = 0; i < pods.count; i++) {
    if (pods.phase[i] === PodPhase.Healthy || pods.phase[i] === PodPhase.Degraded) m = Math.max(m, pods.memory[i]!);
  }
  return m;
}

export const heuristic = definePolicy({
  description: "Threshold rules: restart crashed/degraded pods, drain slow ones, scale on CPU and latency.",
  params: heuristicParamsSchema,
  create: (p, ctx): SyncPolicy => {
    let lowCpuFor = 0;
    let degradedFor = 0;
    const decision: Decision = { action: Action.Noop, confidence: 1, reason: "" };
    const act = (action: Action, reason: string): Decision => {
      decision.action = action;
      decision.reason = reason;
      return decision;
    };
    return {
      name: "heuristic",
      reset() {
        lowCpuFor = 0;
        degradedFor = 0;
      },
      decide(_state, s: Snapshot) {
        lowCpuFor = s.cpu < p.cpuLow ? lowCpuFor + 1 : 0;
        degradedFor = s.degraded > 0 ? degradedFor + 1 : 0;
        const pods = s.podTable;
        const canScaleUp = s.desiredReplicas < ctx.limits.maxReplicas;

        if (p.restartCrashed && s.crashed > 0) {
          return act(Action.RestartPod, `${s.crashed} crashed pod(s)`);
        }
        const loaded = s.cpu > p.cpuLoaded;
        if (canScaleUp && (s.cpu > p.cpuHigh || (loaded && s.latencyMs > p.latencyHighMs))) {
          return act(Action.ScaleUp, `cpu ${s.cpu.toFixed(2)}, latency ${s.latencyMs.toFixed(0)} ms`);
        }
        if (pods && maxMemory(pods) > p.memoryHigh) {
          return act(Action.RestartPod, `pod memory above ${p.memoryHigh}`);
        }
        if (degradedFor >= p.degradedSteps && !loaded) {
          const target = pods ? pickTargetPod(pods, Action.DrainPod) : -1;
          const slowNotFailing =
            target >= 0 && pods!.errorRate[target]! < 0.05 && pods!.latencyMs[target]! > p.latencyHighMs;
          if (p.drainSlowPods && slowNotFailing) {
            return act(
              Action.DrainPod,
              `pod slow (${pods!.latencyMs[target]!.toFixed(0)} ms) for ${degradedFor} steps`,
            );
          }
          return act(Action.RestartPod, `${s.degraded} degraded pod(s) for ${degradedFor} steps`);
        }
        if (lowCpuFor >= p.lowCpuSteps && s.desiredReplicas > ctx.limits.minReplicas && s.degraded === 0) {
          return act(Action.ScaleDown, `cpu ${s.cpu.toFixed(2)} below ${p.cpuLow} for ${lowCpuFor} steps`);
        }
        return act(Action.Noop, "all within thresholds");
      },
    };
  },
});
