/**
 * The simulator's pure-ish core, in the manner of Gymnasium's `FuncEnv`: every function
 * takes the state explicitly, and nothing else holds simulation state. The gym-style
 * shell (sim/env.ts) and the controller-loop backend (sim/backend.ts) are thin wrappers
 * around these functions.
 *
 * - `initial(params, workload, seed)` / `resetState(state, seed)`: the state at time 0
 * - `applyAction(state, action)`: an action, now
 * - `injectFault(state, injection)` / `clearFault(state, faultId)`: a fault starts / ends, now
 * - `advance(state)`: one step of dynamics (`stepSeconds` of simulated time)
 * - `observe(state, snapshot)`: fills a reused snapshot
 * - `terminal(state)`: no pod can serve
 *
 * "Pure-ish": the state is mutated in place (typed arrays, no allocation per step), and
 * its randomness lives in its own seeded streams, so a state's future is a function of its
 * seed and of the calls made on it.
 */
import { PodPhase } from "../harness/core/contract.ts";
import { loadRngState, type SeedStreams, streamRngs } from "../harness/core/rng.ts";
import type { SimParams, Workload } from "./params.ts";
import { podNamePrefix, podUidPrefix } from "./pod-names.ts";
import { addPod, SimState } from "./state.ts";
import { advanceWorkload, resetWorkload } from "./workload.ts";

export { applyAction, scaleDownVictim } from "./actions.ts";
export { advance, crashPod } from "./dynamics.ts";
export { clearFault, injectFault, targetRow } from "./faults.ts";
export { observe, terminal } from "./observe.ts";
export { SimState } from "./state.ts";

/**
 * Puts `s` at time 0 for `seed`: `initialReplicas` healthy pods (ids 0..n-1) in the steady
 * state of the first offered rate, no fault, fresh random streams (`rngs`: the seed's
 * streams, when the caller has already derived them). `loadSeries`, a recorded offered load
 * (one rate per step, before load spikes), replaces the seed's workload series.
 */
export function resetState(
  s: SimState,
  seed: number,
  rngs: SeedStreams = streamRngs(seed),
  loadSeries: ArrayLike<number> | null = null,
): SimState {
  const p = s.params;
  resetWorkload(s.workloadGen, s.workload, s.stepSeconds, rngs.workload, loadSeries);
  loadRngState(rngs.dynamics, s.dynamicsRng);
  s.step = 0;
  s.time = 0;
  s.nextId = 0;
  s.namesById.length = 0;
  s.uidsById.length = 0;
  if (s.namePods && s.podNamesSeed !== seed) {
    s.podNamesSeed = seed;
    s.podNamePrefix = podNamePrefix(seed);
    s.podUidPrefix = podUidPrefix(seed);
  }
  s.lastFailureS = 0;
  s.spikeCount = 0;
  s.spikeFactor = 1;
  s.liveFaults.clear();
  s.events.clear();
  s.pods.count = 0;
  s.desired = p.initialReplicas;

  advanceWorkload(s.workloadGen);
  const offered = s.workloadGen.rate;
  s.offeredRps = offered;
  const share = offered / p.initialReplicas;
  const load = share / p.podCapacityRps;
  const demand = p.idleCpu + (1 - p.idleCpu) * load;
  const latX = demand > p.latencyKneeCpu ? demand - p.latencyKneeCpu : 0;
  const errX = demand > p.errorKneeCpu ? demand - p.errorKneeCpu : 0;
  const latency = Math.min(p.timeoutLatencyMs, p.baseLatencyMs * (1 + s.latencySlope * latX));
  const errorRate = Math.min(1, p.baseErrorRate + s.errorSlope * errX + (demand > 1 ? 1 - 1 / demand : 0));
  const memory = p.baseMemory + p.memoryLoadGain * Math.min(1, load);
  for (let k = 0; k < p.initialReplicas; k++) {
    const row = addPod(s, PodPhase.Healthy, 0, 0);
    s.readySince[row] = 0;
    s.rps[row] = share;
    s.cpu[row] = Math.min(1, demand);
    s.latencyMs[row] = latency;
    s.errorRate[row] = errorRate;
    s.memBase[row] = memory;
    s.memory[row] = memory;
    const degraded = latency > p.degradedLatencyMs || errorRate > p.degradedErrorRate || memory > p.degradedMemory;
    s.phase[row] = degraded ? PodPhase.Degraded : PodPhase.Healthy;
  }
  s.serving = p.initialReplicas;
  return s;
}

/** A fresh state for `params`, `workload` and `seed` (allocates; reuse it with {@link resetState}). */
export function initial(params: SimParams, workload: Workload, seed: number): SimState {
  return resetState(new SimState(params, workload), seed);
}
