/**
 * One step of dynamics (one observation interval): phase timers, the offered load, its
 * spread over the serving pods, and every pod's metrics. See sim/README.md, "Dynamics",
 * for the formulas and their calibration.
 *
 * Hot path: no allocation, no closure, no Array method; one pass over the rows for the
 * timers and one for the metrics.
 */
import { PodPhase } from "../harness/core/contract.ts";
import { uniformFrom } from "../harness/core/rng.ts";
import { clearMetrics, drawSteps, endFault, freshMetrics, removeRow, type SimState } from "./state.ts";
import { advanceWorkload } from "./workload.ts";

const HEALTHY = PodPhase.Healthy;
const DEGRADED = PodPhase.Degraded;
const CRASHED = PodPhase.Crashed;
const PENDING = PodPhase.Pending;
const RESTARTING = PodPhase.Restarting;
const TERMINATING = PodPhase.Terminating;

/**
 * The container of row `row` exits (fault, overload, OOM kill): it waits out the kubelet's
 * back-off in Crashed, then restarts. The back-off doubles at each crash up to its cap, and
 * starts again from its initial value when the container had run for `backoffResetS`.
 */
export function crashPod(s: SimState, row: number, oom: boolean): void {
  const p = s.params;
  const since = s.readySince[row];
  if (since >= 0 && s.step - since >= s.backoffResetSteps) s.backoffS[row] = p.backoffInitialS;
  const wait = s.backoffS[row];
  const next = wait * 2;
  s.backoffS[row] = Math.min(next, p.backoffCapS);
  let steps = Math.ceil(wait / s.stepSeconds - 1e-9);
  if (steps < 1) steps = 1;
  s.phase[row] = CRASHED;
  s.phaseEnd[row] = s.step + steps;
  s.readySince[row] = -1;
  clearMetrics(s, row);
  if (oom) {
    // The OOM kill ends the leak: the restarted container starts with fresh memory. The
    // fault's effect lasts until that container is ready again.
    s.leakPerStep[row] = 0;
    if (s.leakFault[row] >= 0) s.recoverFault[row] = s.leakFault[row];
    s.leakFault[row] = -1;
  }
  s.lastFailureS = s.time;
  s.events.emit(
    s.time,
    oom ? "pod-oom-killed" : "pod-crashed",
    s.id[row],
    -1,
    oom ? "container OOM-killed at its memory limit" : "container exited",
  );
}

/** Phase timers: ends of start-up, restart, back-off and termination. */
function tick(s: SimState): void {
  const step = s.step;
  const phase = s.phase;
  const phaseEnd = s.phaseEnd;
  let removed = 0;
  const n = s.pods.count;
  for (let i = 0; i < n; i++) {
    const ph = phase[i];
    if (ph < CRASHED || phaseEnd[i] > step) continue;
    if (ph === PENDING || ph === RESTARTING) {
      if (s.failFault[i] >= 0) {
        // pod-failure: the container fails as soon as it starts (CrashLoopBackOff).
        crashPod(s, i, false);
      } else {
        phase[i] = HEALTHY;
        s.readySince[i] = step;
        freshMetrics(s, i);
        s.events.emit(s.time, "pod-ready", s.id[i], -1, "readiness probe passed");
        if (s.recoverFault[i] >= 0) {
          endFault(s, s.recoverFault[i], "replacement-ready", s.id[i]);
          s.recoverFault[i] = -1;
        }
      }
    } else if (ph === CRASHED) {
      phase[i] = RESTARTING;
      phaseEnd[i] = step + drawSteps(s, s.params.restartSteps);
      s.restarts[i]++;
      s.events.emit(s.time, "pod-restarted", s.id[i], -1, "kubelet restarted the container after its back-off");
    } else {
      removed++;
    }
  }
  if (removed > 0) {
    for (let i = s.pods.count - 1; i >= 0; i--) {
      if (phase[i] === TERMINATING && phaseEnd[i] <= step) removeRow(s, i);
    }
  }
}

