/**
 * The `harness` command line. Results go to stdout (tables, or JSON with --json); logs
 * (pino, JSON lines) and progress go to stderr, so `harness metrics --json | jq` works.
 *
 * Exit codes: 0 success; 1 some episode failed, a gate failed (report, run --report,
 * compare) or an operation failed; 2 invalid input (scenario file, its gates, flags); 130 interrupted (Ctrl-C): finished episodes are kept, rerun
 * with --resume to continue.
 */
import { basename, dirname, extname, join } from "node:path";
import { pino } from "pino";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { testbedCommand } from "../cluster/local/testbed-cli.ts";
import { trainCommand } from "../policies/ppo/cli.ts";
import { compareRuns } from "../reports/compare.ts";
import { ReportInputError } from "../reports/load.ts";
import { writeReport } from "../reports/report.ts";
import { compileScenarioGates } from "../reports/scenario-gates.ts";
import { formatCompare, formatGates } from "../reports/terminal.ts";
import type { CellMetricsRow } from "../reports/views.ts";
import type { Scenario } from "../scenarios/schema.ts";
import { parseShard } from "./plan.ts";
import { progressReporter } from "./progress.ts";
import { runScenario } from "./runner.ts";
import { ScenarioError } from "./scenario-errors.ts";
import { loadScenarioOrThrow } from "./scenario-file.ts";
import { exportParquet, mergeStores, TraceStore } from "./store.ts";
import { type Columns, formatTable } from "./table.ts";

const log = pino({ name: "harness", level: process.env.HARNESS_LOG_LEVEL ?? "info" }, pino.destination(2));

/** A bad flag value: reported like a scenario error, exit code 2. */
class UsageError extends Error {}

const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

function defaultDb(scenarioPath: string): string {
  return join("runs", `${basename(scenarioPath, extname(scenarioPath))}.duckdb`);
}

function list(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [value]).flatMap((v) =>
    String(v)
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  );
}

function seedList(value: unknown): number[] | undefined {
  return list(value)?.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0)
      throw new UsageError(`Expected --seeds to be integers >= 0, got ${JSON.stringify(s)}`);
    return n;
  });
}

