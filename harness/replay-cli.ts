/**
 * The replay commands (issue 16):
 * - `harness replay --db F [--run R] [--episode K | --cell f/fr/p [--seed S]] --policy P
 *   [--backend sim|local] [--db-out G] [--out DIR]`: re-runs recorded episodes with their
 *   recorded faults and load under policy P (harness/replay-run.ts), in the simulator or on
 *   the local testbed, and prints the counterfactual report, recorded against replayed, as
 *   Markdown (`--out` also writes replay.md and index.html). Exit 1 when a replayed episode
 *   failed, 130 when interrupted (the testbed is cleaned up either way), as `harness run`.
 * - `harness replay-decisions --db F [--run R] --policy P [--params JSON] [--episode N ...]`:
 *   what policy P would have proposed at every recorded step of a run (harness/decision-replay.ts),
 *   as Markdown on stdout, or JSON with `--json`. Nothing is executed and nothing is written.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { probeLimits } from "../cluster/local/cgroups.ts";
import { isPolicyName, POLICY_NAMES, type PolicyName } from "../policies/index.ts";
import { renderHtml } from "../reports/html.ts";
import { markdownTable } from "../reports/markdown.ts";
import { EXIT, UsageError } from "./cli-errors.ts";
import { openExistingStore, pickRun } from "./cli-store.ts";
import { ACTION_NAMES } from "./core/contract.ts";
import { type DecisionReplay, replayDecisions } from "./decision-replay.ts";
import { progressReporter } from "./progress.ts";
import { type ReplaySelection, replayRun } from "./replay-run.ts";

/** Every scenario backend is a choice, so that `cluster` is refused with a reason, not as a typo. */
const BACKEND_CHOICES = ["sim", "local", "cluster"] as const;

interface ReplayRunArgs {
  db: string;
  run?: string;
  episode?: number;
  cell?: string;
  seed?: number;
  policy: string;
  params?: string;
  backend: (typeof BACKEND_CHOICES)[number];
  "db-out"?: string;
  out?: string;
  jobs?: number;
  resamples: number;
  json: boolean;
}

function policyArg(name: string): PolicyName {
  if (!isPolicyName(name)) {
    throw new UsageError(`Expected --policy to be one of ${POLICY_NAMES.join(", ")}, got ${JSON.stringify(name)}`);
  }
  return name;
}

function paramsArg(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch (err) {
    throw new UsageError(`Expected --params to be JSON: ${(err as Error).message}`);
  }
}

