/**
 * `harness explain --db F [--run R] --episode K --step S [--url URL | --model M]
 * [--background healthy|recorded] [--json]`: why did the policy decide what it did at one
 * recorded step? The step's `obs-v1` vector, as the store recorded it, goes to the agent
 * service's `POST /explain` (`--url`) or to the same exact-Shapley code run here on a model
 * file (policies/service/explain.ts), and the answer is printed feature by feature, largest
 * effect first, with what it is measured against.
 *
 * The background is stated with every answer: `healthy` is the service's default (one
 * healthy steady state); `recorded` takes up to 64 states of the same run recorded while the
 * SLO held, evenly spread over the run: "what moved this decision away from the run's
 * healthy ones".
 */

import type { Argv, CommandModule } from "yargs";
import { loadOnnxModel } from "../policies/onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../policies/rl.ts";
import { type Explanation, explain, HEALTHY_BACKGROUND } from "../policies/service/explain.ts";
import { explainResponseSchema } from "../policies/service/schemas.ts";
import { OperationError, UsageError } from "./cli-errors.ts";
import { openExistingStore } from "./cli-store.ts";
import { ACTION_NAMES, OBS_V1 } from "./core/contract.ts";
import type { TraceStore } from "./store.ts";
import { OBS_COLUMNS } from "./trace.ts";

export const BACKGROUNDS = ["healthy", "recorded"] as const;
export type BackgroundKind = (typeof BACKGROUNDS)[number];

/** Most background states: the service's limit (schemas.ts), 512 x 64 rows in one model run. */
const MAX_BACKGROUND = 64;

const OBS_SQL = OBS_COLUMNS.map((c) => `s.${c}`).join(", ");

/** One recorded step: where it is, what was decided then, and its state vector. */
export interface RecordedStep {
  readonly runId: string;
  readonly episodeId: number;
  readonly step: number;
  readonly timeS: number;
  readonly policy: string;
  readonly proposed: string;
  readonly executed: string;
  readonly reason: string;
  readonly sloOk: boolean;
  readonly state: readonly number[];
}

export interface StepExplanation extends Explanation {
  readonly at: RecordedStep;
  /** What the background is, in words. */
  readonly backgroundKind: string;
  /** Who computed it: the service's URL or the model file. */
  readonly source: string;
  readonly model: { readonly sha256: string; readonly codec: string };
}

const vector = (row: Record<string, unknown>) => OBS_COLUMNS.map((c) => Number(row[c]));

/** The recorded step (episode ids are unique in a store; `runId` checks it belongs to that run). */
export async function readRecordedStep(
  store: TraceStore,
  q: { readonly runId?: string; readonly episode: number; readonly step: number },
): Promise<RecordedStep> {
  const [ep] = await store.query("SELECT run_id, policy FROM episodes WHERE episode_id = ?", [q.episode]);
  if (ep === undefined) throw new UsageError(`No episode ${q.episode} in ${store.path}`);
  if (q.runId !== undefined && ep.run_id !== q.runId) {
    throw new UsageError(`Episode ${q.episode} belongs to run ${String(ep.run_id)}, not ${q.runId}`);
  }
  const [row] = await store.query(
    `SELECT s.step, s.time_s, s.proposed, s.executed, s.slo_ok, r.reason, ${OBS_SQL}
       FROM steps s LEFT JOIN guard_reasons r ON r.code = s.reason
      WHERE s.episode_id = ? AND s.step = ?`,
    [q.episode, q.step],
  );
  if (row === undefined) {
    const [n] = await store.query("SELECT count(*)::INTEGER AS n FROM steps WHERE episode_id = ?", [q.episode]);
    throw new UsageError(`Episode ${q.episode} has no step ${q.step} (it has steps 0..${Number(n!.n) - 1})`);
  }
  const state = vector(row);
  if (state.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`Episode ${q.episode} step ${q.step} has no recorded observation vector`);
  }
  const name = (a: unknown) => ACTION_NAMES[Number(a)] ?? String(a);
  return {
    runId: String(ep.run_id),
    episodeId: q.episode,
    step: q.step,
    timeS: Number(row.time_s),
    policy: String(ep.policy),
    proposed: name(row.proposed),
    executed: name(row.executed),
    reason: String(row.reason ?? "?"),
    sloOk: Boolean(row.slo_ok),
    state,
  };
}

