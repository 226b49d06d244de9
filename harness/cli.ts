/**
 * The `harness` command line. Results go to stdout (tables, or JSON with --json); logs
 * (human lines on a terminal, pino JSON lines otherwise) and progress go to stderr, so
 * `harness metrics --json | jq` works.
 *
 * Exit codes (cli-errors.ts, and the README's table): 0 success; 1 some episode failed, a
 * gate failed (report, run --report, compare) or an operation failed (a database locked by
 * another process, a full disk); 2 invalid input (scenario file, its gates, flags, a model
 * that does not load, a database that is missing or not a trace store); 130 interrupted
 * (Ctrl-C): finished episodes are kept, rerun with --resume to continue. The exit code of an
 * error comes from its catalogue code (harness/core/errors.ts), never from its text. Every
 * error is one line on stderr; stacks go to the debug log (HARNESS_LOG_LEVEL=debug).
 */
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import type { Logger } from "pino";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { probeLimits } from "../cluster/local/cgroups.ts";
import { testbedCommand } from "../cluster/local/testbed-cli.ts";
import { agentCommand } from "../policies/service/cli.ts";
import { compareBackends } from "../reports/backends.ts";
import { compareRuns } from "../reports/compare.ts";
import { gateCase, type JunitCase } from "../reports/gates-junit.ts";
import { loadReportData } from "../reports/load.ts";
import { writeReport } from "../reports/report.ts";
import { compileScenarioGates } from "../reports/scenario-gates.ts";
import { formatCompare, formatGates } from "../reports/terminal.ts";
import type { CellMetricsRow } from "../reports/views.ts";
import { BACKENDS, type Scenario } from "../scenarios/schema.ts";
import { calibrateCommand } from "./calibrate-cli.ts";
import { appendStepSummary, writeJunit } from "./ci-output.ts";
import { EXIT, failure, OperationError, oneLine, UsageError } from "./cli-errors.ts";
import { exportParquetFiles } from "./cli-export.ts";
import { migrateExistingStore, openExistingStore, openTrainingStore, pickRun, requireStoreFile } from "./cli-store.ts";
import { trainCommand } from "./cli-train.ts";
import { approveCommand, controllerCommand } from "./controller/cli.ts";
import { parseShard } from "./core/runs.ts";
import { dashboardCommand } from "./dashboard/cli.ts";
import { explainCommand } from "./explain-cli.ts";
import { createLogger, LOG_FORMATS, type LogFormat } from "./log.ts";
import { planCommand } from "./plan-cli.ts";
import { progressReporter } from "./progress.ts";
import { replayCommand, replayDecisionsCommand } from "./replay-cli.ts";
import { type RunSummary, runScenario } from "./runner.ts";
import { loadScenarioOrThrow, parseScenario, withBackend } from "./scenario-file.ts";
import { assertRunnable } from "./scenario-runnable.ts";
import { mergeStores, type TraceStore } from "./store.ts";
import { SCHEMA_VERSION } from "./store-schema.ts";
import { type Columns, formatTable } from "./table.ts";

/** Replaced once the flags are parsed (--log-format). */
let log: Logger = createLogger();

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
  .version;

/** Every command, for the "Name a command" message. */
const COMMANDS = [
  "run",
  "runs",
  "metrics",
  "report",
  "compare",
  "merge",
  "plan",
  "export",
  "train",
  "testbed",
  "replay",
  "replay-decisions",
  "explain",
  "agent",
  "chaos",
  "controller",
  "approve",
  "dashboard",
  "completion",
] as const;

