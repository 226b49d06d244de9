/**
 * `harness replay-decisions --db F [--run R] --policy P [--params JSON] [--episode N ...]`:
 * what policy P would have proposed at every recorded step of a run (harness/decision-replay.ts),
 * as Markdown on stdout, or JSON with `--json`. Nothing is executed and nothing is written.
 */
import type { Argv, CommandModule } from "yargs";
import { isPolicyName, POLICY_NAMES } from "../policies/index.ts";
import { markdownTable } from "../reports/markdown.ts";
import { UsageError } from "./cli-errors.ts";
import { openExistingStore, pickRun } from "./cli-store.ts";
import { ACTION_NAMES } from "./core/contract.ts";
import { type DecisionReplay, replayDecisions } from "./decision-replay.ts";

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