export const replayCommand: CommandModule<object, ReplayRunArgs> = {
  command: "replay",
  describe: "Re-run recorded episodes with their recorded faults and load under a policy, and compare (counterfactual)",
  builder: (y: Argv) =>
    y
      .option("db", { type: "string", demandOption: true, describe: "DuckDB file holding the recording (must exist)" })
      .option("run", { type: "string", describe: "Recorded run id (default: the latest)" })
      .option("episode", { type: "number", describe: "Replay this one episode id" })
      .option("cell", { type: "string", describe: "Replay this cell: fault/frequency/policy (labels as recorded)" })
      .option("seed", { type: "number", describe: "Only this seed (with --cell, or alone)" })
      .option("policy", {
        type: "string",
        demandOption: true,
        describe: `Policy to replay: ${POLICY_NAMES.join(", ")}`,
      })
      .option("params", { type: "string", describe: "The policy's parameters as JSON (as in a scenario file)" })
      .option("backend", {
        choices: BACKEND_CHOICES,
        default: "sim" as const,
        describe: "Where the replay runs: the simulator, or the local testbed (real processes, wall clock)",
      })
      .option("db-out", { type: "string", describe: "Write the replay run here (default: --db, as a new run)" })
      .option("out", { type: "string", describe: "Also write replay.md and index.html into this folder" })
      .option("jobs", { type: "number", describe: "Worker threads (default: the core count)" })
      .option("resamples", { type: "number", default: 2000, describe: "Bootstrap resamples of the intervals" })
      .option("json", { type: "boolean", default: false, describe: "JSON on stdout instead of Markdown" })
      .example("$0 replay --db runs/quickstart.duckdb --policy hpa", "what hpa would have done on every recorded fault")
      .example(
        "$0 replay --db runs/quickstart.duckdb --cell pod-kill/low/heuristic --seed 3 --policy heuristic",
        "the same policy again: the recording, row for row",
      )
      .example(
        "$0 replay --db runs/local.duckdb --episode 1 --policy none --backend local --db-out replay.duckdb",
        "a testbed recording's faults and load again on real processes, under none",
      ) as Argv<ReplayRunArgs>,
  handler: async (argv) => {
    const policy = policyArg(argv.policy);
    const params = paramsArg(argv.params);
    if (argv.backend === "cluster") {
      throw new UsageError(
        "--backend cluster: a replay runs in the simulator or on the local testbed (--backend sim|local), not on a cluster yet",
      );
    }
    const backend = argv.backend;
    if (backend === "local") {
      // As `harness run`: a testbed without cgroup limits still runs, but should say so up front.
      const limits = probeLimits("auto");
      if (limits.mode === "none") process.stderr.write(`harness: testbed limits: ${limits.detail}\n`);
    }
    if (argv.jobs !== undefined && !(Number.isInteger(argv.jobs) && argv.jobs >= 1)) {
      throw new UsageError(`Expected --jobs to be an integer >= 1, got ${argv.jobs}`);
    }
    let cell: ReplaySelection["cell"];
    if (argv.cell !== undefined) {
      const parts = argv.cell.split("/");
      if (parts.length !== 3 || parts.some((p) => p === "")) {
        throw new UsageError(`Expected --cell as fault/frequency/policy, got ${JSON.stringify(argv.cell)}`);
      }
      cell = { fault: parts[0]!, frequency: parts[1]!, policy: parts[2]! };
    }
    // As `harness run`: the first Ctrl-C ends the episodes in flight at their next step (a
    // testbed's faults are cleared and its processes stopped on the way out), the second
    // abandons threads, the third exits at once. Listeners stay on until the end: a default
    // SIGINT would kill the process with a testbed still running.
    const controller = new AbortController();
    const stop = new AbortController();
    const onSignal = () => {
      if (stop.signal.aborted) process.exit(EXIT.interrupted);
      if (controller.signal.aborted) {
        process.stderr.write("harness: stopping now (Ctrl-C a third time to exit at once, cleanup or not)\n");
        stop.abort();
        return;
      }
      process.stderr.write(
        "harness: interrupted: ending the episodes in flight and cleaning up (Ctrl-C again to stop now)\n",
      );
      controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      const outcome = await replayRun({
        db: argv.db,
        ...(argv.run === undefined ? {} : { runId: argv.run }),
        select: {
          ...(argv.episode === undefined ? {} : { episode: argv.episode }),
          ...(cell === undefined ? {} : { cell }),
          ...(argv.seed === undefined ? {} : { seed: argv.seed }),
        },
        policy,
        params,
        backend,
        ...(argv["db-out"] === undefined ? {} : { dbOut: argv["db-out"] }),
        ...(argv.jobs === undefined ? {} : { jobs: argv.jobs }),
        resamples: argv.resamples,
        reporters: [progressReporter()],
        signal: controller.signal,
        stop: stop.signal,
        argv: process.argv.slice(2),
      });
      if (argv.out !== undefined) {
        const dir = resolve(argv.out);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "replay.md"), outcome.markdown);
        writeFileSync(join(dir, "index.html"), renderHtml(`Replay of ${outcome.sourceRun}`, outcome.blocks, []));
      }
      const { blocks: _blocks, ...data } = outcome;
      process.stdout.write(argv.json ? `${JSON.stringify(data, null, 1)}\n` : outcome.markdown);
      const { summary } = outcome;
      if (summary.failed > 0) {
        process.stderr.write(
          `harness: ${summary.failed} replayed episode(s) failed; their errors are in run ${summary.runId}\n`,
        );
      }
      process.exitCode = summary.interrupted ? EXIT.interrupted : summary.failed > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};

interface ReplayArgs {
  db: string;
  run?: string;
  policy: string;
  params?: string;
  episode?: number[];
  keep: number;
  json: boolean;
}

