/**
 * Progress of a run on stderr: a bar on a terminal, otherwise one plain line every
 * `intervalMs` (CI logs), both with episodes/s and an ETA. Results never go here.
 */
import { SingleBar } from "cli-progress";
import type { EpisodeDone, RunReporter, RunStart, RunSummary } from "./runner.ts";

export interface ProgressOptions {
  readonly stream?: NodeJS.WriteStream;
  /** Between plain lines when the stream is not a TTY. @default 5000 */
  readonly intervalMs?: number;
}

export function progressReporter(options: ProgressOptions = {}): RunReporter {
  const stream = options.stream ?? process.stderr;
  return stream.isTTY ? barReporter(stream) : lineReporter(stream, options.intervalMs ?? 5000);
}

function barReporter(stream: NodeJS.WriteStream): RunReporter {
  const bar = new SingleBar({
    stream,
    format: "{bar} {value}/{total} episodes | {rate} ep/s | ETA {eta_formatted} | {failed} failed",
    hideCursor: true,
    etaBuffer: 200,
  });
  let startedAt = 0;
  let failed = 0;
  return {
    onRunStart(s: RunStart) {
      startedAt = performance.now();
      bar.start(s.total - s.skipped, 0, { rate: "0.0", failed: 0 });
    },
    onEpisodeEnd(d: EpisodeDone) {
      if (d.outcome.status !== "completed") failed++;
      bar.update(d.done, { rate: rate(d.done, startedAt), failed });
    },
    onRunEnd() {
      bar.stop();
    },
  };
}

function lineReporter(stream: NodeJS.WriteStream, intervalMs: number): RunReporter {
  let startedAt = 0;
  let lastAt = 0;
  let todo = 0;
  const line = (done: number) => {
    const elapsed = (performance.now() - startedAt) / 1000;
    const perS = done / Math.max(elapsed, 1e-9);
    const eta = perS > 0 ? Math.ceil((todo - done) / perS) : Number.NaN;
    const pct = todo > 0 ? ((100 * done) / todo).toFixed(1) : "100.0";
    stream.write(
      `episodes ${done}/${todo} (${pct}%) ${perS.toFixed(1)} ep/s ETA ${Number.isNaN(eta) ? "?" : `${eta}s`}\n`,
    );
  };
  return {
    onRunStart(s: RunStart) {
      startedAt = lastAt = performance.now();
      todo = s.total - s.skipped;
    },
    onEpisodeEnd(d: EpisodeDone) {
      const now = performance.now();
      if (now - lastAt >= intervalMs) {
        lastAt = now;
        line(d.done);
      }
    },
    onRunEnd(s: RunSummary) {
      line(s.completed + s.failed);
    },
  };
}

function rate(done: number, startedAt: number): string {
  return (done / Math.max((performance.now() - startedAt) / 1000, 1e-9)).toFixed(1);
}
