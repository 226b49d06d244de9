/**
 * `harness report`: one run of a trace store -> `index.html`, `report.md` and `charts/`
 * (`<name>.vl.json` spec, `.svg`, `.png` for each chart), plus the verdict of every gate of
 * the run's scenario. The stages are separate modules (load -> estimate -> model ->
 * document -> charts -> files); this one only runs them in order and times them.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ScenarioError } from "../harness/core/errors.ts";
import type { LoadedScenario } from "../harness/scenario-file.ts";
import { buildCharts } from "./charts/index.ts";
import { buildDocument } from "./document.ts";
import { Estimator } from "./estimator.ts";
import { evaluateGate, type GateResult } from "./gate-eval.ts";
import { renderHtml } from "./html.ts";
import { loadReportData, type ReportData } from "./load.ts";
import { renderMarkdown } from "./markdown.ts";
import { buildModel } from "./model.ts";
import type { TraceReader } from "./reader.ts";
import { renderSvg, scopeSvgIds, svgToPng } from "./render.ts";
import { compileScenarioGates } from "./scenario-gates.ts";

export interface ReportOptions {
  /** Output folder (created). */
  readonly out: string;
  /** Run id; default the latest started in the store. */
  readonly runId?: string;
  /** Bootstrap resamples. @default 2000 */
  readonly resamples?: number;
  /** Bootstrap seed. @default 0 */
  readonly seed?: number;
  /** Policy whose episodes the timelines show. @default the matrix's last policy */
  readonly timelinePolicy?: string;
  /** Write PNGs beside the SVGs. @default true */
  readonly png?: boolean;
  /** A trace store holding the training curves (`harness train --db`), when the run's store does not. */
  readonly trainingStore?: TraceReader;
  /** Told about chart warnings (vega-lite's). @default ignore them */
  readonly onWarning?: (message: string) => void;
  /** Told as each stage starts (a report of a large run takes seconds). @default silent */
  readonly onStage?: (stage: ReportStage) => void;
}

export type ReportStage =
  | { readonly stage: "load" }
  | { readonly stage: "statistics"; readonly episodes: number }
  | { readonly stage: "chart"; readonly name: string; readonly index: number; readonly of: number }
  | { readonly stage: "write" };

export interface ReportOutcome {
  readonly runId: string;
  /** Absolute output folder. */
  readonly out: string;
  readonly files: readonly string[];
  readonly gates: readonly GateResult[];
  /** Every gate passed (true when there are none). */
  readonly passed: boolean;
  /** Stage wall times, ms. */
  readonly timings: Readonly<Record<"load" | "statistics" | "charts" | "write", number>>;
}

/** Compiles the run's gates; a stored scenario that no longer parses is an input error too. */
function runGates(data: ReportData, estimator: Estimator): GateResult[] {
  if (!data.scenario.success) throw new ScenarioError(data.scenarioFile, data.scenario.errors);
  const loaded: LoadedScenario = data.scenario.data;
  const runId = data.run.runId;
  return compileScenarioGates(loaded).map(({ gate, origin }) =>
    evaluateGate(gate, origin, {
      estimator,
      policies: null,
      resolve: (arm) => ({ runId, policy: arm.name }),
    }),
  );
}

export async function writeReport(store: TraceReader, opts: ReportOptions): Promise<ReportOutcome> {
  const t0 = performance.now();
  const onStage = opts.onStage ?? (() => {});
  onStage({ stage: "load" });
  const data: ReportData = await loadReportData(store, {
    runId: opts.runId,
    timelinePolicy: opts.timelinePolicy,
    trainingStore: opts.trainingStore,
  });
  const t1 = performance.now();
  onStage({ stage: "statistics", episodes: data.episodes.length });
  const estimator = new Estimator(data.episodes, { resamples: opts.resamples, seed: opts.seed });
  const gates = runGates(data, estimator);
  const model = buildModel(data, estimator, gates);
  const t2 = performance.now();

  const out = resolve(opts.out);
  const chartDir = join(out, "charts");
  mkdirSync(chartDir, { recursive: true });
  // Charts of an earlier report in the same folder (another fault set) would linger.
  for (const f of readdirSync(chartDir)) if (/\.(svg|png|vl\.json)$/.test(f)) rmSync(join(chartDir, f));
  const files: string[] = [];
  const write = (path: string, content: string | Buffer) => {
    writeFileSync(path, content);
    files.push(path);
  };
  const charts = buildCharts(model);
  const onWarning = opts.onWarning ?? (() => {});
  const rendered = [];
  for (const [i, c] of charts.entries()) {
    onStage({ stage: "chart", name: c.name, index: i + 1, of: charts.length });
    const raw = await renderSvg(c.spec);
    const svg = scopeSvgIds(raw.svg, c.name);
    const warnings = raw.warnings;
    for (const w of warnings) onWarning(`chart ${c.name}: ${w}`);
    write(join(chartDir, `${c.name}.vl.json`), `${JSON.stringify(c.spec, null, 2)}\n`);
    write(join(chartDir, `${c.name}.svg`), svg);
    if (opts.png ?? true) write(join(chartDir, `${c.name}.png`), svgToPng(svg));
    rendered.push({ name: c.name, title: c.title, caption: c.caption, svg });
  }
  const t3 = performance.now();
  onStage({ stage: "write" });

  const blocks = buildDocument(
    model,
    charts.map((c) => c.name),
  );
  write(join(out, "report.md"), renderMarkdown(blocks, charts));
  write(join(out, "index.html"), renderHtml(model.title, blocks, rendered));
  const t4 = performance.now();
  return {
    runId: data.run.runId,
    out,
    files,
    gates,
    passed: gates.every((g) => g.pass),
    timings: { load: t1 - t0, statistics: t2 - t1, charts: t3 - t2, write: t4 - t3 },
  };
}
