/**
 * How far a simulated trajectory is from a real one, step by step: the per-series error that
 * `harness calibrate` minimises and that a replay of a real trace in the simulator reports.
 *
 * Each series is put on [0, 1] before differencing, so that no unit dominates:
 * - latency: min(latency / (4 x SLO latency), 1): an outage's 10 s timeout counts as much as
 *   four times the SLO, not 33 times;
 * - error rate: as is (0..1);
 * - ready pods: ready replicas / the guard's maxReplicas;
 * - CPU: as is (mean utilisation of the serving pods, 0..1);
 * - SLO: 1 where the SLO held, else 0 (its error is the share of steps where the two disagree,
 *   which is what uptime and MTTR are made of).
 * A step counts only where the real observation was complete (`missing` = 0) and both values
 * are finite. The error of a series is the mean absolute difference over the counted steps.
 */

export const SERIES = ["latency", "errorRate", "ready", "cpu", "slo"] as const;
export type SeriesName = (typeof SERIES)[number];

export const SERIES_TITLES: Readonly<Record<SeriesName, string>> = {
  latency: "latency (/ 4 x SLO, capped at 1)",
  errorRate: "error rate",
  ready: "ready pods (/ maxReplicas)",
  cpu: "CPU",
  slo: "SLO held (0/1)",
};

/** The step columns the comparison reads, as stored in `steps`. */
export const SERIES_COLUMNS = ["latency_ms", "error_rate", "ready_replicas", "cpu", "slo_ok", "missing"] as const;
export type SeriesColumns = Readonly<Record<(typeof SERIES_COLUMNS)[number], ArrayLike<number>>> & {
  readonly length: number;
};

export interface SeriesScales {
  readonly sloLatencyMs: number;
  readonly maxReplicas: number;
}

/** Running sums of absolute errors per series (add episodes, then read `mean`). */
export class SeriesError {
  readonly sum: Record<SeriesName, number> = { latency: 0, errorRate: 0, ready: 0, cpu: 0, slo: 0 };
  readonly n: Record<SeriesName, number> = { latency: 0, errorRate: 0, ready: 0, cpu: 0, slo: 0 };

  /** Adds the steps of one real episode and its simulated twin (the shorter length counts). */
  add(real: SeriesColumns, sim: SeriesColumns, scales: SeriesScales): void {
    const steps = Math.min(real.length, sim.length);
    const latScale = 4 * scales.sloLatencyMs;
    for (let i = 0; i < steps; i++) {
      if (real.missing[i] !== 0) continue;
      this.put("latency", Math.min(real.latency_ms[i]! / latScale, 1), Math.min(sim.latency_ms[i]! / latScale, 1));
      this.put("errorRate", real.error_rate[i]!, sim.error_rate[i]!);
      this.put("ready", real.ready_replicas[i]! / scales.maxReplicas, sim.ready_replicas[i]! / scales.maxReplicas);
      this.put("cpu", real.cpu[i]!, sim.cpu[i]!);
      this.put("slo", real.slo_ok[i]!, sim.slo_ok[i]!);
    }
  }

  private put(s: SeriesName, a: number, b: number): void {
    if (!Number.isFinite(a) || !Number.isFinite(b)) return;
    this.sum[s] += Math.abs(a - b);
    this.n[s]++;
  }

  /** Mean absolute error of a series; NaN with no counted step. */
  mean(s: SeriesName): number {
    return this.n[s] === 0 ? Number.NaN : this.sum[s] / this.n[s];
  }

  /** The loss: the mean of the series' errors (series without a counted step left out). */
  loss(): number {
    let total = 0;
    let k = 0;
    for (const s of SERIES) {
      const m = this.mean(s);
      if (Number.isFinite(m)) {
        total += m;
        k++;
      }
    }
    return k === 0 ? Number.NaN : total / k;
  }
}
