/**
 * What the simulated deployment shows: a {@link Snapshot} filled in place, with the
 * state's own pod rows as its `podTable` (a live view: it changes with the next step).
 *
 * Service aggregates are over serving pods (ready and not drained):
 * - cpu, memory: plain means;
 * - errorRate: traffic-weighted mean;
 * - latencyMs: traffic-weighted p95. Traffic is spread evenly over serving pods, so this is
 *   the latency of rank ceil(0.95 n) among the n serving pods in ascending order: the
 *   slowest pod whenever n < 20. One slow pod of three therefore makes the p95 slow, and
 *   draining it brings the p95 back.
 * - with no serving pod: cpu and memory 0, errorRate 1, latencyMs = `timeoutLatencyMs`.
 */
import { PodPhase, type Snapshot } from "../harness/core/contract.ts";
import type { SimState } from "./state.ts";

const TOP = new Float64Array(8);

/** Latency of ascending rank ceil(0.95 n) among the serving pods, given n >= 20. */
function p95Latency(s: SimState, serving: number): number {
  const skip = serving - Math.ceil((19 * serving) / 20);
  const k = skip + 1;
  // TOP[0..k) holds the k largest latencies seen so far, in descending order.
  let filled = 0;
  for (let i = 0; i < s.pods.count; i++) {
    if (s.phase[i] > PodPhase.Degraded || s.drained[i] === 1) continue;
    const v = s.latencyMs[i];
    if (filled < k) filled++;
    else if (v <= TOP[k - 1]) continue;
    let j = filled - 1;
    while (j > 0 && TOP[j - 1] < v) {
      TOP[j] = TOP[j - 1];
      j--;
    }
    TOP[j] = v;
  }
  return TOP[k - 1];
}

/** Fills `snap` from the state (no allocation) and returns it. Also caches `s.serving`. */
export function observe(s: SimState, snap: Snapshot): Snapshot {
  const n = s.pods.count;
  const phase = s.phase;
  const drained = s.drained;
  let healthy = 0;
  let degraded = 0;
  let crashed = 0;
  let pending = 0;
  let terminating = 0;
  let drainedCount = 0;
  let serving = 0;
  let sumCpu = 0;
  let sumMem = 0;
  let sumRps = 0;
  let sumErrRps = 0;
  let sumErr = 0;
  let maxLat = 0;
  for (let i = 0; i < n; i++) {
    const ph = phase[i];
    if (ph === PodPhase.Terminating) {
      terminating++;
      continue;
    }
    if (ph === PodPhase.Healthy) healthy++;
    else if (ph === PodPhase.Degraded) degraded++;
    else if (ph === PodPhase.Crashed) crashed++;
    else pending++;
    if (drained[i] === 1) {
      drainedCount++;
      continue;
    }
    if (ph > PodPhase.Degraded) continue;
    serving++;
    sumCpu += s.cpu[i];
    sumMem += s.memory[i];
    const r = s.rps[i];
    const e = s.errorRate[i];
    sumRps += r;
    sumErrRps += r * e;
    sumErr += e;
    const l = s.latencyMs[i];
    if (l > maxLat) maxLat = l;
  }
  s.serving = serving;

  snap.time = s.time;
  snap.desiredReplicas = s.desired;
  snap.readyReplicas = healthy + degraded;
  snap.pods = n - terminating;
  snap.healthy = healthy;
  snap.degraded = degraded;
  snap.crashed = crashed;
  snap.pending = pending;
  snap.terminating = terminating;
  snap.drained = drainedCount;
  if (serving > 0) {
    snap.cpu = sumCpu / serving;
    snap.memory = sumMem / serving;
    snap.errorRate = sumRps > 0 ? sumErrRps / sumRps : sumErr / serving;
    snap.latencyMs = serving < 20 ? maxLat : p95Latency(s, serving);
  } else {
    snap.cpu = 0;
    snap.memory = 0;
    snap.errorRate = 1;
    snap.latencyMs = s.params.timeoutLatencyMs;
  }
  snap.requestRate = s.offeredRps;
  snap.sinceFailureS = s.time - s.lastFailureS;
  snap.missing = 0;
  snap.podTable = s.pods;
  return snap;
}

/** True when no pod can serve (none is ready and not drained): the episode's terminal state. */
export function terminal(s: SimState): boolean {
  for (let i = 0; i < s.pods.count; i++) {
    if (s.phase[i] <= PodPhase.Degraded && s.drained[i] === 0) return false;
  }
  return true;
}
