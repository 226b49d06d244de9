/**
 * Where episodes run, by the scenario's `backend` name. This is the one place that knows
 * the concrete backends; the loop and the runner only ever see the contract's `Backend`.
 */
import type { Scenario } from "../scenarios/schema.ts";
import { SimBackend } from "../sim/backend.ts";
import { seedReward } from "../sim/reward.ts";
import { workloadSeries } from "../sim/workload.ts";
import type { Action, Backend, ReplicaLimits, Snapshot } from "./core/contract.ts";

/** A backend holding real resources: `close` releases them and throws naming what it could not. */
export interface ClosableBackend extends Backend {
  close(): Promise<void>;
}

/** Which run and episode a backend is opened for (a cluster labels its chaos objects with them). */
export interface EpisodeWhere {
  readonly runId: string;
  readonly episode: number;
}

export interface BackendFactory {
  /**
   * A fresh deployment for one episode; workload and dynamics seeded by `seed`. `loadSeries`
   * (a replay's recorded load, one rate per step) replaces the seed's workload series.
   */
  create?(scenario: Scenario, seed: number, loadSeries?: ArrayLike<number>): Backend;
  /**
   * For backends that start real things (processes, servers): started asynchronously, closed
   * by the caller on every exit path. Used instead of `create` when present.
   */
  open?(
    scenario: Scenario,
    seed: number,
    signal?: AbortSignal,
    where?: EpisodeWhere,
    loadSeries?: ArrayLike<number>,
  ): Promise<ClosableBackend>;
  /**
   * Episodes run one at a time in the main thread (a real testbed is one deployment, its
   * processes and signal handling belong to the main thread). @default false
   */
  readonly inProcess?: boolean;
  /**
   * In-process episodes that may run at once, each on its own deployment (a testbed of its
   * own); `--jobs` can only lower it. @default 1
   */
  maxConcurrency?(scenario: Scenario): number;
  /** The reward recorded with each step (the simulator's reward registry). */
  readonly reward: (prev: Readonly<Snapshot>, cur: Readonly<Snapshot>, action: Action, limits: ReplicaLimits) => number;
}

export const backends: Record<Scenario["backend"], BackendFactory | null> = {
  sim: {
    create: (scenario, seed, loadSeries) =>
      new SimBackend({
        seed,
        params: scenario.sim,
        workload: scenario.workload,
        ...(loadSeries ? { loadSeries } : {}),
      }),
    reward: seedReward,
  },
  local: {
    // Imported on use: the simulator path (and its worker threads) never loads the testbed.
    open: async (scenario, seed, signal, _where, loadSeries) => {
      const { scrapeIntervalS, parallelEpisodes: _, ...deployment } = scenario.local ?? { scrapeIntervalS: 1 };
      return (await import("../cluster/local/backend.ts")).LocalBackend.open({
        deployment,
        scrapeIntervalS,
        stepSeconds: scenario.stepSeconds,
        // The same load series the simulator would offer for this seed, in real requests per second.
        rates: loadSeries ?? workloadSeries(scenario.workload, scenario.stepSeconds, seed, scenario.steps),
        stop: { limits: scenario.stopConditions ?? {}, slo: scenario.slo },
        ...(signal ? { signal } : {}),
      });
    },
    inProcess: true,
    maxConcurrency: (scenario) => scenario.local?.parallelEpisodes ?? 1,
    reward: seedReward,
  },
  cluster: {
    // Imported on use, like the testbed: the simulator path never loads client-node.
    open: async (scenario, _seed, signal, where) =>
      (await import("../cluster/kube/backend.ts")).KubeBackend.open({
        cluster: scenario.cluster!,
        stepSeconds: scenario.stepSeconds,
        episodeSeconds: scenario.durationS,
        runId: where?.runId ?? `${scenario.name}-adhoc`,
        episode: where?.episode ?? 0,
        stop: { limits: scenario.stopConditions ?? {}, slo: scenario.slo },
        ...(signal ? { signal } : {}),
      }),
    // One deployment, watched by one informer: episodes one at a time in the main thread.
    inProcess: true,
    reward: seedReward,
  },
};

export function backendFor(scenario: Scenario): BackendFactory {
  const factory = backends[scenario.backend];
  if (factory === null) {
    throw new Error(`Backend "${scenario.backend}" is not available yet; run the scenario with backend: sim`);
  }
  return factory;
}
