/**
 * One planned episode, start to finish: build its backend, fault schedule and policy from
 * the scenario and the seed, run the controller loop, and return the trace with what the
 * store records about it. A policy or backend that fails ends the episode as `failed`
 * with the error kept; it never takes the run down.
 */

import { podCapacityRps } from "../cluster/local/spec.ts";
import { createPolicy, type PolicyName, preparePolicy } from "../policies/index.ts";
import type { Scenario } from "../scenarios/schema.ts";
import { backendFor, type ClosableBackend } from "./backends.ts";
import type { FaultInjection } from "./core/contract.ts";
import { NOOP_FALLBACK } from "./core/guard.ts";
import { generateSchedule } from "./core/schedule.ts";
import { runEpisode } from "./loop.ts";
import type { PlannedEpisode } from "./plan.ts";
import { type EpisodeTrace, TraceRecorder } from "./trace.ts";

export type EpisodeStatus = "completed" | "aborted" | "failed";

export interface EpisodeOutcome {
  readonly index: number;
  readonly key: string;
  readonly status: EpisodeStatus;
  readonly error: string | null;
  readonly wallMs: number;
  readonly trace: EpisodeTrace;
}

/**
 * What a replay takes from a recorded episode (harness/replay.ts) instead of generating it
 * from the seed: the fault schedule and, where the recording has it, the offered load.
 */
export interface RecordedInputs {
  readonly schedule: readonly FaultInjection[];
  /** One rate per step before load spikes (`steps.load_rps`); absent: the seed's series. */
  readonly loadSeries?: ArrayLike<number>;
}

export async function runPlannedEpisode(
  scenario: Scenario,
  planned: PlannedEpisode,
  signal?: AbortSignal,
  recorded?: RecordedInputs,
  /** The run this episode belongs to, for backends that label what they create. */
  runId?: string,
): Promise<EpisodeOutcome> {
  const started = performance.now();
  const recorder = new TraceRecorder(scenario.steps);
  const { seed } = planned;
  let status: EpisodeStatus = "failed";
  let error: string | null = null;
  try {
    const factory = backendFor(scenario);
    const limits = scenario.guard;
    const ctx = { seed, limits, stepSeconds: scenario.stepSeconds, slo: scenario.slo };
    // Loading a model file is asynchronous and `createPolicy` is not: load first (cached per thread).
    await preparePolicy(planned.policy.name, planned.policy.params);
    const policy = createPolicy(planned.policy.name, planned.policy.params, ctx);
    const fallbackName = limits.fallback === NOOP_FALLBACK ? null : (limits.fallback as PolicyName);
    if (fallbackName) await preparePolicy(fallbackName, {});
    const fallback = fallbackName ? createPolicy(fallbackName, {}, ctx) : null;
    policy.reset?.(seed);
    fallback?.reset?.(seed);
    // No approver in batch runs: in approve mode every proposal is recorded as AwaitingApproval.
    // A real backend is opened (processes, Prometheus) and closed on every exit path below.
    const load = recorded?.loadSeries;
    const where = runId === undefined ? undefined : { runId, episode: planned.index };
    const backend = factory.open
      ? await factory.open(scenario, seed, signal, where, load)
      : factory.create!(scenario, seed, load);
    const close = "close" in backend ? () => (backend as ClosableBackend).close() : null;
    const result = await runEpisode(
      {
        backend,
        policy,
        fallback,
        schedule:
          recorded?.schedule ??
          generateSchedule({
            faults: planned.fault.faults,
            frequency: planned.frequency.frequency,
            inject: planned.fault.inject,
            episodeSeconds: scenario.durationS,
            seed,
          }),
        steps: scenario.steps,
        stepSeconds: scenario.stepSeconds,
        codec: {
          maxReplicas: limits.maxReplicas,
          episodeSeconds: scenario.durationS,
          podCapacityRps: deploymentCapacityRps(scenario),
        },
        limits,
        slo: scenario.slo,
        confirmWindowS: scenario.slo.confirmWindowS,
        reward: factory.reward,
        signal,
      },
      recorder,
    ).finally(async () => {
      await close?.();
    });
    status = result.status;
  } catch (err) {
    error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  return {
    index: planned.index,
    key: planned.key,
    status,
    error,
    wallMs: performance.now() - started,
    trace: recorder.trace,
  };
}

/**
 * Per-pod capacity for the codecs that need it (obs-v2): the simulator's parameter, the
 * testbed's CPU limit over a request's CPU time, a cluster's stated `cluster.podCapacityRps`
 * (undefined when it states none: the obs-v2 encoder then refuses, rather than guess).
 */
export function deploymentCapacityRps(scenario: Scenario): number | undefined {
  if (scenario.backend === "sim") return scenario.sim.podCapacityRps;
  if (scenario.backend === "local" && scenario.local !== undefined) return podCapacityRps(scenario.local);
  if (scenario.backend === "cluster") return scenario.cluster?.podCapacityRps;
  return undefined;
}