/** Up to 64 states of the run recorded while the SLO held, evenly spread (deterministic). */
export async function recordedHealthyStates(store: TraceStore, runId: string): Promise<number[][]> {
  const rows = await store.query(
    `WITH healthy AS (
       SELECT ${OBS_SQL}, row_number() OVER (ORDER BY s.episode_id, s.step) - 1 AS i, count(*) OVER () AS n
         FROM steps s JOIN episodes e USING (episode_id)
        WHERE e.run_id = ? AND s.slo_ok AND s.missing = 0)
     SELECT * EXCLUDE (i, n) FROM healthy
      WHERE n <= ${MAX_BACKGROUND} OR i % ceil(n / ${MAX_BACKGROUND})::BIGINT = 0
      ORDER BY i LIMIT ${MAX_BACKGROUND}`,
    [runId],
  );
  return rows.map(vector).filter((v) => v.every(Number.isFinite));
}

/** Asks a running agent service (`harness agent serve`) for the explanation. */
async function explainByService(
  url: string,
  state: readonly number[],
  background: readonly (readonly number[])[],
  timeoutMs: number,
) {
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/$/, "")}/explain`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ state, background }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const why = (err as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : String(err);
    throw new OperationError(`The agent service at ${url} did not answer: ${why}`);
  }
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const detail = (body as { detail?: string; title?: string } | null)?.detail ?? res.statusText;
    throw new OperationError(`The agent service at ${url} answered ${res.status}: ${detail}`);
  }
  const parsed = explainResponseSchema.safeParse(body);
  if (!parsed.success) {
    throw new OperationError(`The agent service at ${url} answered a body that is not an explanation`);
  }
  return parsed.data;
}

export interface ExplainStepOptions {
  readonly runId?: string;
  readonly episode: number;
  readonly step: number;
  readonly background: BackgroundKind;
  /** The agent service; without it, `model` is loaded here. */
  readonly url?: string;
  /** @default DEFAULT_MODEL */
  readonly model?: string;
  /** With `url`. @default 10000 */
  readonly timeoutMs?: number;
}

export async function explainStep(store: TraceStore, o: ExplainStepOptions): Promise<StepExplanation> {
  const at = await readRecordedStep(store, o);
  let background: readonly (readonly number[])[] = HEALTHY_BACKGROUND;
  let backgroundKind = "one healthy steady state (the service's default)";
  if (o.background === "recorded") {
    background = await recordedHealthyStates(store, at.runId);
    if (background.length === 0) {
      throw new UsageError(`Run ${at.runId} has no step recorded with the SLO holding: use --background healthy`);
    }
    backgroundKind = `${background.length} states of run ${at.runId} recorded while the SLO held`;
  }
  if (o.url !== undefined) {
    const e = await explainByService(o.url, at.state, background, o.timeoutMs ?? 10_000);
    return { ...e, at, backgroundKind, source: o.url };
  }
  const file = resolveModelPath(o.model ?? DEFAULT_MODEL);
  const model = await loadOnnxModel(file, {
    logger: { warn: (m) => process.stderr.write(`warning: ${m}\n`) },
  });
  try {
    // The trace keeps each step's obs-v1 vector; a model of another codec cannot be fed it.
    if (model.codec.name !== OBS_V1.name) {
      throw new UsageError(
        `Model ${file} reads ${model.codec.name} states, and the trace stores each step's ${OBS_V1.name} state: only ${OBS_V1.name} models can explain a recorded step`,
      );
    }
    const e = await explain(model, at.state, background);
    return { ...e, at, backgroundKind, source: file, model: { sha256: model.sha256, codec: model.codec.name } };
  } finally {
    await model.dispose();
  }
}

const signed = (v: number) => `${v >= 0 ? "+" : "-"}${Math.abs(v).toFixed(4)}`;

