/**
 * Recorded runs as small JSON files, for committed test fixtures (issue 16, part 3): a
 * DuckDB file of even a 4-episode run is 3 MB, its JSON a few hundred KB, and JSON does not
 * go stale with the store's schema version. `dumpRun` reads a run back from a store (its
 * context, episodes, every steps column and every event, values exact: JSON numbers
 * round-trip doubles, non-finite values are written as strings); `loadRun` writes it into a
 * store through the ordinary `beginRun`/`writeEpisode` path.
 *
 * A steps column the fixture lacks (written before the column existed) loads as what the
 * store's migration gives it (harness/store-migrate.ts: `codec` 1), else NaN.
 * `npx tsx scripts/record-trace-fixture.ts --db F [--run R] --out FILE` writes one.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { HarnessError } from "./core/errors.ts";
import { EPISODE_STATUSES } from "./core/runs.ts";
import type { EpisodeMeta, RunContext, TraceStore } from "./store.ts";
import { ADDED_COLUMN_VALUES } from "./store-migrate.ts";
import { createTrace, STEP_COLUMNS, type StepColumn, type TraceEvent } from "./trace.ts";

export const TRACE_FIXTURE_FORMAT = "trace-fixture-v1";

const STEP_ADDED = ADDED_COLUMN_VALUES.steps ?? {};

/** A double as JSON: a number, or "NaN" / "Infinity" / "-Infinity". */
const jsonDouble = z.union([z.number(), z.enum(["NaN", "Infinity", "-Infinity"]).transform(Number)]);
const toJson = (x: number): number | "NaN" | "Infinity" | "-Infinity" =>
  Number.isFinite(x) ? x : (String(x) as "NaN" | "Infinity" | "-Infinity");

const eventSchema = z.object({
  time: jsonDouble,
  kind: z.string(),
  action: z.number().int(),
  podId: z.number().int(),
  // Fixtures recorded before schema version 5 name pods by id only.
  podName: z.string().default(""),
  podUid: z.string().default(""),
  faultId: z.number().int(),
  targetRank: z.number().int().optional(),
  fault: z.string().optional(),
  detail: z.string(),
});

const fixtureSchema = z.object({
  format: z.literal(TRACE_FIXTURE_FORMAT),
  run: z.object({
    runId: z.string(),
    scenarioName: z.string(),
    scenarioSha256: z.string(),
    scenarioText: z.string(),
    planSha256: z.string(),
    backend: z.string(),
    gitSha: z.string().nullable(),
    nodeVersion: z.string(),
    argv: z.array(z.string()),
    seeds: z.array(z.number().int()),
    startedAt: z.string(),
  }),
  episodes: z.array(
    z.object({
      meta: z.object({
        key: z.string(),
        fault: z.string(),
        frequency: z.string(),
        policy: z.string(),
        policyName: z.string(),
        seed: z.number().int(),
        backend: z.string(),
        status: z.enum(EPISODE_STATUSES),
        error: z.string().nullable(),
        steps: z.number().int(),
        stepSeconds: z.number(),
        confirmWindowS: z.number(),
        sloLatencyMs: z.number(),
        sloErrorRate: z.number(),
        wallMs: z.number(),
        faultSpecs: z.unknown(),
      }),
      steps: z.record(z.string(), z.array(jsonDouble)),
      events: z.array(eventSchema),
    }),
  ),
});
export type TraceFixture = z.infer<typeof fixtureSchema>;

