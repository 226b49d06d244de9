/**
 * Long-running mode's recorder: the loop's `EpisodeSink` that streams an unbounded episode
 * into the trace store in small committed batches (store.ts `appendToEpisode`), instead of
 * holding the whole episode in memory until it ends as a matrix run does.
 *
 * A batch is cut every `batchSteps` steps, or `maxDelayMs` after its first step, whichever
 * comes first, and written in the background: the loop never waits for the store (a slow
 * or refusing disk must not stall observation). Batches are written one at a time, in
 * order; a batch the store refuses is kept and tried again before the next one (up to
 * `maxBacklog` batches; older ones are dropped and counted), so a store that comes back
 * gets every row. A kill loses what was not committed yet: the batch being filled and,
 * at most, the one being written.
 */
import type { EpisodeSink, LoopEvent, StepRecord } from "../loop.ts";
import type { TraceStore } from "../store.ts";
import { type EpisodeTrace, TraceRecorder } from "../trace.ts";

export interface StreamOptions {
  readonly store: TraceStore;
  /** From `store.openEpisode`. */
  readonly episodeId: number;
  /** @default 6 */
  readonly batchSteps?: number;
  /** @default 30000 */
  readonly maxDelayMs?: number;
  /** Batches kept for a retry while the store refuses writes. @default 1000 */
  readonly maxBacklog?: number;
  /** After every committed batch: the episode's committed step count. */
  readonly onCommitted?: (steps: number) => void;
  /** A batch the store refused (it is kept and retried). */
  readonly onError?: (err: unknown) => void;
}

interface Batch {
  readonly trace: EpisodeTrace;
  readonly firstEventSeq: number;
  /** Steps of the episode once this batch is in. */
  readonly steps: number;
  readonly wallMs: number;
}

export class StreamingSink implements EpisodeSink {
  private filling: TraceRecorder;
  private readonly batchSteps: number;
  private readonly maxDelayMs: number;
  private readonly started = performance.now();
  private events = 0;
  private steps = 0;
  private backlog: Batch[] = [];
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Batches dropped because the backlog was full. */
  dropped = 0;
  /** Steps committed so far. */
  committed = 0;

  constructor(private readonly o: StreamOptions) {
    this.batchSteps = o.batchSteps ?? 6;
    this.maxDelayMs = o.maxDelayMs ?? 30_000;
    this.filling = new TraceRecorder(this.batchSteps);
  }

  onStep(r: StepRecord): void {
    this.filling.onStep(r);
    this.steps = r.step + 1;
    if (this.filling.trace.length >= this.batchSteps) this.cut();
    else this.timer ??= setTimeout(() => this.cut(), this.maxDelayMs).unref();
  }

  onEvent(e: LoopEvent): void {
    this.filling.onEvent(e);
  }

  /** Cuts the batch being filled and waits until every batch is committed (or refused once more). */
  async flush(): Promise<void> {
    this.cut();
    while (this.writing !== null) await this.writing;
  }

  /** Batches waiting for the store. */
  get pending(): number {
    return this.backlog.length;
  }

  private cut(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const t = this.filling.trace;
    if (t.length === 0 && t.events.length === 0) return;
    this.backlog.push({
      trace: t,
      firstEventSeq: this.events,
      steps: this.steps,
      wallMs: performance.now() - this.started,
    });
    this.events += t.events.length;
    this.filling = new TraceRecorder(this.batchSteps);
    if (this.backlog.length > (this.o.maxBacklog ?? 1000)) {
      this.backlog.shift();
      this.dropped++;
    }
    this.writing ??= this.write();
  }

  /** Writes the backlog in order; stops at the first refusal (the next cut tries again). */
  private async write(): Promise<void> {
    try {
      while (this.backlog.length > 0) {
        const b = this.backlog[0]!;
        try {
          await this.o.store.appendToEpisode(this.o.episodeId, b.trace, b);
        } catch (err) {
          this.o.onError?.(err);
          return;
        }
        this.backlog.shift();
        this.committed = Math.max(this.committed, b.steps);
        this.o.onCommitted?.(this.committed);
      }
    } finally {
      this.writing = null;
    }
  }
}
