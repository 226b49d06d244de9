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
        "How long the service took to meet its SLO again after a fault, per fault type. A bar that does not overlap another is a hint, not a verdict: the paired-differences tables decide.",
      spec: mttrSpec(model),
    },
    {
      name: "uptime-heatmap",
      title: "Uptime heatmap",
      caption: "Share of time the SLO held in each cell. Red cells are where a policy loses; the SLO table says why.",
      spec: uptimeSpec(model),
    },
    {
      name: "cost-vs-uptime",
      title: "Cost against uptime",
      caption:
        "Each policy's average replica cost against its uptime. Policies on the dashed front are the sensible choices; the others are beaten on both.",
      spec: costSpec(model),
    },
    {
      name: "actions",
      title: "Action mix and harm",
      caption:
        "What each policy did per episode, and how often an action was unnecessary, refused, followed by a regression, or a flap.",
      spec: actionsSpec(model),
    },
    ...model.timelines.map((t) => ({
      name: `timeline-${t.fault}`,
      title: `Timeline: ${t.fault}`,
      caption: `One ${t.policy} episode under ${t.fault}: watch the metric cross the dashed SLO line after a fault starts, and what the policy did about it.`,
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
