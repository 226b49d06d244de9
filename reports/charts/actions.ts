/** What each policy did (applied actions by type) beside the harm it did, per episode. */
import type { TopLevelSpec } from "vega-lite";
import { ACTION_HARM, ACTION_MIX, METRICS } from "../metrics.ts";
import type { ReportModel } from "../model.ts";
import { ACTION_COLORS, CONFIG, HARM_GREYS, SCHEMA } from "./theme.ts";

const MIX_NAMES: Record<string, string> = {
  restarts: "restart-pod",
  scale_ups: "scale-up",
  scale_downs: "scale-down",
  drains: "drain-pod",
};

export function actionsSpec(model: ReportModel): TopLevelSpec {
  const rows = model.overall.rows;
  // The axis label carries n: "heuristic (n=18)".
  const who = (r: (typeof rows)[number]) => `${r.policy} (n=${r.n})`;
  const mix = rows.flatMap((r) =>
    ACTION_MIX.map((m) => ({ who: who(r), action: MIX_NAMES[m], perEpisode: r.metrics[m].estimate })),
  );
  const harm = rows.flatMap((r) =>
    ACTION_HARM.map((m) => ({ who: who(r), kind: METRICS[m].title, perEpisode: r.metrics[m].estimate })),
  );
  const y = { field: "who", type: "nominal", sort: rows.map(who), title: null } as const;
  return {
    $schema: SCHEMA,
    title: {
      text: "Actions per episode: what each policy did, and the harm it did",
      subtitle: ["Means over every episode of the policy (n = episodes)."],
    },
    config: CONFIG,
    hconcat: [
      {
        title: { text: "applied actions by type", fontSize: 12 },
        width: 300,
        height: { step: 26 },
        data: { values: mix },
        mark: "bar",
        encoding: {
          y,
          x: { field: "perEpisode", type: "quantitative", aggregate: "sum", title: "actions per episode" },
          color: {
            field: "action",
            type: "nominal",
            title: "action",
            scale: { domain: Object.keys(ACTION_COLORS), range: Object.values(ACTION_COLORS) },
          },
          order: { field: "action" },
        },
      },
      {
        title: { text: "harm", fontSize: 12 },
        width: 300,
        height: { step: 12 },
        data: { values: harm },
        mark: "bar",
        encoding: {
          y,
          yOffset: { field: "kind", type: "nominal", sort: ACTION_HARM.map((m) => METRICS[m].title) },
          x: { field: "perEpisode", type: "quantitative", title: "per episode" },
          color: {
            field: "kind",
            type: "nominal",
            title: "harm",
            legend: { labelLimit: 200 },
            sort: ACTION_HARM.map((m) => METRICS[m].title),
            scale: { range: HARM_GREYS.slice(0, ACTION_HARM.length) },
          },
        },
      },
    ],
    resolve: { scale: { color: "independent" } },
  } as TopLevelSpec;
}
