/**
 * The report's charts, in reading order: each a name (the file name under charts/), a
 * title, a caption telling a newcomer how to read it, and its vega-lite spec.
 */
import type { TopLevelSpec } from "vega-lite";
import type { ReportModel } from "../model.ts";
import { actionsSpec } from "./actions.ts";
import { costSpec } from "./cost.ts";
import { mttrSpec } from "./mttr.ts";
import { timelineSpec } from "./timeline.ts";
import { trainingSpec } from "./training.ts";
import { uptimeSpec } from "./uptime.ts";

export interface Chart {
  readonly name: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

export function buildCharts(model: ReportModel): Chart[] {
  const charts: Chart[] = [
    {
      name: "mttr",
      title: "MTTR by policy and fault type",
      caption:
        "How long incidents (spans with the SLO broken) lasted until the SLO held again for the confirmation window, per fault type, on a log scale. Incidents still open at the episode's end are counted beside the mean, not averaged in. A bar that does not overlap another is a hint, not a verdict: the paired-differences tables decide.",
      spec: mttrSpec(model),
    },
    {
      name: "uptime-heatmap",
      title: "Uptime heatmap",
      caption:
        "Share of time the SLO held in each cell, on a fixed 0-100% scale. Red and yellow cells are where a policy loses; the SLO table says why.",
      spec: uptimeSpec(model),
    },
    {
      name: "cost-vs-uptime",
      title: "Cost against uptime",
      caption:
        "Each policy's average replica cost against its uptime. Policies on the dashed front are the sensible choices; the others are beaten on both. When the good policies crowd one corner, the right panel zooms onto them.",
      spec: costSpec(model),
    },
    {
      name: "actions",
      title: "Action mix and harm",
      caption:
        "What each policy did per episode, and the harm: how often an action was unnecessary, harmful (worse than the paired none episode), refused, followed by a regression, or a flap.",
      spec: actionsSpec(model),
    },
    ...model.timelines.map((t) => ({
      name: `timeline-${t.fault}`,
      title: `Timeline: ${t.fault}`,
      caption:
        t.baseline === null
          ? `One ${t.policy} episode under ${t.fault}: watch the metrics cross the dashed SLO line while a fault is live, and what the policy did about it.`
          : `One ${t.policy} episode under ${t.fault}, over the ${t.baseline.policy} episode with the same faults and load (grey): the gap between the lines is what the policy changed.`,
      spec: timelineSpec(t, model.policies),
    })),
  ];
  if (model.training !== null) {
    charts.push({
      name: "training",
      title: "Training curves",
      caption: "The trainer's per-update metrics. The policy is judged on the tables above, never on its own reward.",
      spec: trainingSpec(model.training),
    });
  }
  return charts;
}