/** Run `runId` of `store` as a fixture. */
export async function dumpRun(store: TraceStore, runId: string): Promise<z.input<typeof fixtureSchema>> {
  const run = (await store.listRuns()).find((r) => r.runId === runId);
  if (run === undefined) throw new HarnessError("recording_incomplete", `No run ${runId} in ${store.path}`);
  const episodes = await store.query(
    `SELECT episode_id, episode_key, fault, frequency, policy, policy_name, seed, backend, status, error, steps,
       step_seconds, confirm_window_s, slo_latency_ms, slo_error_rate, wall_ms, fault_specs::VARCHAR AS fault_specs
     FROM episodes WHERE run_id = ? ORDER BY episode_id`,
    [runId],
  );
  const out = [];
  for (const e of episodes) {
    const id = Number(e.episode_id);
    const rows = await store.query("SELECT * FROM steps WHERE episode_id = ? ORDER BY step", [id]);
    const steps = Object.fromEntries(STEP_COLUMNS.map(([c]) => [c, rows.map((r) => toJson(Number(r[c])))]));
    const events = (await store.query("SELECT * FROM events WHERE episode_id = ? ORDER BY seq", [id])).map((r) => ({
      time: toJson(Number(r.time_s)),
      kind: String(r.kind),
      action: Number(r.action),
      podId: Number(r.pod_id),
      ...(r.pod_name ? { podName: String(r.pod_name) } : {}),
      ...(r.pod_uid ? { podUid: String(r.pod_uid) } : {}),
      faultId: Number(r.fault_id),
      ...(Number(r.target_rank) >= 0 ? { targetRank: Number(r.target_rank) } : {}),
      ...(r.fault === null ? {} : { fault: String(r.fault) }),
      detail: String(r.detail),
    }));
    out.push({
      meta: {
        key: String(e.episode_key),
        fault: String(e.fault),
        frequency: String(e.frequency),
        policy: String(e.policy),
        policyName: String(e.policy_name),
        seed: Number(e.seed),
        backend: String(e.backend),
        status: String(e.status) as EpisodeMeta["status"],
        error: e.error === null ? null : String(e.error),
        steps: Number(e.steps),
        stepSeconds: Number(e.step_seconds),
        confirmWindowS: Number(e.confirm_window_s),
        sloLatencyMs: Number(e.slo_latency_ms),
        sloErrorRate: Number(e.slo_error_rate),
        wallMs: Number(e.wall_ms),
        faultSpecs: JSON.parse(String(e.fault_specs)),
      },
      steps,
      events,
    });
  }
  return {
    format: TRACE_FIXTURE_FORMAT,
    run: {
      runId: run.runId,
      scenarioName: run.scenarioName,
      scenarioSha256: run.scenarioSha256,
      scenarioText: run.scenarioText,
      planSha256: run.planSha256,
      backend: run.backend,
      gitSha: run.gitSha,
      nodeVersion: run.nodeVersion,
      argv: run.argv,
      seeds: run.seeds,
      startedAt: new Date(run.startedAt).toISOString(),
    },
    episodes: out,
  };
}

/** Reads and validates a fixture file. */
export function readTraceFixture(file: string): TraceFixture {
  const parsed = fixtureSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success)
    throw new HarnessError(
      "recording_incomplete",
      `${file}: not a ${TRACE_FIXTURE_FORMAT} file: ${parsed.error.message}`,
    );
  return parsed.data;
}

/** Writes the fixture's run into `store` (which must not hold its run id yet); returns the run id. */
export async function loadRun(store: TraceStore, fixture: TraceFixture): Promise<string> {
  const r = fixture.run;
  const ctx: RunContext = {
    ...r,
    shard: null,
    host: "fixture",
    cpus: 1,
    modelChecksums: {},
    startedAt: new Date(r.startedAt),
  };
  await store.beginRun(ctx);
  for (const e of fixture.episodes) {
    const n = Math.max(0, ...Object.values(e.steps).map((v) => v.length));
    const trace = createTrace(n);
    for (const [c] of STEP_COLUMNS) {
      const values = e.steps[c];
      const col = trace.columns[c as StepColumn];
      const absent = c in STEP_ADDED ? Number(STEP_ADDED[c]) : Number.NaN;
      for (let i = 0; i < n; i++) col[i] = values?.[i] ?? absent;
    }
    trace.length = n;
    trace.events.push(...(e.events as TraceEvent[]));
    await store.writeEpisode(r.runId, e.meta as EpisodeMeta, trace);
  }
  await store.finishRun(r.runId, "completed");
  return r.runId;
}
