/**
 * Parameters of the simulated deployment and of its workload. These zod schemas are the
 * single source of the simulator's defaults; scenario files embed them (`sim:` and
 * `workload:`), and `SimEnv.reset` accepts their input form.
 *
 * Calibration (see sim/README.md): with the defaults, 3 replicas at the base load of
 * 150 rps serve 50 rps each, i.e. 50% of a pod's 100 rps capacity; a 2x load spike puts
 * them at 100% and pushes latency and errors past the default SLO.
 */
import { z } from "zod";

const stepRange = z
  .tuple([z.number().int().positive(), z.number().int().positive()])
  .refine(([lo, hi]) => lo <= hi, { message: "Expected [min, max] with min <= max" });

export const simParamsSchema = z
  .object({
    initialReplicas: z.number().int().min(1).default(3).describe("Replicas at reset."),
    minReplicas: z.number().int().min(1).default(1).describe("The deployment never scales below this (never 0)."),
    maxReplicas: z.number().int().min(1).max(64).default(10).describe("The deployment never scales above this."),
    podCapacityRps: z.number().positive().default(100).describe("Requests per second one pod serves at 100% CPU."),
    idleCpu: z.number().min(0).max(1).default(0.05).describe("CPU utilisation of an idle pod."),
    baseLatencyMs: z.number().positive().default(50).describe("Latency of an unloaded pod, ms."),
    baseMemory: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .describe("Memory utilisation of a fresh pod, share of its limit."),
    latencyKneeCpu: z.number().min(0).max(1).default(0.8).describe("CPU utilisation past which latency rises."),
    errorKneeCpu: z.number().min(0).max(1).default(0.9).describe("CPU utilisation past which errors rise."),
    smoothing: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe("Share of the gap to its target a metric closes each step (metrics move gradually)."),
    startupSteps: stepRange
      .default([2, 4])
      .describe("Steps a new pod (scale-up, ReplicaSet replacement) takes to be ready."),
    restartSteps: stepRange.default([3, 5]).describe("Steps a restart action takes until the new pod is ready."),
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
    overloadCrashProb: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe("Per-step chance that a pod offered more than 1.5x its capacity crashes (cascading failure)."),
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
    noise: z.number().min(0).max(1).default(0.05).describe("Relative standard deviation of per-step noise."),
    amplitude: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .describe("diurnal: relative swing around baseRps; random-walk: relative step size bound."),
    periodS: z.number().positive().default(2000).describe("diurnal: period of one cycle, seconds."),
  })
  .strict();
export type WorkloadInput = z.input<typeof workloadSchema>;
export type Workload = z.output<typeof workloadSchema>;

/**
 * How often faults are injected: every `intervalS` seconds starting at `offsetS`, or as a
 * Poisson process with mean gap `meanIntervalS`. Scenario files name levels of it
 * (e.g. `low`, `high`) on their `frequency` axis.
 */
export const frequencySchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("fixed"),
      intervalS: z.number().positive().describe("Seconds between injections."),
      offsetS: z.number().min(0).optional().describe("Time of the first injection, seconds; defaults to intervalS."),
    })
    .strict(),
  z
    .object({
      kind: z.literal("poisson"),
      meanIntervalS: z.number().positive().describe("Mean seconds between injections (exponential gaps)."),
    })
    .strict(),
]);
export type Frequency = z.output<typeof frequencySchema>;