/** The explanation for a terminal: the step, the decision, then one line per feature, largest |phi| first. */
export function formatExplanation(e: StepExplanation): string {
  const a = e.at;
  const sum = e.attributions.reduce((s, x) => s + x.phi, 0);
  const order = [...e.attributions].sort((x, y) => Math.abs(y.phi) - Math.abs(x.phi));
  const largest = Math.max(1e-12, ...order.map((x) => Math.abs(x.phi)));
  const bar = (phi: number) => (phi >= 0 ? "+" : "-").repeat(Math.round((20 * Math.abs(phi)) / largest));
  return [
    `Run ${a.runId}, episode ${a.episodeId}, step ${a.step} (t = ${a.timeS} s, SLO ${a.sloOk ? "held" : "broken"}): ${a.policy} proposed ${a.proposed}; executed ${a.executed} (${a.reason})`,
    `Model ${e.model.sha256.slice(0, 12)} (${e.model.codec}) via ${e.source}`,
    `Decision: ${e.actionName}, p = ${e.output.toFixed(4)}; over the background, p = ${e.base.toFixed(4)}`,
    `Background: ${e.backgroundKind}`,
    `Exact Shapley values of p(${e.actionName}) (they sum to ${signed(sum)} = p - background p):`,
    "",
    `${"phi".padStart(7)}  ${"effect".padEnd(20)}  ${"value".padStart(6)}  feature`,
    ...order.map((x) => `${signed(x.phi)}  ${bar(x.phi).padEnd(20)}  ${x.value.toFixed(3).padStart(6)}  ${x.feature}`),
    "",
  ].join("\n");
}

interface ExplainArgs {
  db: string;
  run?: string;
  episode: number;
  step: number;
  url?: string;
  model?: string;
  background: BackgroundKind;
  "timeout-ms": number;
  json: boolean;
}

export const explainCommand: CommandModule<object, ExplainArgs> = {
  command: "explain",
  describe: "Why did the policy decide that? Exact Shapley attributions of one recorded step's decision",
  builder: (y: Argv) =>
    y
      .option("db", { type: "string", demandOption: true, describe: "DuckDB file holding the run (must exist)" })
      .option("run", {
        type: "string",
        describe: "Run id the episode must belong to (a check; episode ids are unique)",
      })
      .option("episode", { type: "number", demandOption: true, describe: "Episode id (harness metrics / report)" })
      .option("step", { type: "number", demandOption: true, describe: "Step of the episode, from 0" })
      .option("url", { type: "string", describe: "An agent service (harness agent serve) to ask; else --model here" })
      .option("model", { type: "string", describe: `ONNX model to explain locally [default: ${DEFAULT_MODEL}]` })
      .option("background", {
        choices: BACKGROUNDS,
        default: "healthy" as const,
        describe: "healthy: one healthy steady state; recorded: the run's states while the SLO held (up to 64)",
      })
      .option("timeout-ms", { type: "number", default: 10_000, describe: "With --url: how long to wait" })
      .option("json", { type: "boolean", default: false, describe: "JSON on stdout" })
      .conflicts("url", "model")
      .example("$0 explain --db runs/quickstart.duckdb --episode 12 --step 40", "with the committed model")
      .example(
        "$0 explain --db runs/controller.duckdb --episode 1 --step 300 --url http://127.0.0.1:8080 --background recorded",
        "ask the running agent service, against the run's healthy states",
      ) as unknown as Argv<ExplainArgs>,
  handler: async (argv) => {
    for (const k of ["episode", "step"] as const) {
      if (!Number.isInteger(argv[k]) || argv[k] < 0) {
        throw new UsageError(`Expected --${k} to be a whole number >= 0, got ${argv[k]}`);
      }
    }
    const store = await openExistingStore(argv.db);
    let e: StepExplanation;
    try {
      e = await explainStep(store, {
        ...(argv.run === undefined ? {} : { runId: argv.run }),
        episode: argv.episode,
        step: argv.step,
        background: argv.background,
        ...(argv.url === undefined ? {} : { url: argv.url }),
        ...(argv.model === undefined ? {} : { model: argv.model }),
        timeoutMs: argv["timeout-ms"],
      });
    } finally {
      await store.close();
    }
    process.stdout.write(argv.json ? `${JSON.stringify(e, null, 1)}\n` : formatExplanation(e));
  },
};
