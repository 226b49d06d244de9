/**
 * An open-loop load generator (issue 13, part 3): requests leave on a schedule, one every
 * 1/rate seconds, whether or not earlier ones have answered, and each latency is measured
 * from the request's *scheduled* send time. A slow service therefore shows as latency, not
 * as a lower send rate (coordinated omission, as wrk2 avoids it). Requests wait for a
 * connection in the agent's queue when all are busy; that wait counts too.
 *
 * Hand-written rather than autocannon: autocannon's rate mode paces per connection and
 * times from the actual send, which hides queueing. This is ~100 lines on node:http.
 *
 * What clients saw is kept per window (`takeWindow`): the ground truth beside Prometheus.
 */
import { Agent, request } from "node:http";

export interface LoadGenOptions {
  /** The URL every request goes to (the balancer's `/api/work`). */
  readonly url: string;
  /** A request without an answer after this counts as an error, ms. @default 10000 */
  readonly timeoutMs?: number;
  /** Concurrent connections at most. @default 512 */
  readonly maxSockets?: number;
}

/** What clients saw over one window. Latencies in ms from the scheduled send time. */
export interface ClientWindow {
  /** Window length, seconds. */
  readonly seconds: number;
  /** Requests whose scheduled time fell in the window. */
  readonly scheduled: number;
  /** Responses received in the window (any status). */
  readonly completed: number;
  /** 5xx, connection errors and timeouts among them. */
  readonly errors: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** Requests still unanswered at the end of the window. */
  readonly inFlight: number;
}

export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export class LoadGenerator {
  private readonly agent: Agent;
  private readonly target: URL;
  private readonly timeoutMs: number;
  private rps = 0;
  private nextAt = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private windowStart = performance.now();
  private scheduled = 0;
  private completed = 0;
  private errors = 0;
  private latencies: number[] = [];
  private stopped = false;

  constructor(o: LoadGenOptions) {
    this.target = new URL(o.url);
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 512 });
  }

  get rate(): number {
    return this.rps;
  }

  /** Changes the offered rate from now on (0 pauses). */
  setRate(rps: number): void {
    if (!(rps >= 0) || !Number.isFinite(rps)) throw new Error(`Expected a rate >= 0, got ${rps}`);
    const now = performance.now();
    if (rps === 0) this.nextAt = Number.POSITIVE_INFINITY;
    else if (this.rps === 0 || this.nextAt === Number.POSITIVE_INFINITY) this.nextAt = now;
    else this.nextAt = Math.min(this.nextAt, now + 1000 / rps);
    this.rps = rps;
    if (!this.timer && !this.stopped) this.tick();
  }

  /** The client-side view since the previous call. */
  takeWindow(): ClientWindow {
    const now = performance.now();
    const sorted = Float64Array.from(this.latencies).sort();
    const w: ClientWindow = {
      seconds: (now - this.windowStart) / 1000,
      scheduled: this.scheduled,
      completed: this.completed,
      errors: this.errors,
      p50Ms: quantile(sorted, 0.5),
      p95Ms: quantile(sorted, 0.95),
      p99Ms: quantile(sorted, 0.99),
      inFlight: this.inFlight,
    };
    this.windowStart = now;
    this.scheduled = 0;
    this.completed = 0;
    this.errors = 0;
    this.latencies = [];
    return w;
  }

  /** Stops sending and drops open connections. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.agent.destroy();
  }

  private tick = (): void => {
    this.timer = null;
    if (this.stopped || this.rps === 0) return;
    const now = performance.now();
    const gap = 1000 / this.rps;
    // Send every request whose time has come; a late timer sends the backlog at once,
    // each still timed from its own schedule.
    while (this.nextAt <= now) {
      this.send(this.nextAt);
      this.nextAt += gap;
    }
    this.timer = setTimeout(this.tick, Math.max(0, Math.min(this.nextAt - performance.now(), 50)));
  };

  private send(scheduledAt: number): void {
    this.scheduled++;
    this.inFlight++;
    let done = false;
    const finish = (error: boolean) => {
      if (done) return;
      done = true;
      this.inFlight--;
      this.completed++;
      if (error) this.errors++;
      this.latencies.push(performance.now() - scheduledAt);
    };
    const req = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        path: `${this.target.pathname}${this.target.search}`,
        agent: this.agent,
        timeout: this.timeoutMs,
      },
      (res) => {
        res.resume();
        res.once("end", () => finish((res.statusCode ?? 500) >= 500));
        res.once("error", () => finish(true));
      },
    );
    req.once("timeout", () => {
      req.destroy();
      finish(true);
    });
    req.once("error", () => finish(true));
    req.end();
  }
}