/** `harness chaos cleanup`: exit 0 when nothing is left, 1 when something could not be removed. */
async function chaosCleanupCommand(argv: {
  scenario: string;
  run?: string;
  dryRun: boolean;
  json: boolean;
}): Promise<number> {
  const { scenario } = await loadScenarioOrThrow(argv.scenario);
  if (scenario.cluster === undefined) {
    throw new UsageError(
      `${argv.scenario} has no cluster: section (chaos cleanup needs its kubeconfig and namespaces)`,
    );
  }
  const c = scenario.cluster;
  const { loadKubeConfig, KubeClient } = await import("../cluster/kube/client.ts");
  const { cleanupChaos } = await import("../cluster/kube/cleanup.ts");
  // Unreachable API, no permission, a bad kubeconfig: one line, exit 1.
  const r = await (async () => {
    const client = new KubeClient(loadKubeConfig(c), { allowedNamespaces: c.allowedNamespaces, dryRun: argv.dryRun });
    return cleanupChaos(client, {
      namespaces: c.allowedNamespaces,
      ...(argv.run === undefined ? {} : { runId: argv.run }),
    });
  })().catch((err: unknown) => {
    throw new OperationError(`chaos cleanup: ${oneLine(err)}`);
  });
  if (argv.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    for (const x of r.removed) process.stdout.write(`${argv.dryRun ? "would remove" : "removed"} ${x}\n`);
    for (const x of r.failed) process.stderr.write(`not removed: ${x}\n`);
    if (r.removed.length === 0 && r.failed.length === 0) {
      process.stdout.write(
        `nothing left${argv.run ? ` by run ${argv.run}` : ""} in ${c.allowedNamespaces.join(", ")}\n`,
      );
    }
  }
  return r.failed.length > 0 ? EXIT.failed : EXIT.ok;
}

