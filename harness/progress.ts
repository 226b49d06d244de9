/**
 * Progress of a run on stderr: a bar on a terminal, otherwise one plain line every
 * `intervalMs` (CI logs), both with episodes/s and an ETA. Results never go here.
 *
 * The rate is measured from the first finished episode on, and the ETA is shown only once
 * every worker has finished one: until then the clock holds thread start-up and model
 * loading, and an ETA from it was 50x off (644 s for a 12 s run).
 */
import { SingleBar } from "cli-progress";
import type { EpisodeDone, RunReporter, RunStart, RunSummary } from "./runner.ts";

export interface ProgressOptions {
  readonly stream?: NodeJS.WriteStream;
  /** Between plain lines when the stream is not a TTY. @default 5000 */
  readonly intervalMs?: number;
  /** The clock, ms (tests). @default performance.now */
  readonly now?: () => number;
}

export function progressReporter(options: ProgressOptions = {}): RunReporter {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  return stream.isTTY ? barReporter(stream, now) : lineReporter(stream, options.intervalMs ?? 5000, now);
}

/** Episodes per second and the seconds left, from the episodes finished after the first. */
export class RateEstimate {
  private firstAt = 0;
  private firstDone = 0;
  private todo = 0;
  private jobs = 1;
  constructor(private readonly now: () => number) {}

  start(todo: number, jobs: number): void {
    this.todo = todo;
    this.jobs = jobs;
    this.firstAt = 0;
  }

  /** Call with the episodes done so far after each one. */
  update(done: number): void {
    if (this.firstAt === 0) {
      this.firstAt = this.now();
      this.firstDone = done;
    }
  }

  /** Episodes per second, or null before two episodes have finished. */
  rate(done: number): number | null {
    const s = (this.now() - this.firstAt) / 1000;
    if (this.firstAt === 0 || done <= this.firstDone || s <= 0) return null;
    return (done - this.firstDone) / s;
  }

  /** Seconds left, or null until every worker has finished an episode. */
  etaS(done: number): number | null {
    const r = this.rate(done);
    if (r === null || done < Math.min(this.todo, this.jobs + 1)) return null;
    return Math.ceil((this.todo - done) / r);
  }
}

function formatEta(s: number | null): string {
  if (s === null) return "?";
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function barReporter(stream: NodeJS.WriteStream, now: () => number): RunReporter {
  const bar = new SingleBar({
    stream,
    format: "{bar} {value}/{total} episodes | {rate} ep/s | ETA {etaText} | {failed} failed",
    hideCursor: true,
  });
  const estimate = new RateEstimate(now);
  let failed = 0;
  return {
    onRunStart(s: RunStart) {
      estimate.start(s.total - s.skipped, s.jobs);
      bar.start(s.total - s.skipped, 0, { rate: "-", failed: 0, etaText: "?" });
    },
    onEpisodeEnd(d: EpisodeDone) {
      if (d.outcome.status !== "completed") failed++;
      estimate.update(d.done);
      const r = estimate.rate(d.done);
      bar.update(d.done, { rate: r === null ? "-" : r.toFixed(1), failed, etaText: formatEta(estimate.etaS(d.done)) });
    },
    onRunEnd() {
      bar.stop();
    },
  };
}

function lineReporter(stream: NodeJS.WriteStream, intervalMs: number, now: () => number): RunReporter {
  let startedAt = 0;
  let lastAt = 0;
  let todo = 0;
  const estimate = new RateEstimate(now);
  const line = (done: number, final: boolean) => {
    const pct = todo > 0 ? ((100 * done) / todo).toFixed(1) : "100.0";
    // The last line has the whole run's rate; the others the rate since the first episode.
    const r = final ? done / Math.max((now() - startedAt) / 1000, 1e-9) : estimate.rate(done);
    const eta = final ? "0s" : formatEta(estimate.etaS(done));
    stream.write(`episodes ${done}/${todo} (${pct}%) ${r === null ? "-" : r.toFixed(1)} ep/s ETA ${eta}\n`);
  };
  return {
    onRunStart(s: RunStart) {
      startedAt = lastAt = now();
      todo = s.total - s.skipped;
      estimate.start(todo, s.jobs);
    },
    onEpisodeEnd(d: EpisodeDone) {
      estimate.update(d.done);
      const t = now();
      if (t - lastAt >= intervalMs) {
        lastAt = t;
        line(d.done, false);
      }
    },
    onRunEnd(s: RunSummary) {
      line(s.completed + s.failed, true);
    },
  };
}