/**
 * Advances the state by one step (`stepSeconds` of simulated time): phase timers, then the
 * offered load of the new interval spread evenly over the serving pods, then each pod's
 * metrics moving a `smoothing` share of the way to their targets, degraded/healthy
 * classification, OOM kills and overload crashes.
 */
export function advance(s: SimState): void {
  s.step++;
  s.time = s.step * s.stepSeconds;
  tick(s);

  advanceWorkload(s.workloadGen);
  const offered = s.workloadGen.rate * s.spikeFactor;
  s.offeredRps = offered;

  const n = s.pods.count;
  const phase = s.phase;
  const drained = s.drained;
  let serving = 0;
  for (let i = 0; i < n; i++) {
    if (phase[i] <= DEGRADED && drained[i] === 0) serving++;
  }
  // The serving count (a small integer), not the share: a double argument to a function
  // that is not inlined would be boxed, i.e. allocated, on every step.
  updateMetrics(s, serving);
}

/** Per-pod metrics for one step, the offered rate spread evenly over `serving` pods. */
function updateMetrics(s: SimState, serving: number): void {
  const p = s.params;
  const share = serving > 0 ? s.offeredRps / serving : 0;
  const n = s.pods.count;
  const phase = s.phase;
  const drained = s.drained;
  const cpu = s.cpu;
  const memory = s.memory;
  const latencyMs = s.latencyMs;
  const errorRate = s.errorRate;
  const rps = s.rps;
  const memBase = s.memBase;
  const leaked = s.leaked;
  const leakPerStep = s.leakPerStep;
  const stress = s.stress;
  const delayMs = s.delayMs;

  const alpha = p.smoothing;
  const invCapacity = 1 / p.podCapacityRps;
  const idle = p.idleCpu;
  const busy = 1 - idle;
  const latKnee = p.latencyKneeCpu;
  const latSlope = s.latencySlope;
  const baseLat = p.baseLatencyMs;
  const timeout = p.timeoutLatencyMs;
  const errKnee = p.errorKneeCpu;
  const errSlope = s.errorSlope;
  const baseErr = p.baseErrorRate;
  const baseMem = p.baseMemory;
  const memGain = p.memoryLoadGain;
  const degLat = p.degradedLatencyMs;
  const degErr = p.degradedErrorRate;
  const degMem = p.degradedMemory;
  const crashLoad = p.overloadCrashLoad;
  const crashProb = p.overloadCrashProb;

  for (let i = 0; i < n; i++) {
    if (phase[i] > DEGRADED) continue;
    const r = drained[i] === 0 ? share : 0;
    rps[i] = r;
    const load = r * invCapacity;
    const demand = idle + busy * load + stress[i];

    const cpuTarget = Math.min(demand, 1);
    const latX = demand > latKnee ? demand - latKnee : 0;
    let latTarget = baseLat * (1 + latSlope * latX) + delayMs[i];
    if (latTarget > timeout) latTarget = timeout;
    const errX = demand > errKnee ? demand - errKnee : 0;
    let errTarget = baseErr + errSlope * errX;
    if (demand > 1) errTarget += 1 - 1 / demand;
    if (errTarget > 1) errTarget = 1;
    const memTarget = baseMem + memGain * Math.min(load, 1);

    const c = cpu[i] + alpha * (cpuTarget - cpu[i]);
    const lat = latencyMs[i] + alpha * (latTarget - latencyMs[i]);
    const err = errorRate[i] + alpha * (errTarget - errorRate[i]);
    const mb = memBase[i] + alpha * (memTarget - memBase[i]);
    const lk = leaked[i] + leakPerStep[i];
    const mem = mb + lk;
    cpu[i] = c;
    latencyMs[i] = lat;
    errorRate[i] = err;
    memBase[i] = mb;
    leaked[i] = lk;

    if (mem >= 1) {
      crashPod(s, i, true);
      continue;
    }
    memory[i] = mem;
    if (load > crashLoad && crashProb > 0 && uniformFrom(s.dynamicsRng, s.draw) < crashProb) {
      crashPod(s, i, false);
      continue;
    }
    phase[i] = lat > degLat || err > degErr || mem > degMem ? DEGRADED : HEALTHY;
  }
}