/** The scenario with `cluster.dryRun` set (`run --dry-run`); other backends have no writes to dry-run. */
function withDryRun<T extends { scenario: Scenario }>(loaded: T): T {
  const { scenario } = loaded;
  if (scenario.backend !== "cluster" || scenario.cluster === undefined) {
    throw new UsageError(`--dry-run applies to backend cluster only (this scenario's backend is ${scenario.backend})`);
  }
  return { ...loaded, scenario: { ...scenario, cluster: { ...scenario.cluster, dryRun: true } } };
}

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
  junit?: string;
  backend?: Scenario["backend"];
  dryRun?: boolean;
}): Promise<number> {
  const file = await loadScenarioOrThrow(argv.scenario);
  let loaded = argv.backend === undefined ? file : withBackend(file, argv.backend);
  assertRunnable(loaded);
  if (argv.dryRun) loaded = withDryRun(loaded);
  // A gate naming a policy or metric the matrix lacks is found now, not after the run.
  compileScenarioGates(loaded);
  let shard = null;
  shard = argv.shard === undefined ? null : parseShard(argv.shard, process.env);
  if (argv.jobs !== undefined && !(Number.isInteger(argv.jobs) && argv.jobs >= 1)) {
    throw new UsageError(`Expected --jobs to be an integer >= 1, got ${argv.jobs}`);
  }
  const db = argv.db ?? defaultDb(argv.scenario);
  if (statSync(db, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--db ${resolve(db)} is a directory; expected a DuckDB file`);
  }
  const requested = loaded.scenario.local?.cgroups ?? "auto";
  if (loaded.scenario.backend === "local" && requested !== "none") {
    const limits = probeLimits(requested);
    if (limits.mode === "none") log.warn(`testbed limits: ${limits.detail}`);
  }
  const controller = new AbortController();
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(EXIT.interrupted);
    if (controller.signal.aborted) {
      // Not process.exit: threads still loading modules then abort Node (exit 134).
      log.warn("stopping now: episodes in flight are abandoned (Ctrl-C a third time to exit at once)");
      stop.abort();
      return;
    }
    log.warn("interrupted: finishing the episodes in flight (Ctrl-C again to quit now); rerun with --resume");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  try {
    const plan = { seeds: seedList(argv.seeds), policies: list(argv.policies) };
    const summary = await runScenario({
      loaded,
      db,
      jobs: argv.jobs,
      plan,
      resume: argv.resume,
      shard,
      signal: controller.signal,
      stop: stop.signal,
      onStoreMigrated: logMigrated,
      reporters: [
        progressReporter(),
        {
          onRunStart: (s) => {
            if (argv.jobs !== undefined && s.jobs < s.jobsRequested) {
              log.warn(
                `--jobs ${s.jobsRequested} capped at ${s.jobs}: ${s.cores} cores, ${s.total - s.skipped} episodes to run (more threads only cost memory)`,
              );
            }
            log.info({ ...s, db, scenario: argv.scenario }, "run started");
          },
          onEpisodeEnd: ({ outcome, episode }) => {
            if (outcome.status === "failed")
              log.error({ episode: episode.key, error: outcome.error }, "episode failed");
          },
          onRunEnd: (s) => log.info(s, s.interrupted ? "run interrupted" : "run finished"),
        },
      ],
    });
    const store = await openExistingStore(db);
    let gatesPassed = true;
    try {
      const rows = inMatrixOrder(await store.cellMetrics(summary.runId), loaded.scenario.matrix);
      const table = formatTable(rows, METRIC_COLUMNS);
      process.stdout.write(`run ${summary.runId} -> ${db}\n\n${table}\n`);
      let gates: JunitCase[] = loaded.gates.map((g) => ({
        name: g.expr,
        classname: `${loaded.scenario.name}.gates`,
        file: loaded.fileName,
        line: g.line,
        skipped: "run without --report does not check gates",
      }));
      if (argv.report !== undefined) {
        const out = argv.report === "" ? defaultReportDir(db, loaded.scenario.name) : argv.report;
        const outcome = await reportAndPrint(store, { out, runId: summary.runId });
        gatesPassed = outcome.passed;
        gates = outcome.gates.map((g) => gateCase(g, loaded.scenario.name));
      } else {
        appendStepSummary(`## harness run ${summary.runId}\n\n${runLine(summary)}\n\n\`\`\`\n${table}\n\`\`\`\n`);
      }
      if (argv.junit !== undefined) {
        const file = writeJunit(argv.junit, [
          {
            name: `${loaded.scenario.name} run ${summary.runId}`,
            cases: [episodesCase(summary, loaded.scenario.name), ...gates],
          },
        ]);
        log.info({ file }, "junit written");
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

function runLine(s: RunSummary): string {
  return `${s.completed + s.failed} episodes run (${s.failed} failed), ${s.skipped} stored before${s.interrupted ? "; interrupted" : ""}`;
}

/** The run's episodes as one test case: a failure when any failed. */
function episodesCase(s: RunSummary, scenario: string): JunitCase {
  return {
    name: "episodes",
    classname: `${scenario}.run`,
    output: runLine(s),
    ...(s.failed > 0 || s.interrupted
      ? { failure: { message: runLine(s), detail: `harness runs / metrics --db ${s.db} --run ${s.runId}` } }
      : {}),
  };
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

/** Writes the report, prints where it is and the gates, appends it to the CI summary. */
async function reportAndPrint(
  store: TraceStore,
  opts: Parameters<typeof writeReport>[1],
  json = false,
): Promise<Awaited<ReturnType<typeof writeReport>>> {
  log.info({ runId: opts.runId ?? "latest", out: opts.out }, "writing the report (statistics, then charts)");
  const outcome = await writeReport(store, {
    ...opts,
    onWarning: (message) => log.warn({ message }, "chart warning"),
    onStage: (s) => log.info(s, `report: ${s.stage === "chart" ? `chart ${s.index}/${s.of} (${s.name})` : s.stage}`),
  });
  log.info({ runId: outcome.runId, timingsMs: outcome.timings }, "report written");
  if (json) {
    process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
  } else {
    const html = join(outcome.out, "index.html");
    process.stdout.write(
      `\nreport ${outcome.runId} -> ${html} (and report.md, charts/)\n${formatGates(outcome.gates)}\n`,
    );
  }
  appendStepSummary(readFileSync(join(outcome.out, "report.md"), "utf8"));
  return outcome;
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
  junit?: string;
}): Promise<number> {
  const resamples = positiveInt("resamples", argv.resamples);
  return withStore(argv.db, async (store) => {
    const run = await pickRun(store, argv.run);
    const out = argv.out ?? defaultReportDir(argv.db, run.scenarioName);
    const trainingStore = argv.training === undefined ? undefined : await openTrainingStore(argv.training);
    const outcome = await reportAndPrint(
      store,
      {
        out,
        runId: run.runId,
        resamples,
        seed: argv.seed,
        timelinePolicy: argv.timelinePolicy,
        png: argv.png,
        trainingStore,
      },
      argv.json,
    ).finally(() => trainingStore?.close());
    if (argv.junit !== undefined) {
      writeJunit(argv.junit, [
        {
          name: `${run.scenarioName} gates (run ${run.runId})`,
          cases: outcome.gates.map((g) => gateCase(g, run.scenarioName)),
        },
      ]);
    }
    return outcome.passed ? EXIT.ok : EXIT.failed;
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
  unpaired: boolean;
  junit?: string;
}): Promise<number> {
  const dbs = argv.db;
  const runs = argv.run ?? [];
  if (dbs.length < 1 || dbs.length > 2) throw new UsageError(`Expected one or two --db, got ${dbs.length}`);
  if (runs.length > 2) throw new UsageError(`Expected at most two --run, got ${runs.length}`);
  const resamples = positiveInt("resamples", argv.resamples);
  const stores: TraceStore[] = [];
  try {
    for (const db of dbs) stores.push(await openExistingStore(db));
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
      { gates: argv.gate ?? [], out: argv.out, resamples, seed: argv.seed, unpaired: argv.unpaired },
    );
    process.stdout.write(
      argv.json ? `${JSON.stringify({ ...outcome, markdown: undefined }, null, 2)}\n` : `${formatCompare(outcome)}\n`,
    );
    appendStepSummary(outcome.markdown);
    if (argv.junit !== undefined) {
      writeJunit(argv.junit, [
        {
          name: `compare ${outcome.baselineRun} -> ${outcome.candidateRun}`,
          cases: outcome.gates.map((g) => gateCase(g, "compare")),
        },
      ]);
    }
    return outcome.passed ? EXIT.ok : EXIT.failed;
  } finally {
    for (const s of stores) await s.close();
  }
}

async function compareBackendsCommand(argv: {
  sim: string;
  real: string;
  "sim-run"?: string;
  "real-run"?: string;
  out?: string;
  resamples?: number;
  seed?: number;
  json: boolean;
}): Promise<number> {
  const resamples = positiveInt("resamples", argv.resamples);
  const outcome = await withStore(argv.sim, (simStore) =>
    withStore(argv.real, async (realStore) => {
      const sim = await loadReportData(simStore, { runId: argv["sim-run"], charts: false });
      const real = await loadReportData(realStore, { runId: argv["real-run"], charts: false });
      return compareBackends(sim, real, { out: argv.out, resamples, seed: argv.seed });
    }),
  );
  process.stdout.write(
    argv.json ? `${JSON.stringify({ ...outcome, markdown: undefined }, null, 2)}\n` : outcome.markdown,
  );
  appendStepSummary(outcome.markdown);
  return EXIT.ok;
}

/** A trace store migrated on open, in the run's log. */
function logMigrated(m: {
  readonly file: string;
  readonly from: number;
  readonly to: number;
  readonly ms: number;
}): void {
  log.info({ db: m.file, from: m.from, to: m.to, ms: Math.round(m.ms) }, "trace store migrated to this build's schema");
}

/** Opens an existing store (never creates one), runs `f`, closes it. */
async function withStore<T>(db: string, f: (store: TraceStore) => Promise<T>): Promise<T> {
  const store = await openExistingStore(db);
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
          .option("jobs", {
            alias: "j",
            type: "number",
            describe: "Worker threads (default and most: the core count; never more than the episodes)",
          })
          .option("seeds", { type: "string", array: true, describe: "Only these seeds (comma-separated or repeated)" })
          .option("policies", { type: "string", array: true, describe: "Only these policy labels" })
          .option("resume", {
            type: "boolean",
            default: false,
            describe: "Continue the latest run of this plan, skipping stored episodes",
          })
          .option("shard", {
            type: "string",
            describe:
              "Run the deterministic slice i/N of the matrix (job/N: i is $JOB_COMPLETION_INDEX + 1, in an Indexed Job)",
          })
          .option("backend", {
            choices: BACKENDS,
            describe: "Run on this backend instead of the scenario's (the stored scenario text says which ran)",
          })
          .option("report", {
            type: "string",
            describe: "Then write the report and check the gates (folder default: <db folder>/<scenario>-report)",
          })
          .option("junit", {
            type: "string",
            describe:
              "Write the episodes and gates as JUnit XML to this file (a test case per gate, for CI test reporters)",
          })
          .option("dry-run", {
            type: "boolean",
            default: false,
            describe:
              "backend cluster: send every write with server-side dryRun=All (validated, never persisted) and record what would have happened",
          })
          .example("$0 run scenarios/quickstart.yaml", "Run the quickstart into runs/quickstart.duckdb")
          .example("$0 run scenarios/quickstart.yaml --report", "... and write runs/quickstart-report/")
          .example("$0 run scenarios/full-matrix.yaml --jobs 2 --resume", "Continue an interrupted run")
          .example("$0 run scenarios/full-matrix.yaml --shard 1/4 --db shard1.duckdb", "One of four shards")
          .example(
            "$0 run scenarios/testbed-calibration.yaml --backend sim --db runs/cal-sim.duckdb",
            "The local testbed's cells on the simulator",
          ),
      async (argv) => {
        process.exitCode = await runCommand(argv as Parameters<typeof runCommand>[0]);
      },
    )
    .command(
      "runs",
      "List the runs in a database",
      (y) =>
        y
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file (must exist)" })
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
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file (must exist)" })
          .option("run", { type: "string", describe: "Run id (default: the latest)" })
          .option("json", { type: "boolean", default: false, describe: "JSON on stdout (all metrics)" })
          .example("$0 metrics --db runs/quickstart.duckdb --json | jq '.[0]'", ""),
      async (argv) => {
        const rows = await withStore(argv.db, async (s) => {
          const run = await pickRun(s, argv.run);
          const stored = parseScenario(run.scenarioText, `${run.scenarioName}.yaml`);
          const cells = await s.cellMetrics(run.runId);
          // The scenario's own order, as `run` prints it; the stored text is the run's.
          return stored.success ? inMatrixOrder(cells, stored.data.scenario.matrix) : cells;
        });
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
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file (must exist)" })
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
          .option("junit", {
            type: "string",
            describe: "Write the gates as JUnit XML to this file (a test case per gate, for CI test reporters)",
          })
          .example("$0 report --db runs/quickstart.duckdb", "Write runs/quickstart-report/index.html and report.md")
          .example(
            "$0 report --db runs/full-matrix.duckdb --out out/ --junit out/gates.xml",
            "In CI: report.md is also appended to $GITHUB_STEP_SUMMARY when it is set",
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
          .option("unpaired", {
            type: "boolean",
            default: false,
            describe: "Compare runs that share no cell and seed (unpaired means); refused otherwise",
          })
          .option("junit", {
            type: "string",
            describe: "Write the gates as JUnit XML to this file (a test case per gate, for CI test reporters)",
          })
          .example("$0 compare --db main.duckdb --db pr.duckdb --gate 'candidate.uptime >= baseline.uptime - 0.01'", "")
          .example("$0 compare --db runs/quickstart.duckdb --run <old> --run <new> --out out/", ""),
      async (argv) => {
        process.exitCode = await compareCommand(argv as Parameters<typeof compareCommand>[0]);
      },
    )
    .command(
      "compare-backends",
      "The simulator against a real backend on one scenario: uptime, MTTR and cost per fault type, with intervals",
      (y) =>
        y
          .option("sim", { type: "string", demandOption: true, describe: "DuckDB file of the run on backend sim" })
          .option("real", {
            type: "string",
            demandOption: true,
            describe: "DuckDB file of the run on a real backend (local)",
          })
          .option("sim-run", { type: "string", describe: "Run id in --sim (default: the latest)" })
          .option("real-run", { type: "string", describe: "Run id in --real (default: the latest)" })
          .option("out", { type: "string", describe: "Folder for backends.md" })
          .option("resamples", { type: "number", describe: "Bootstrap resamples (default 2000)" })
          .option("seed", { type: "number", describe: "Bootstrap seed (default 0)" })
          .option("json", { type: "boolean", default: false, describe: "The comparison as JSON on stdout" })
          .example(
            "$0 compare-backends --sim runs/cal-sim.duckdb --real runs/cal-local.duckdb",
            "After running scenarios/testbed-calibration.yaml with --backend sim and --backend local",
          ),
      async (argv) => {
        process.exitCode = await compareBackendsCommand(argv as Parameters<typeof compareBackendsCommand>[0]);
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
          .option("json", { type: "boolean", default: false, describe: "The merge summary as JSON on stdout" })
          .example("$0 merge runs/all.duckdb shard1.duckdb shard2.duckdb", ""),
      async (argv) => {
        // Every source is checked before the target is created.
        for (const source of argv.sources) requireStoreFile(source, "merge source");
        const summary = await mergeStores(argv.target, argv.sources, { onMigrated: logMigrated });
        for (const r of summary.partialRuns) {
          log.warn(
            `run ${r.runId} holds shards ${r.shards} only (missing ${r.missing.join(", ")}): its report covers part of the matrix until the missing shards are merged`,
          );
        }
        process.stdout.write(
          argv.json
            ? `${JSON.stringify(summary, null, 2)}\n`
            : `merged ${summary.sources.length} file(s) into ${summary.target}: ${summary.episodesAdded} episodes added, ${summary.episodesSkipped} already there\n`,
        );
      },
    )
    .command(
      "migrate",
      "Migrate a trace store of an older schema version to this build's, in place",
      (y) =>
        y
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file (must exist)" })
          .example(
            "$0 migrate --db runs/quickstart.duckdb",
            "What read-only commands (runs, metrics, report, compare, export) ask for on an older file",
          ),
      async (argv) => {
        let done: Parameters<typeof logMigrated>[0] | null = null;
        const store = await migrateExistingStore(argv.db, (m) => {
          done = m;
          logMigrated(m);
        });
        await store.close();
        const m = done as Parameters<typeof logMigrated>[0] | null;
        process.stdout.write(
          m === null
            ? `${store.path} is at schema version ${SCHEMA_VERSION} already: nothing to migrate\n`
            : `migrated ${m.file} from schema version ${m.from} to ${m.to}\n`,
        );
      },
    )
    .command(
      "export",
      "Export every table and metric view as Parquet",
      (y) =>
        y
          .option("db", { type: "string", demandOption: true, describe: "DuckDB file (must exist)" })
          .option("parquet", { type: "string", demandOption: true, describe: "Output folder" })
          .option("run", { type: "string", describe: "Only this run's rows (default: every run)" })
          .option("overwrite", { type: "boolean", default: false, describe: "Replace existing Parquet files" })
          .example("$0 export --db runs/quickstart.duckdb --parquet out/", "")
          .example("$0 export --db runs/quickstart.duckdb --run <id> --parquet out/<id>/", "One run"),
      async (argv) => {
        const files = await withStore(argv.db, async (s) => {
          if (argv.run !== undefined) await pickRun(s, argv.run);
          return exportParquetFiles(s, { dir: argv.parquet, runId: argv.run, overwrite: argv.overwrite });
        });
        process.stdout.write(`${files.join("\n")}\n`);
      },
    )
    .command(planCommand)
    .command(trainCommand)
    .command(testbedCommand)
    .command(replayCommand)
    .command(replayDecisionsCommand)
    .command(calibrateCommand)
    .command(explainCommand)
    .command(agentCommand)
    .command(controllerCommand)
    .command(approveCommand)
    .command(dashboardCommand)
    .command(
      "chaos cleanup <scenario>",
      "Remove the Chaos Mesh objects, load-generator patches and pod drains a cluster run left behind (by label)",
      (y) =>
        y
          .positional("scenario", { type: "string", demandOption: true, describe: "Scenario file (backend cluster)" })
          .option("run", { type: "string", describe: "Only this run's leftovers (default: every run's)" })
          .option("dry-run", { type: "boolean", default: false, describe: "Send the deletes with dryRun=All" })
          .option("json", { type: "boolean", default: false, describe: "The report as JSON on stdout" })
          .example("$0 chaos cleanup scenarios/kind-smoke.yaml --run kind-smoke-20261202T101500-a1b2c3", ""),
      async (argv) => {
        process.exitCode = await chaosCleanupCommand(argv as Parameters<typeof chaosCleanupCommand>[0]);
      },
    )
    .completion("completion", "Print a bash/zsh completion script (harness completion >> ~/.bashrc)")
    .option("log-format", {
      choices: LOG_FORMATS,
      default: "auto" as LogFormat,
      global: true,
      describe: "Logs on stderr: human lines (pretty), JSON lines (json), or pretty on a terminal only (auto)",
    })
    .middleware((argv) => {
      log = createLogger({ format: argv.logFormat as LogFormat });
    })
    .demandCommand(1, `Name a command: ${COMMANDS.slice(0, -1).join(", ")} or ${COMMANDS.at(-1)}`)
    .strict()
    .help()
    .alias("h", "help")
    .version(VERSION)
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
    const { code, message } = failure(err);
    // The stack is for whoever debugs the harness, not for the user of a bad flag.
    log.debug({ err }, "error");
    process.stderr.write(`${message}\n`);
    process.exitCode = code;
  }
}