async function runCommand(argv: {
  scenario: string;
  db?: string;
  jobs?: number;
  seeds?: unknown;
  policies?: unknown;
  resume: boolean;
  shard?: string;
  report?: string;
}): Promise<number> {
  const loaded = await loadScenarioOrThrow(argv.scenario);
  // A gate naming a policy or metric the matrix lacks is found now, not after the run.
  compileScenarioGates(loaded);
  let shard = null;
  try {
    shard = argv.shard === undefined ? null : parseShard(argv.shard);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (argv.jobs !== undefined && !(Number.isInteger(argv.jobs) && argv.jobs >= 1)) {
    throw new UsageError(`Expected --jobs to be an integer >= 1, got ${argv.jobs}`);
  }
  const db = argv.db ?? defaultDb(argv.scenario);
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    log.warn("interrupted: finishing the episodes in flight (Ctrl-C again to quit now); rerun with --resume");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  try {
    let plan: { seeds?: number[]; policies?: string[] };
    try {
      plan = { seeds: seedList(argv.seeds), policies: list(argv.policies) };
    } catch (err) {
      throw err instanceof UsageError ? err : new UsageError((err as Error).message);
    }
    const summary = await runScenario({
      loaded,
      db,
      jobs: argv.jobs,
      plan,
      resume: argv.resume,
      shard,
      signal: controller.signal,
      reporters: [
        progressReporter(),
        {
          onRunStart: (s) => log.info({ ...s, db, scenario: argv.scenario }, "run started"),
          onEpisodeEnd: ({ outcome, episode }) => {
            if (outcome.status === "failed")
              log.error({ episode: episode.key, error: outcome.error }, "episode failed");
          },
          onRunEnd: (s) => log.info(s, s.interrupted ? "run interrupted" : "run finished"),
        },
      ],
    }).catch((err: unknown) => {
      // Narrowing flags are checked while expanding the plan.
      if (err instanceof Error && err.message.startsWith("Expected ")) throw new UsageError(err.message);
      throw err;
    });
    const store = await TraceStore.open(db);
    let gatesPassed = true;
    try {
      const rows = inMatrixOrder(await store.cellMetrics(summary.runId), loaded.scenario.matrix);
      process.stdout.write(`run ${summary.runId} -> ${db}\n\n${formatTable(rows, METRIC_COLUMNS)}\n`);
      if (argv.report !== undefined) {
        const out = argv.report === "" ? defaultReportDir(db, loaded.scenario.name) : argv.report;
        gatesPassed = await reportAndPrint(store, { out, runId: summary.runId });
      }
    } finally {
      await store.close();
    }
    if (summary.interrupted) return EXIT.interrupted;
    return summary.failed > 0 || !gatesPassed ? EXIT.failed : EXIT.ok;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}

/** Cells in the order the scenario file lists its faults, frequencies and policies. */
function inMatrixOrder(rows: readonly CellMetricsRow[], matrix: Scenario["matrix"]): CellMetricsRow[] {
  const rank = (axis: readonly { label: string }[]) => {
    const index = new Map(axis.map((entry, i) => [entry.label, i]));
    return (label: string) => index.get(label) ?? axis.length;
  };
  const fault = rank(matrix.fault);
  const frequency = rank(matrix.frequency);
  const policy = rank(matrix.policy);
  return [...rows].sort(
    (a, b) =>
      fault(a.fault) - fault(b.fault) ||
      frequency(a.frequency) - frequency(b.frequency) ||
      policy(a.policy) - policy(b.policy),
  );
}

/** The columns of the per-cell table `run` and `metrics` print (JSON has them all). */
const METRIC_COLUMNS = [
  ["fault", "fault"],
  ["frequency", "frequency"],
  ["policy", "policy"],
  ["episodes", "episodes"],
  ["uptimeMean", "uptime"],
  ["mttrMeanS", "MTTR s"],
  ["mttrMedianS", "median s"],
  ["mttrP95S", "p95 s"],
  ["incidents", "incidents"],
  ["censoredIncidents", "censored"],
  ["replicaSecondsMean", "replica-s"],
  ["actionsMean", "actions"],
  ["unnecessaryActionsMean", "unnecessary"],
] as const satisfies Columns<keyof CellMetricsRow>;

/** `runs/quickstart.duckdb` -> `runs/quickstart-report`: beside the database. */
function defaultReportDir(db: string, scenarioName: string): string {
  return join(dirname(db), `${scenarioName}-report`);
}

/** Writes the report, prints where it is and the gates; true when every gate passed. */
async function reportAndPrint(
  store: TraceStore,
  opts: Parameters<typeof writeReport>[1],
  json = false,
): Promise<boolean> {
  const outcome = await writeReport(store, {
    ...opts,
    onWarning: (message) => log.warn({ message }, "chart warning"),
  }).catch(asUsageError);
  log.info({ runId: outcome.runId, timingsMs: outcome.timings }, "report written");
  if (json) {
    process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
  } else {
    const html = join(outcome.out, "index.html");
    process.stdout.write(
      `\nreport ${outcome.runId} -> ${html} (and report.md, charts/)\n${formatGates(outcome.gates)}\n`,
    );
  }
  return outcome.passed;
}

/** A missing run or policy is the user's input: exit 2, like a bad flag. */
function asUsageError(err: unknown): never {
  if (err instanceof ReportInputError) throw new UsageError(err.message);
  throw err;
}

function positiveInt(name: string, v: number | undefined): number | undefined {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
    throw new UsageError(`Expected --${name} to be an integer >= 1, got ${v}`);
  }
  return v;
}

async function reportCommand(argv: {
  db: string;
  run?: string;
  out?: string;
  resamples?: number;
  seed?: number;
  timelinePolicy?: string;
  png: boolean;
  training?: string;
  json: boolean;
}): Promise<number> {
  const resamples = positiveInt("resamples", argv.resamples);
  return withStore(argv.db, async (store) => {
    let out = argv.out;
    if (out === undefined) {
      const runs = await store.listRuns();
      const run = argv.run === undefined ? runs.at(-1) : runs.find((r) => r.runId === argv.run);
      out = defaultReportDir(argv.db, run?.scenarioName ?? "report");
    }
    const passed = await reportAndPrint(
      store,
      {
        out,
        runId: argv.run,
        resamples,
        seed: argv.seed,
        timelinePolicy: argv.timelinePolicy,
        png: argv.png,
        trainingDb: argv.training,
      },
      argv.json,
    );
    return passed ? EXIT.ok : EXIT.failed;
  });
}

async function compareCommand(argv: {
  db: string[];
  run?: string[];
  out?: string;
  gate?: string[];
  resamples?: number;
  seed?: number;
  json: boolean;
}): Promise<number> {
  const dbs = argv.db;
  const runs = argv.run ?? [];
  if (dbs.length < 1 || dbs.length > 2) throw new UsageError(`Expected one or two --db, got ${dbs.length}`);
  if (runs.length > 2) throw new UsageError(`Expected at most two --run, got ${runs.length}`);
  const resamples = positiveInt("resamples", argv.resamples);
  const stores: TraceStore[] = [];
  try {
    for (const db of dbs) stores.push(await TraceStore.open(db));
    const [a, b = a] = stores as [TraceStore, TraceStore?];
    let baseRun = runs[0];
    let candRun = runs[1];
    if (dbs.length === 1 && runs.length < 2) {
      // One file: the two runs named, or its two latest (older = baseline).
      const all = await a.listRuns();
      if (runs.length === 1 || all.length < 2) {
        throw new UsageError("Name two runs (--run A --run B) or two databases (--db A --db B) to compare");
      }
      [baseRun, candRun] = [all.at(-2)!.runId, all.at(-1)!.runId];
    }
    const outcome = await compareRuns(
      { store: a, runId: baseRun },
      { store: b!, runId: candRun },
      { gates: argv.gate ?? [], out: argv.out, resamples, seed: argv.seed },
    ).catch(asUsageError);
    process.stdout.write(
      argv.json ? `${JSON.stringify({ ...outcome, markdown: undefined }, null, 2)}\n` : `${formatCompare(outcome)}\n`,
    );
    return outcome.passed ? EXIT.ok : EXIT.failed;
  } finally {
    for (const s of stores) await s.close();
  }
}

async function withStore<T>(db: string, f: (store: TraceStore) => Promise<T>): Promise<T> {
  const store = await TraceStore.open(db);
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

export function buildCli(args: string[]) {
  return yargs(args)
    .scriptName("harness")
    .usage(
      "$0 <command> [options]\n\nRuns chaos scenario matrices against recovery policies and stores every step in DuckDB.",
    )
    .command(
      "run <scenario>",
      "Run a scenario matrix and store every step",
      (y) =>
        y
          .positional("scenario", { type: "string", demandOption: true, describe: "Scenario YAML file" })
          .option("db", { type: "string", describe: "DuckDB file (default: runs/<scenario>.duckdb)" })
          .option("jobs", { alias: "j", type: "number", describe: "Worker threads (default: the core count)" })
          .option("seeds", { type: "string", array: true, describe: "Only these seeds (comma-separated or repeated)" })
          .option("policies", { type: "string", array: true, describe: "Only these policy labels" })
          .option("resume", {
            type: "boolean",
            default: false,
            describe: "Continue the latest run of this plan, skipping stored episodes",
          })
          .option("shard", { type: "string", describe: "Run the deterministic slice i/N of the matrix" })
          .option("report", {
            type: "string",
            describe: "Then write the report and check the gates (folder default: <db folder>/<scenario>-report)",
          })
          .example("$0 run scenarios/quickstart.yaml", "Run the quickstart into runs/quickstart.duckdb")
          .example("$0 run scenarios/quickstart.yaml --report", "... and write runs/quickstart-report/")
          .example("$0 run scenarios/full-matrix.yaml --jobs 2 --resume", "Continue an interrupted run")
          .example("$0 run scenarios/full-matrix.yaml --shard 1/4 --db shard1.duckdb", "One of four shards"),
      async (argv) => {
        process.exitCode = await runCommand(argv as Parameters<typeof runCommand>[0]);
      },
    )
    .command(
      "runs",
      "List the runs in a database",
      (y) =>
        y
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file" })
          .option("json", { type: "boolean", default: false, describe: "JSON on stdout" })
          .example("$0 runs --db runs/quickstart.duckdb", ""),
      async (argv) => {
        const runs = await withStore(argv.db, (s) => s.listRuns());
        process.stdout.write(
          argv.json
            ? `${JSON.stringify(runs, null, 2)}\n`
            : `${formatTable(runs, [
                ["runId", "run"],
                ["scenarioName", "scenario"],
                ["status", "status"],
                ["shard", "shard"],
                ["episodes", "episodes"],
                ["startedAt", "started"],
              ])}\n`,
        );
      },
    )
    .command(
      "metrics",
      "Per-cell metrics of a run (the latest by default)",
      (y) =>
        y
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file" })
          .option("run", { type: "string", describe: "Run id (default: the latest)" })
          .option("json", { type: "boolean", default: false, describe: "JSON on stdout (all metrics)" })
          .example("$0 metrics --db runs/quickstart.duckdb --json | jq '.[0]'", ""),
      async (argv) => {
        const rows = await withStore(argv.db, (s) => s.cellMetrics(argv.run));
        process.stdout.write(
          argv.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatTable(rows, METRIC_COLUMNS)}\n`,
        );
      },
    )
    .command(
      "report",
      "Write the HTML/Markdown report of a run and check its scenario's gates (exit 1 if one fails)",
      (y) =>
        y
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file" })
          .option("run", { type: "string", describe: "Run id (default: the latest)" })
          .option("out", { type: "string", describe: "Output folder (default: <db folder>/<scenario>-report)" })
          .option("resamples", { type: "number", describe: "Bootstrap resamples (default 2000)" })
          .option("seed", { type: "number", describe: "Bootstrap seed (default 0)" })
          .option("timeline-policy", {
            type: "string",
            describe: "Policy the episode timelines show (default: the last)",
          })
          .option("png", { type: "boolean", default: true, describe: "Write PNGs beside the SVGs (--no-png to skip)" })
          .option("training", {
            type: "string",
            describe: "Chart the training curves of this store (harness train --db, e.g. runs/training.duckdb)",
          })
          .option("json", { type: "boolean", default: false, describe: "The outcome (files, gates) as JSON on stdout" })
          .example("$0 report --db runs/quickstart.duckdb", "Write runs/quickstart-report/index.html and report.md")
          .example(
            "$0 report --db runs/full-matrix.duckdb --out out/ && cat out/report.md >> $GITHUB_STEP_SUMMARY",
            "",
          ),
      async (argv) => {
        process.exitCode = await reportCommand(argv as Parameters<typeof reportCommand>[0]);
      },
    )
    .command(
      "compare",
      "Regression report between two runs of one scenario: each change with its interval (exit 1 if a --gate fails)",
      (y) =>
        y
          .option("db", {
            type: "string",
            array: true,
            demandOption: true,
            describe: "DuckDB file(s): baseline first, then candidate; one file with two --run",
          })
          .option("run", {
            type: "string",
            array: true,
            describe: "Run id(s), in the same order (default: the latest)",
          })
          .option("gate", {
            type: "string",
            array: true,
            describe: "Gate against the baseline, e.g. 'candidate.mttr <= baseline.mttr * 1.05'",
          })
          .option("out", { type: "string", describe: "Folder for compare.md" })
          .option("resamples", { type: "number", describe: "Bootstrap resamples (default 2000)" })
          .option("seed", { type: "number", describe: "Bootstrap seed (default 0)" })
          .option("json", { type: "boolean", default: false, describe: "The outcome as JSON on stdout" })
          .example("$0 compare --db main.duckdb --db pr.duckdb --gate 'candidate.uptime >= baseline.uptime - 0.01'", "")
          .example("$0 compare --db runs/quickstart.duckdb --run <old> --run <new> --out out/", ""),
      async (argv) => {
        process.exitCode = await compareCommand(argv as Parameters<typeof compareCommand>[0]);
      },
    )
    .command(
      "merge <target> <sources..>",
      "Combine shard databases into one",
      (y) =>
        y
          .positional("target", {
            type: "string",
            demandOption: true,
            describe: "DuckDB file to merge into (created if missing)",
          })
          .positional("sources", { type: "string", array: true, demandOption: true, describe: "Shard DuckDB files" })
          .example("$0 merge runs/all.duckdb shard1.duckdb shard2.duckdb", ""),
      async (argv) => {
        const summary = await mergeStores(argv.target, argv.sources);
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      },
    )
    .command(
      "export",
      "Export every table and metric view as Parquet",
      (y) =>
        y
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file" })
          .option("parquet", { type: "string", demandOption: true, describe: "Output folder" })
          .example("$0 export --db runs/quickstart.duckdb --parquet out/", ""),
      async (argv) => {
        const files = await exportParquet(argv.db, argv.parquet);
        process.stdout.write(`${files.join("\n")}\n`);
      },
    )
    .command(trainCommand)
    .command(testbedCommand)
    .demandCommand(1, "Name a command: run, runs, metrics, report, compare, merge, export, train or testbed")
    .strict()
    .help()
    .alias("h", "help")
    .version(false)
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`${msg}\n\nRun harness --help for usage.\n`);
      process.exit(EXIT.usage);
    });
}

export async function main(args: string[] = hideBin(process.argv)): Promise<void> {
  try {
    await buildCli(args).parseAsync();
  } catch (err) {
    if (err instanceof ScenarioError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = EXIT.usage;
    } else {
      log.error({ err }, (err as Error)?.message ?? String(err));
      process.exitCode = EXIT.failed;
    }
  }
}
