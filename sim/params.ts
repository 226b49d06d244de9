/**
 * Parameters of the simulated deployment and of its workload. These zod schemas are the
 * single source of the simulator's defaults; scenario files embed them (`sim:` and
 * `workload:`), and `SimEnv.reset` accepts their input form.
 *
 * Calibration (see sim/README.md, "Calibration"): with the defaults, 3 replicas at the
 * base load of 150 rps serve 50 rps each, i.e. half of a pod's 100 rps capacity, so their
 * CPU sits at idleCpu + (1 - idleCpu) * 0.5 = 0.51; a 2x load spike puts them at 100% CPU,
 * p95 latency at 350 ms (7x the base) and errors near 5%, past the default SLO (300 ms, 1%).
 */
import { z } from "zod";

const stepRange = z
  .tuple([z.number().int().positive(), z.number().int().positive()])
  .refine(([lo, hi]) => lo <= hi, { message: "Expected [min, max] with min <= max" });

export const simParamsSchema = z
  .object({
    stepSeconds: z.number().positive().default(10).describe("Simulated seconds per step (one observation interval)."),
    episodeSteps: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe("Steps per episode: SimEnv truncates at this limit."),
    initialReplicas: z.number().int().min(1).default(3).describe("Replicas at reset."),
    minReplicas: z.number().int().min(1).default(1).describe("The deployment never scales below this (never 0)."),
    maxReplicas: z.number().int().min(1).max(64).default(10).describe("The deployment never scales above this."),
    podCapacityRps: z.number().positive().default(100).describe("Requests per second one pod serves at 100% CPU."),
    idleCpu: z
      .number()
      .min(0)
      .lt(1)
      .default(0.02)
      .describe("CPU utilisation of an idle pod; the rest of its CPU scales with its request rate."),
    baseLatencyMs: z.number().positive().default(50).describe("Latency of an unloaded pod, ms."),
    latencyKneeCpu: z.number().min(0).lt(1).default(0.8).describe("CPU demand past which latency rises."),
    latencyGain: z
      .number()
      .min(0)
      .default(6)
      .describe("Latency rise past the knee: at 100% CPU demand latency is baseLatencyMs * (1 + latencyGain)."),
    errorKneeCpu: z.number().min(0).lt(1).default(0.9).describe("CPU demand past which errors rise."),
    baseErrorRate: z.number().min(0).max(1).default(0.001).describe("Error rate of a pod within its capacity."),
    errorGain: z
      .number()
      .min(0)
      .default(0.05)
      .describe("Error rate added at 100% CPU demand (linear from the knee); past 100% the excess is also shed."),
    timeoutLatencyMs: z
      .number()
      .positive()
      .default(10_000)
      .describe("Client timeout, ms: the cap of any latency, and the service latency when no pod serves."),
    baseMemory: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .describe("Memory utilisation of a fresh pod, share of its limit."),
    memoryLoadGain: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe("Memory added at full load (share of the limit, linear in the load up to capacity)."),
    degradedLatencyMs: z
      .number()
      .positive()
      .default(200)
      .describe("A ready pod whose latency exceeds this is degraded, ms."),
    degradedErrorRate: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe("A ready pod whose error rate exceeds this is degraded."),
    degradedMemory: z
      .number()
      .min(0)
      .max(1)
      .default(0.9)
      .describe("A ready pod whose memory utilisation exceeds this is degraded (memory pressure)."),
    smoothing: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe("Share of the gap to its target a metric closes each step (metrics move gradually)."),
    startupSteps: stepRange
      .default([2, 4])
      .describe("Steps a new pod (scale-up, ReplicaSet replacement) takes to be ready."),
    restartSteps: stepRange
      .default([3, 5])
      .describe("Steps a restarted pod (restart action, or the kubelet after a crash) takes to be ready."),
    backoffInitialS: z.number().positive().default(10).describe("Kubelet crash back-off: first delay, seconds."),
    backoffCapS: z
      .number()
      .positive()
      .default(300)
      .describe("Kubelet crash back-off: cap, seconds (the delay doubles up to it)."),
    backoffResetS: z
      .number()
      .positive()
      .default(600)
      .describe("A container that runs this long without crashing has its back-off reset, seconds."),
    overloadCrashLoad: z
      .number()
      .positive()
      .default(1.5)
      .describe("Offered load (share of a pod's capacity) past which a pod may crash (cascading failure)."),
    overloadCrashProb: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe("Per-step chance that a pod offered more than overloadCrashLoad x its capacity crashes."),
    stressEffect: z
      .number()
      .min(0)
      .default(1)
      .describe(
        "Effect size of cpu-stress: the CPU demand added is the fault's `load` times this (a calibration knob; 1 = as specified).",
      ),
    delayEffect: z
      .number()
      .min(0)
      .default(1)
      .describe(
        "Effect size of network-delay: the latency added is the fault's `delayMs` times this (a calibration knob; 1 = as specified).",
      ),
    leakEffect: z
      .number()
      .min(0)
      .default(1)
      .describe(
        "Effect size of memory-leak: the memory leaked is the fault's `ratePerMin` times this (a calibration knob; 1 = as specified).",
      ),
  })
  .strict()
  .refine((p) => p.minReplicas <= p.maxReplicas, { message: "Expected minReplicas <= maxReplicas" })
  .refine((p) => p.initialReplicas >= p.minReplicas && p.initialReplicas <= p.maxReplicas, {
    message: "Expected initialReplicas within [minReplicas, maxReplicas]",
  });
export type SimParamsInput = z.input<typeof simParamsSchema>;
export type SimParams = z.output<typeof simParamsSchema>;

export const WORKLOAD_PATTERNS = ["constant", "diurnal", "random-walk"] as const;

export const workloadSchema = z
  .object({
    pattern: z.enum(WORKLOAD_PATTERNS).default("constant").describe("Shape of the offered request rate over time."),
    baseRps: z.number().positive().default(150).describe("Mean offered request rate, requests per second."),
    noise: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe(
        "Relative standard deviation of the per-step multiplicative noise (bounded; the rate never goes below 0).",
      ),
    amplitude: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .describe(
        "Relative swing around baseRps: diurnal, the sinusoid's amplitude; random-walk, the bound of the walk (1 ± amplitude).",
      ),
    periodS: z.number().positive().default(2000).describe("diurnal: period of one cycle, seconds."),
    walkStep: z
      .number()
      .min(0)
      .max(1)
      .default(0.02)
      .describe("random-walk: largest relative change of the level per step (uniform in ±walkStep)."),
  })
  .strict();
export type WorkloadInput = z.input<typeof workloadSchema>;
export type Workload = z.output<typeof workloadSchema>;