export const replayDecisionsCommand: CommandModule<object, ReplayArgs> = {
  command: "replay-decisions",
  describe: "What a policy would have proposed at every recorded step of a run (nothing is executed)",
  builder: (y: Argv) =>
    y
      .option("db", { type: "string", demandOption: true, describe: "DuckDB file (must exist)" })
      .option("run", { type: "string", describe: "Run id (default: the latest)" })
      .option("policy", {
        type: "string",
        demandOption: true,
        describe: `Policy to replay: ${POLICY_NAMES.join(", ")}`,
      })
      .option("params", { type: "string", describe: "The policy's parameters as JSON (as in a scenario file)" })
      .option("episode", { type: "number", array: true, describe: "Only these episode ids" })
      .option("keep", { type: "number", default: 50, describe: "Disagreements listed in full (all are counted)" })
      .option("json", { type: "boolean", default: false, describe: "JSON on stdout instead of Markdown" })
      .example("$0 replay-decisions --db runs/full-matrix.duckdb --policy rl", "rl's view of every recorded step")
      .example(
        "$0 replay-decisions --db runs/local.duckdb --policy hpa --episode 3",
        "one episode",
      ) as Argv<ReplayArgs>,
  handler: async (argv) => {
    if (!isPolicyName(argv.policy)) {
      throw new UsageError(
        `Expected --policy to be one of ${POLICY_NAMES.join(", ")}, got ${JSON.stringify(argv.policy)}`,
      );
    }
    let params: unknown;
    try {
      params = argv.params === undefined ? undefined : JSON.parse(argv.params);
    } catch (err) {
      throw new UsageError(`Expected --params to be JSON: ${(err as Error).message}`);
    }
    const store = await openExistingStore(argv.db);
    try {
      const run = await pickRun(store, argv.run);
      const result = await replayDecisions(store, {
        run,
        policy: argv.policy,
        params,
        keep: argv.keep,
        ...(argv.episode ? { episodes: argv.episode } : {}),
      });
      process.stdout.write(argv.json ? `${JSON.stringify(result, null, 1)}\n` : decisionReplayMarkdown(result));
    } finally {
      await store.close();
    }
  },
};

const pct = (a: number, b: number) => (b === 0 ? "-" : `${((100 * a) / b).toFixed(1)}%`);

export function decisionReplayMarkdown(r: DecisionReplay): string {
  const names = [...ACTION_NAMES] as string[];
  return [
    `# Decision replay: ${r.policy} on run ${r.runId}`,
    "",
    `${r.policy} would have proposed what was proposed at ${r.agreed} of ${r.steps} steps (${pct(r.agreed, r.steps)}), over ${r.episodes} episodes.`,
    "",
    markdownTable({
      header: ["recorded policy", "steps", "agreement"],
      align: "lrr",
      rows: r.byRecordedPolicy.map((p) => [
        { text: p.policy },
        { text: String(p.steps) },
        { text: pct(p.agreed, p.steps) },
      ]),
    }),
    "",
    `Recorded proposal (rows) against ${r.policy}'s (columns), in steps:`,
    "",
    markdownTable({
      header: ["recorded \\ replayed", ...names],
      align: `l${"r".repeat(names.length)}`,
      rows: names.map((rec) => [
        { text: rec },
        ...names.map((rep) => ({ text: String(r.confusion[rec]?.[rep] ?? 0) })),
      ]),
    }),
    "",
    `First ${r.disagreements.length} disagreements:`,
    "",
    markdownTable({
      header: ["episode", "cell", "recorded by", "seed", "t (s)", "SLO", "recorded", "replayed", "why (replayed)"],
      align: "llllrllll",
      rows: r.disagreements.map((d) => [
        { text: String(d.episodeId) },
        { text: `${d.fault} / ${d.frequency}` },
        { text: d.recordedPolicy },
        { text: String(d.seed) },
        { text: String(d.time) },
        { text: d.sloOk ? "ok" : "broken" },
        { text: d.recorded },
        { text: d.replayed },
        { text: d.reason },
      ]),
    }),
    "",
    ...r.notes.map((n) => `> ${n}`),
    "",
  ].join("\n");
}
