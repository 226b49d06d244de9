/**
 * The loop's long-running mode (issue 11, item 6): the shared loop with no step limit,
 * streaming its steps into the trace store in small committed batches (stream.ts), with
 * the guard's memory and the approval queue persisted in a state file (state.ts) so that a
 * restarted process keeps the minimum interval and the person's pending decisions, and
 * approvals taken from a queue (approvals.ts) instead of awaited inline.
 *
 * One process lifetime is one episode of the controller's run: opened at start (its row
 * committed at once), closed `completed` when the signal stops it cleanly, `failed` when
 * the loop throws; a process killed in between leaves it `aborted` with every committed batch.
 */
import type { Action, Backend, CodecContext, Policy, ReplicaLimits, Slo, Snapshot } from "../core/contract.ts";
import type { GuardLimits } from "../core/guard.ts";
import { type EpisodeSink, type GuardState, type LoopEvent, runEpisode, type StepRecord } from "../loop.ts";
import type { EpisodeMeta, TraceStore } from "../store.ts";
import { ApprovalQueue } from "./approvals.ts";
import { type Approval, type ControllerState, readState, writeState } from "./state.ts";
import { StreamingSink } from "./stream.ts";

export interface LongRunOptions {
  readonly store: TraceStore;
  readonly runId: string;
  /** The episode row's labels; status, error, steps and wall time are the stream's own. */
  readonly meta: EpisodeMeta;
  readonly backend: Backend;
  readonly policy: Policy;
  readonly fallback: Policy | null;
  readonly limits: GuardLimits;
  readonly slo: Slo & { readonly confirmWindowS: number };
  readonly stepSeconds: number;
  readonly codec: CodecContext;
  readonly reward?: (prev: Readonly<Snapshot>, cur: Readonly<Snapshot>, a: Action, l: ReplicaLimits) => number;
  /** The guard's memory and the approval queue, as JSON (state.ts). */
  readonly stateFile: string;
  /** Seconds an approval request stays open. @default 900 */
  readonly approvalTtlS?: number;
  /** Unix ms of the backend clock's time 0 (a restarted process has another origin). */
  readonly clockOriginMs: () => number;
  readonly signal: AbortSignal;
  readonly paused?: () => boolean;
  /** Stream batching (stream.ts). */
  readonly batchSteps?: number;
  readonly maxDelayMs?: number;
  /** Further sinks: the JSON-lines audit, metrics. */
  readonly sinks?: readonly EpisodeSink[];
  readonly onCommitted?: (steps: number) => void;
  readonly onStoreError?: (err: unknown) => void;
  /** Every change of an approval request's status. */
  readonly onApproval?: (a: Readonly<Approval>) => void;
  /** Awaited after the loop ends and before the last batch is committed: work that still writes into the sink. */
  readonly settle?: () => Promise<void>;
  /** Called once the episode is open and the approval queue exists (the HTTP API needs it). */
  readonly onReady?: (r: { episodeId: number; approvals: ApprovalQueue; sink: StreamingSink }) => void;
}

export interface LongRunResult {
  readonly episodeId: number;
  readonly steps: number;
  readonly status: "completed" | "failed";
  readonly error: string | null;
}

/** The guard's memory as the loop sees it (clock seconds), backed by the persisted state (Unix ms). */
export function persistedGuardState(state: ControllerState, originMs: () => number, persist: () => void): GuardState {
  return {
    get lastActionAt(): number | null {
      return state.lastActionAtMs === null ? null : (state.lastActionAtMs - originMs()) / 1000;
    },
    set lastActionAt(t: number | null) {
      state.lastActionAtMs = t === null ? null : originMs() + t * 1000;
      persist();
    },
  };
}

export async function runLongRunning(o: LongRunOptions): Promise<LongRunResult> {
  const state = readState(o.stateFile);
  const persist = () => writeState(o.stateFile, state);
  const toUnixMs = (t: number) => o.clockOriginMs() + t * 1000;
  const approvals = new ApprovalQueue(state, {
    ttlS: o.approvalTtlS ?? 900,
    toUnixMs,
    persist,
    ...(o.onApproval ? { onChange: o.onApproval } : {}),
  });
  const episodeId = await o.store.openEpisode(o.runId, o.meta);
  const sink = new StreamingSink({
    store: o.store,
    episodeId,
    ...(o.batchSteps === undefined ? {} : { batchSteps: o.batchSteps }),
    ...(o.maxDelayMs === undefined ? {} : { maxDelayMs: o.maxDelayMs }),
    ...(o.onCommitted ? { onCommitted: o.onCommitted } : {}),
    ...(o.onStoreError ? { onError: o.onStoreError } : {}),
  });
  o.onReady?.({ episodeId, approvals, sink });
  const sinks = [sink, ...(o.sinks ?? [])];
  const tee: EpisodeSink = {
    onStep: (r: StepRecord) => {
      for (const s of sinks) s.onStep?.(r);
    },
    onEvent: (e: LoopEvent) => {
      for (const s of sinks) s.onEvent?.(e);
    },
  };
  const started = performance.now();
  let steps = 0;
  let error: string | null = null;
  try {
    const r = await runEpisode(
      {
        backend: o.backend,
        policy: o.policy,
        fallback: o.fallback,
        schedule: [],
        stepSeconds: o.stepSeconds,
        codec: o.codec,
        limits: o.limits,
        slo: o.slo,
        confirmWindowS: o.slo.confirmWindowS,
        approvals,
        guardState: persistedGuardState(state, o.clockOriginMs, persist),
        signal: o.signal,
        // A controller survives its dependencies: an API refusing a write is recorded, not fatal.
        terminalExecuteErrors: "record",
        ...(o.paused ? { paused: o.paused } : {}),
        ...(o.reward ? { reward: o.reward } : {}),
      },
      {
        onStep: (r) => {
          steps = r.step + 1;
          tee.onStep!(r);
        },
        onEvent: tee.onEvent!,
      },
    );
    steps = r.steps;
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  await o.settle?.();
  await sink.flush();
  if (sink.pending > 0 || sink.dropped > 0) {
    const lost = `${steps - sink.committed} of ${steps} steps never reached the store (it refused writes)`;
    error = error === null ? lost : `${error}; ${lost}`;
  }
  const status = error === null ? "completed" : "failed";
  // The row counts what is there: committed steps only.
  await o.store.closeEpisode(episodeId, { status, error, steps: sink.committed, wallMs: performance.now() - started });
  return { episodeId, steps, status, error };
}
