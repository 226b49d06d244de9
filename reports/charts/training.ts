/**
 * Training curves: every metric of the trainer's `training_updates` table against env steps,
 * one panel each under a readable name, one colour per training run. Per-update values are
 * noisy (a few episodes each), so each is drawn faint with an exponential moving average over
 * it, debiased at the start as TensorBoard does, whose weight grows with the number of
 * updates so that the smoothing spans about the same share of any run.
 */
import type { TopLevelSpec } from "vega-lite";
import type { TrainingCurves } from "../load.ts";
import { CONFIG, SCHEMA } from "./theme.ts";

/** Panel titles for the PPO trainer's columns (harness/store-training.ts). */
const CURVE_NAMES: Readonly<Record<string, string>> = {
  ep_reward_mean: "episode reward (mean)",
  slo_held_share: "SLO held (share of steps)",
  recovery_time_mean_s: "recovery time (mean, s)",
  replicas_mean: "replicas (mean)",
  refused_share: "actions refused (share)",
  ep_length_mean: "episode length (steps)",
  policy_loss: "policy loss",
  value_loss: "value loss",
  entropy: "policy entropy",
  approx_kl: "approx. KL divergence",
  clip_frac: "clip fraction",
  explained_variance: "explained variance (value)",
  steps_per_s: "throughput (env steps/s)",
  learning_rate: "learning rate",
};

const X_NAMES: Readonly<Record<string, string>> = {
  env_steps: "environment steps",
  global_step: "environment steps",
  timesteps: "environment steps",
  step: "step",
  update: "update",
};

/** A column's panel title: the known name, else the column with `_` as spaces and a unit suffix spelled out. */
export function curveName(column: string): string {
  return CURVE_NAMES[column] ?? column.replace(/_s$/, " (s)").replaceAll("_", " ");
}

/**
 * The smoothing weight for a run of `n` updates: the moving average spans about a fifteenth
 * of the run (at least none for a handful of updates, at most 0.98).
 */
export function smoothingWeight(n: number): number {
  const window = n / 15;
  return window <= 1 ? 0 : Math.min(0.98, 1 - 1 / window);
}

/**
 * Exponential moving average with TensorBoard's debiasing (the first values are not pulled
 * towards 0); nulls stay null and do not move the average.
 */
export function smooth(values: readonly (number | null)[], weight: number): (number | null)[] {
  let last = 0;
  let k = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    k++;
    return weight === 0 ? v : last / (1 - weight ** k);
  });
}

export function trainingSpec(t: TrainingCurves): TopLevelSpec {
  const seriesOf = (r: Record<string, unknown>) => (t.series === null ? "training" : String(r[t.series]));
  const runs = [...new Set(t.rows.map(seriesOf))];
  const name = (run: string) => t.seriesNames[run] ?? run;
  const perRun = Math.max(...runs.map((run) => t.rows.filter((r) => seriesOf(r) === run).length));
  const weight = smoothingWeight(perRun);
  const values = runs.flatMap((run) => {
    const rows = t.rows.filter((r) => seriesOf(r) === run);
    return t.metrics.flatMap((m) => {
      const raw = rows.map((r) => (r[m] === null || r[m] === undefined ? null : Number(r[m])));
      const smoothed = smooth(raw, weight);
      return rows.map((r, i) => ({
        x: Number(r[t.x]),
        metric: curveName(m),
        run: name(run),
        value: raw[i],
        smoothed: smoothed[i],
      }));
    });
  });
  const color = {
    field: "run",
    type: "nominal",
    title: "training run",
    // Not the policy palette: a training run is not a policy of the report.
    scale: { domain: runs.map(name), scheme: "dark2" },
    // The legend shows the smoothed line, not the faint raw one.
    legend: runs.length > 1 ? { orient: "bottom", labelLimit: 400, symbolOpacity: 1, symbolStrokeWidth: 2 } : null,
  } as const;
  const x = { field: "x", type: "quantitative", title: X_NAMES[t.x] ?? t.x } as const;
  const smoothing =
    weight === 0
      ? "Too few updates to smooth: the raw values."
      : `Faint: each update's value; solid: its exponential moving average (weight ${weight.toFixed(2)}, debiased).`;
  return {
    $schema: SCHEMA,
    title: {
      text: "Training curves",
      subtitle: [`${runs.length} training run(s), against ${x.title}.`, smoothing],
    },
    config: CONFIG,
    data: { values },
    facet: { field: "metric", type: "nominal", sort: t.metrics.map(curveName), title: null },
    columns: 3,
    spec: {
      width: 240,
      height: 130,
      layer: [
        {
          mark: { type: "line", strokeWidth: 1, opacity: weight === 0 ? 1 : 0.25 },
          encoding: {
            x,
            y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
            color,
            detail: { field: "run" },
          },
        },
        ...(weight === 0
          ? []
          : [
              {
                mark: { type: "line", strokeWidth: 2 },
                encoding: { x, y: { field: "smoothed", type: "quantitative" }, color, detail: { field: "run" } },
              },
            ]),
      ],
    },
    resolve: { scale: { y: "independent" } },
  } as TopLevelSpec;
}
