/**
 * `harness calibrate --db real.duckdb [--run R] [--out sim-params.yaml] [--report DIR]`:
 * fits the simulator's parameters to a recorded run (harness/calibrate-run.ts), prints the
 * calibration report as Markdown (or JSON with `--json`), and writes the parameters file a
 * scenario loads with `sim: { paramsFile: ... }`.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { renderHtml } from "../reports/html.ts";
import { CALIBRATION_KEYS } from "./calibrate.ts";
import { calibrate } from "./calibrate-run.ts";
import { UsageError } from "./cli-errors.ts";

interface CalibrateArgs {
  db: string;
  run?: string;
  out?: string;
  overwrite: boolean;
  report?: string;
  holdout?: number[];
  fit?: string[];
  "from-defaults": boolean;
  budget: number;
  samples: number;
  seed: number;
  "sim-db"?: string;
  resamples: number;
  jobs?: number;
  json: boolean;
}

export const calibrateCommand: CommandModule<object, CalibrateArgs> = {
  command: "calibrate",
  describe: "Fit the simulator's parameters to a recorded (real) run and report sim against real before and after",
  builder: (y: Argv) =>
    y
      .option("db", { type: "string", demandOption: true, describe: "DuckDB file of the recording (must exist)" })
      .option("run", { type: "string", describe: "Run id (default: the latest)" })
      .option("out", { type: "string", describe: "Write the fitted parameters here (YAML, for sim: { paramsFile })" })
      .option("overwrite", { type: "boolean", default: false, describe: "Replace an existing --out file" })
      .option("report", { type: "string", describe: "Also write calibration.md and index.html into this folder" })
      .option("holdout", {
        type: "number",
        array: true,
        describe: "Seeds kept out of the fit to check it (default: the later half of the run's seeds)",
      })
      .option("fit", {
        type: "string",
        array: true,
        describe: `Parameters to fit (default all): ${CALIBRATION_KEYS.join(", ")}`,
      })
      .option("from-defaults", {
        type: "boolean",
        default: false,
        describe:
          "Start the fit (and the report's 'before') from the simulator's defaults, not the scenario's sim: values",
      })
      .option("budget", { type: "number", default: 600, describe: "Loss evaluations of the search" })
      .option("samples", { type: "number", default: 48, describe: "Random points before the pattern search" })
      .option("seed", { type: "number", default: 1, describe: "Seed of the search's random points" })
      .option("sim-db", { type: "string", describe: "Keep the simulator runs of the fault table in this DuckDB file" })
      .option("resamples", { type: "number", default: 2000, describe: "Bootstrap resamples of the intervals" })
      .option("jobs", { type: "number", describe: "Worker threads of the simulator runs (default: the core count)" })
      .option("json", { type: "boolean", default: false, describe: "JSON on stdout instead of Markdown" })
      .example(
        "$0 calibrate --db runs/cal-local.duckdb --out scenarios/testbed-sim-params.yaml",
        "fit to the testbed's run of scenarios/testbed-calibration.yaml",
      ) as Argv<CalibrateArgs>,
  handler: async (argv) => {
    if (!(argv.budget >= 1) || !Number.isInteger(argv.budget)) {
      throw new UsageError(`Expected --budget to be a positive integer, got ${argv.budget}`);
    }
    if (argv.out !== undefined && existsSync(argv.out) && !argv.overwrite) {
      throw new UsageError(`${argv.out} exists; pass --overwrite to replace it`);
    }
    let last = 0;
    const outcome = await calibrate({
      db: argv.db,
      ...(argv.run === undefined ? {} : { runId: argv.run }),
      ...(argv.holdout === undefined ? {} : { holdoutSeeds: argv.holdout }),
      ...(argv.fit === undefined ? {} : { fit: argv.fit }),
      from: argv["from-defaults"] ? "defaults" : "scenario",
      search: {
        seed: argv.seed,
        budget: argv.budget,
        samples: argv.samples,
        onEvaluation: (done, budget, best) => {
          // A line every 5% of the budget: progress without flooding a CI log.
          if (done === budget || done - last >= Math.max(1, Math.floor(budget / 20))) {
            last = done;
            process.stderr.write(`calibrate: ${done}/${budget} evaluations, best loss ${best.toFixed(4)}\n`);
          }
        },
      },
      ...(argv["sim-db"] === undefined ? {} : { simDb: argv["sim-db"] }),
      resamples: argv.resamples,
      ...(argv.jobs === undefined ? {} : { jobs: argv.jobs }),
    });
    if (argv.out !== undefined) writeFileSync(argv.out, outcome.paramsFile);
    if (argv.report !== undefined) {
      const dir = resolve(argv.report);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "calibration.md"), outcome.markdown);
      writeFileSync(join(dir, "index.html"), renderHtml(`Calibration against ${outcome.runId}`, outcome.blocks, []));
    }
    const { blocks: _blocks, ...data } = outcome;
    process.stdout.write(argv.json ? `${JSON.stringify(data, null, 1)}\n` : outcome.markdown);
  },
};
