/**
 * Decision replay (issue 16, part 3): for every recorded step of a run, what policy X would
 * have proposed from the recorded observation, without executing anything. "What would rl
 * have done during last night's incident": agreement with what was proposed then, the
 * confusion matrix, and the steps where they part.
 *
 * The policy sees each episode's steps in order, after `reset(seed)`, so rules with a
 * memory (the heuristic's "degraded for N steps", hpa's stabilisation) replay as they would
 * have run. What it cannot see: per-pod rows are not stored, so a policy that reads them
 * (the heuristic's pod-memory restart and its drain of a slow pod) replays without them;
 * every result says so in `notes`.
 */

import { createPolicy, type PolicyName, preparePolicy } from "../policies/index.ts";
import { ACTION_COUNT, ACTION_NAMES, Action, createSnapshot, OBS_V1, type Snapshot } from "./core/contract.ts";
import { HarnessError } from "./core/errors.ts";
import { allowedActions } from "./core/guard.ts";
import { createGuardContext, fillGuardContext } from "./core/step.ts";
import { parseScenario } from "./scenario-file.ts";
import type { RunRow, TraceStore } from "./store.ts";
import { OBS_COLUMNS } from "./trace.ts";

export interface DecisionReplayOptions {
  readonly run: RunRow;
  readonly policy: PolicyName;
  readonly params?: unknown;
  /** Only these episode ids (default: every completed episode of the run). */
  readonly episodes?: readonly number[];
  /** Disagreements kept in full, earliest first (all are counted). @default 50 */
  readonly keep?: number;
}

export interface Disagreement {
  readonly episodeId: number;
  readonly fault: string;
  readonly frequency: string;
  /** The policy label the run recorded. */
  readonly recordedPolicy: string;
  readonly seed: number;
  readonly step: number;
  readonly time: number;
  readonly recorded: string;
  readonly replayed: string;
  readonly reason: string;
  readonly sloOk: boolean;
}

export interface DecisionReplay {
  readonly runId: string;
  readonly policy: string;
  readonly episodes: number;
  readonly steps: number;
  readonly agreed: number;
  /** `confusion[recorded][replayed]`: step counts by action name. */
  readonly confusion: Record<string, Record<string, number>>;
  /** Agreement per recorded policy label. */
  readonly byRecordedPolicy: readonly { policy: string; steps: number; agreed: number }[];
  readonly disagreements: readonly Disagreement[];
  readonly notes: readonly string[];
}

/** The recorded columns a snapshot and the codec vector are rebuilt from. */
const STEP_SQL = `SELECT s.episode_id, s.step, s.time_s, s.proposed, s.executed, s.applied, s.slo_ok,
    s.desired_replicas, s.ready_replicas, s.pods, s.healthy, s.degraded, s.crashed, s.pending,
    s.terminating, s.drained, s.cpu, s.memory, s.latency_ms, s.error_rate, s.request_rate,
    s.since_failure_s, s.missing,
    s.obs_healthy, s.obs_degraded, s.obs_crashed, s.obs_cpu, s.obs_memory, s.obs_latency,
    s.obs_error_rate, s.obs_since_failure, s.obs_replicas
  FROM steps s JOIN episodes e USING (episode_id)
  WHERE e.run_id = ? AND e.status = 'completed'
  ORDER BY s.episode_id, s.step`;

type Row = Record<string, number | boolean>;

