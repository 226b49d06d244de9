/**
 * Where episodes run, by the scenario's `backend` name. This is the one place that knows
 * the concrete backends; the loop and the runner only ever see the contract's `Backend`.
 */
import type { Scenario } from "../scenarios/schema.ts";
import { SimBackend } from "../sim/backend.ts";
import { seedReward } from "../sim/reward.ts";
import type { Action, Backend, ReplicaLimits, Snapshot } from "./contract.ts";

export interface BackendFactory {
  /** A fresh deployment for one episode; workload and dynamics seeded by `seed`. */
  create(scenario: Scenario, seed: number): Backend;
  /** The reward recorded with each step (the simulator's reward registry). */
  readonly reward: (prev: Readonly<Snapshot>, cur: Readonly<Snapshot>, action: Action, limits: ReplicaLimits) => number;
}

export const backends: Record<Scenario["backend"], BackendFactory | null> = {
  sim: {
    create: (scenario, seed) => new SimBackend({ seed, params: scenario.sim, workload: scenario.workload }),
    reward: seedReward,
  },
  // The cluster backend (cluster/) is a later issue.
  cluster: null,
};

export function backendFor(scenario: Scenario): BackendFactory {
  const factory = backends[scenario.backend];
  if (factory === null) {
    throw new Error(`Backend "${scenario.backend}" is not available yet; run the scenario with backend: sim`);
  }
  return factory;
}
