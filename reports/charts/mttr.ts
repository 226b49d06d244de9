/** MTTR by policy, one panel per fault type, each point with its 95% interval and its n. */
import type { TopLevelSpec } from "vega-lite";
import type { ReportModel } from "../model.ts";
import { CONFIG, policyScale, SCHEMA } from "./theme.ts";

export function mttrSpec(model: ReportModel): TopLevelSpec {
  // The axis label carries n: "heuristic (n=18)"; the same policy keeps its colour.
  const who = (policy: string, n: number) => `${policy} (n=${n})`;
  const values = model.byFault.flatMap((s) =>
    s.rows.map((r) => {
      const m = r.metrics.mttr;
      const mttr = Number.isFinite(m.estimate) ? m.estimate : null;
      return {
        fault: s.filter.fault,
        policy: r.policy,
        order: model.policies.indexOf(r.policy),
        who: who(r.policy, r.n),
        mttr,
        lower: m.lower,
        upper: m.upper,
        // Where the label sits: right of the interval, or of the point, or at 0 with no value.
        labelX: m.upper ?? mttr ?? 0,
        label:
          r.incidents === 0
            ? "no incident"
            : mttr === null
              ? "none closed"
              : r.censored > 0
                ? `${r.censored}/${r.incidents} censored`
                : "",
      };
    }),
  );
  const y = { field: "who", type: "nominal", sort: { field: "order" }, title: null } as const;
  return {
    $schema: SCHEMA,
    title: {
      text: "Mean time to recovery by fault type (lower is better)",
      subtitle: [
        "Dot: mean time to recover over every closed incident; bar: its 95% interval over seeds; n = episodes.",
        "Incidents still open at the episode's end (censored) are left out of the mean: the label counts them.",
      ],
    },
    config: CONFIG,
    data: { values },
    facet: { field: "fault", type: "nominal", sort: [...model.faults], title: null },
    columns: 3,
    spec: {
      width: 210,
      height: { step: 22 },
      layer: [
        {
          mark: { type: "rule", strokeWidth: 2 },
          encoding: {
            y,
            x: { field: "lower", type: "quantitative" },
            x2: { field: "upper" },
            color: { field: "policy", type: "nominal", scale: policyScale(model.policies), legend: null },
          },
        },
        {
          mark: { type: "point", filled: true, size: 60 },
          encoding: {
            y,
            x: { field: "mttr", type: "quantitative", title: "MTTR (s)", scale: { zero: true } },
            color: { field: "policy", type: "nominal", scale: policyScale(model.policies), legend: null },
          },
        },
        {
          mark: { type: "text", align: "left", dx: 5, fontSize: 10, color: "#444" },
          encoding: { y, x: { field: "labelX", type: "quantitative" }, text: { field: "label" } },
        },
      ],
    },
    resolve: { scale: { x: "shared" } },
  } as TopLevelSpec;
}