export async function replayDecisions(store: TraceStore, o: DecisionReplayOptions): Promise<DecisionReplay> {
  const parsed = parseScenario(o.run.scenarioText, `${o.run.scenarioName}.yaml`);
  if (!parsed.success) {
    throw new HarnessError(
      "recording_incomplete",
      `The scenario stored with run ${o.run.runId} no longer parses; its guard limits are unknown`,
    );
  }
  const scenario = parsed.data.scenario;
  const episodes = await store.query(
    "SELECT episode_id, fault, frequency, policy, seed FROM episodes WHERE run_id = ? AND status = 'completed' ORDER BY episode_id",
    [o.run.runId],
  );
  const wanted = o.episodes ? new Set(o.episodes) : null;
  const byId = new Map(
    episodes.filter((e) => !wanted || wanted.has(Number(e.episode_id))).map((e) => [Number(e.episode_id), e]),
  );
  if (wanted) {
    const missing = [...wanted].filter((id) => !byId.has(id));
    if (missing.length > 0) {
      throw new HarnessError(
        "recording_incomplete",
        `No completed episode ${missing.join(", ")} in run ${o.run.runId}`,
      );
    }
  }
  await preparePolicy(o.policy, o.params);
  const keep = o.keep ?? 50;
  const names = [...ACTION_NAMES] as string[];
  const confusion = Object.fromEntries(names.map((r) => [r, Object.fromEntries(names.map((p) => [p, 0]))]));
  const perPolicy = new Map<string, { steps: number; agreed: number }>();
  const disagreements: Disagreement[] = [];
  let steps = 0;
  let agreed = 0;

  const snapshot: Snapshot = createSnapshot();
  const state = new Float32Array(OBS_V1.dim);
  let current = -1;
  let policy: ReturnType<typeof createPolicy> | null = null;
  // A masked policy chooses among what the guard's limits allowed at the recorded step.
  const allowed = new Uint8Array(ACTION_COUNT);
  const context = createGuardContext();
  let lastActionAt: number | null = null;
  for (const row of (await store.query(STEP_SQL, [o.run.runId])) as Row[]) {
    const id = Number(row.episode_id);
    const ep = byId.get(id);
    if (ep === undefined) continue;
    if (id !== current) {
      current = id;
      const seed = Number(ep.seed);
      policy = createPolicy(o.policy, o.params, {
        seed,
        limits: scenario.guard,
        stepSeconds: scenario.stepSeconds,
        slo: scenario.slo,
      });
      policy.reset?.(seed);
      lastActionAt = null;
    }
    fill(snapshot, row);
    OBS_COLUMNS.forEach((c, i) => {
      state[i] = Number(row[c]);
    });
    const masked = policy!.actionMask === "guard";
    if (masked)
      allowedActions(fillGuardContext(context, snapshot.time, snapshot, lastActionAt), scenario.guard, allowed);
    if (Number(row.executed) !== Action.Noop && row.applied) lastActionAt = snapshot.time;
    const d = policy!.decide(state, snapshot, undefined, masked ? allowed : undefined);
    const decision = d instanceof Promise ? await d : d;
    const recorded = ACTION_NAMES[Number(row.proposed) as Action];
    const replayed = ACTION_NAMES[decision.action];
    steps++;
    confusion[recorded]![replayed]!++;
    const label = String(ep.policy);
    const p = perPolicy.get(label) ?? { steps: 0, agreed: 0 };
    p.steps++;
    perPolicy.set(label, p);
    if (recorded === replayed) {
      agreed++;
      p.agreed++;
    } else if (disagreements.length < keep) {
      disagreements.push({
        episodeId: id,
        fault: String(ep.fault),
        frequency: String(ep.frequency),
        recordedPolicy: label,
        seed: Number(ep.seed),
        step: Number(row.step),
        time: Number(row.time_s),
        recorded,
        replayed,
        reason: decision.reason ?? "",
        sloOk: Boolean(row.slo_ok),
      });
    }
  }
  return {
    runId: o.run.runId,
    policy: o.policy,
    episodes: byId.size,
    steps,
    agreed,
    confusion,
    byRecordedPolicy: [...perPolicy].map(([policy, v]) => ({ policy, ...v })),
    disagreements,
    notes: [
      "Per-pod rows are not stored: a policy that reads them (the heuristic's pod-memory restart and slow-pod drain) replays without them.",
      "Replayed proposals are compared with the recorded proposals, before the guard.",
    ],
  };
}

function fill(s: Snapshot, r: Row): void {
  s.time = Number(r.time_s);
  s.desiredReplicas = Number(r.desired_replicas);
  s.readyReplicas = Number(r.ready_replicas);
  s.pods = Number(r.pods);
  s.healthy = Number(r.healthy);
  s.degraded = Number(r.degraded);
  s.crashed = Number(r.crashed);
  s.pending = Number(r.pending);
  s.terminating = Number(r.terminating);
  s.drained = Number(r.drained);
  s.cpu = Number(r.cpu);
  s.memory = Number(r.memory);
  s.latencyMs = Number(r.latency_ms);
  s.errorRate = Number(r.error_rate);
  s.requestRate = Number(r.request_rate);
  s.sinceFailureS = Number(r.since_failure_s);
  s.missing = Number(r.missing);
  s.podTable = null;
}
