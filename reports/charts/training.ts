/** Training curves: every metric of the trainer's `training_updates` table against env steps. */
import type { TopLevelSpec } from "vega-lite";
import type { TrainingCurves } from "../load.ts";
import { CONFIG, SCHEMA } from "./theme.ts";

export function trainingSpec(t: TrainingCurves): TopLevelSpec {
  const values = t.rows.flatMap((r) =>
    t.metrics.map((m) => ({
      x: Number(r[t.x]),
      metric: m,
      value: r[m] === null ? null : Number(r[m]),
      series: t.series === null ? "training" : String(r[t.series]),
    })),
  );
  const runs = new Set(values.map((v) => v.series)).size;
  return {
    $schema: SCHEMA,
    title: {
      text: "Training curves",
      subtitle: [`Each panel is one column of training_updates against ${t.x}; ${runs} training run(s).`],
    },
    config: CONFIG,
    data: { values },
    facet: { field: "metric", type: "nominal", sort: [...t.metrics], title: null },
    columns: 3,
    spec: {
      width: 240,
      height: 130,
      mark: { type: "line", strokeWidth: 1.5 },
      encoding: {
        x: { field: "x", type: "quantitative", title: t.x },
        y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
        color: { field: "series", type: "nominal", title: "training run", legend: runs > 1 ? {} : null },
      },
    },
    resolve: { scale: { y: "independent" } },
  } as TopLevelSpec;
}
