/**
 * How the loop calls a backend: once, directly, and only when that call fails with a
 * transient error (contract.ts `isTransient`: a timeout, a 409/429/5xx, Prometheus down)
 * through a retry policy with capped exponential back-off and jitter (cockatiel). A terminal
 * error, or a transient one that outlasts the retries, reaches the caller, which decides
 * what the step records. The simulator never fails, so its calls stay synchronous: no
 * promise, no microtask per step.
 */
import {
  ExponentialBackoff,
  handleWhen,
  type IRetryContext,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from "cockatiel";
import { isTransient, type MaybePromise } from "./core/contract.ts";

/** Where in the step a backend call happens: what the audit trail names. */
export type CallSite = "observe" | "execute" | "inject" | "clear";

export interface BackendCallOptions {
  /** Tries in all, the first included. @default 3 */
  readonly attempts?: number;
  /** First back-off delay, ms; doubled per retry with jitter, capped at `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** A retried call that has not answered after this long is cancelled and counts as transient. */
  readonly callTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** Told about each retry (after the first failure) and each give-up, for the audit trail. */
  readonly onRetry?: (site: CallSite, attempt: number, error: unknown) => void;
}

function isPromise<T>(x: MaybePromise<T>): x is Promise<T> {
  return typeof (x as Promise<T> | null)?.then === "function";
}

/**
 * Whether a failure is worth retrying: a transient backend error, or a call cancelled for
 * taking too long. After the retries, the same test tells the loop to record the step and
 * go on rather than stop the episode.
 */
export function isRetryable(e: unknown): boolean {
  return isTransient(e) || e instanceof TaskCancelledError;
}

function retryPolicies(o: BackendCallOptions, attempts: number) {
  const policy = retry(handleWhen(isRetryable), {
    // The first try already failed when the policy starts; the policy's own first run is
    // the second try, and `maxAttempts` counts the retries after that.
    maxAttempts: Math.max(0, attempts - 2),
    backoff: new ExponentialBackoff({ initialDelay: o.initialDelayMs, maxDelay: o.maxDelayMs }),
  });
  return { policy, timed: wrap(policy, timeout(o.callTimeoutMs, TimeoutStrategy.Aggressive)) };
}

export class BackendCalls {
  private readonly attempts: number;
  /** The retry and timeout policies, built at the first failure: most episodes never retry. */
  private retrying: ReturnType<typeof retryPolicies> | null = null;
  /**
   * The first try's signal: aborts with the run, and when the try outlasts `callTimeoutMs`
   * (then it is renewed), so that a call the loop gave up on stops, as the contract says, and
   * cannot land later unrecorded (a scale patch retried past its step). Made once, not per
   * call: the loop's calls run one at a time, and the simulator's must not allocate.
   */
  private first!: { readonly ctl: AbortController; readonly signal: AbortSignal };

  constructor(private readonly o: BackendCallOptions) {
    this.renewFirst();
    this.attempts = o.attempts ?? 3;
  }

  private policies() {
    this.retrying ??= retryPolicies(this.o, this.attempts);
    return this.retrying;
  }

  /** `fn()` as is when it succeeds; retried per the options when it fails transiently. */
  call<T>(site: CallSite, fn: (signal?: AbortSignal) => MaybePromise<T>): MaybePromise<T> {
    try {
      const r = fn(this.first.signal);
      return isPromise(r) ? this.within(r).catch((err: unknown) => this.again(site, fn, err)) : r;
    } catch (err) {
      return this.again(site, fn, err);
    }
  }

  private renewFirst(): void {
    const ctl = new AbortController();
    this.first = { ctl, signal: this.o.signal ? AbortSignal.any([this.o.signal, ctl.signal]) : ctl.signal };
  }

  /** `p`, or a TaskCancelledError once `callTimeoutMs` has passed without an answer (the try's signal aborts then). */
  private within<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new TaskCancelledError(`no answer within ${this.o.callTimeoutMs} ms`);
        this.first.ctl.abort(err);
        this.renewFirst();
        reject(err);
      }, this.o.callTimeoutMs);
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  private async again<T>(site: CallSite, fn: (signal?: AbortSignal) => MaybePromise<T>, first: unknown): Promise<T> {
    if (!isRetryable(first) || this.attempts < 2) throw first;
    this.o.onRetry?.(site, 1, first);
    let attempt = 1;
    const { policy, timed } = this.policies();
    const listener = policy.onRetry((e) => {
      attempt++;
      if ("error" in e) this.o.onRetry?.(site, attempt, e.error);
    });
    try {
      // cockatiel's signal aborts on the run's signal and on the call's timeout alike.
      return await timed.execute((ctx: IRetryContext & { signal: AbortSignal }) => fn(ctx.signal), this.o.signal);
    } finally {
      listener.dispose();
    }
  }
}
