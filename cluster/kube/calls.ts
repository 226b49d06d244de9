/**
 * Every Kubernetes API call of the cluster backend goes through `KubeCalls.call`, which is
 * where three rules live, once:
 * - the allow-list: a write to a namespace outside `allowedNamespaces` is refused before
 *   anything is sent (and recorded as refused);
 * - dry run: every write is sent with server-side `dryRun=All`, so the API server validates,
 *   admits and answers it without persisting anything;
 * - retries: a transient failure (errors.ts: 409 Conflict, 429, 5xx, no answer) is tried
 *   again with cockatiel's retry policy (as harness/backend-calls.ts does for the loop),
 *   waiting what the server's Retry-After asks when it says, else capped exponential
 *   back-off with jitter.
 * Each attempt and its outcome is handed to `audit`, which the backend turns into `kube-api`
 * events in the trace: who asked what of the API, and what came back.
 */
import { DelegateBackoff, handleWhen, retry } from "cockatiel";
import { isTransient } from "../../harness/core/contract.ts";
import { KubeApiError, KubeErrorCode, toKubeError } from "./errors.ts";

export type Verb = "list" | "get" | "create" | "delete" | "patch";
const WRITES: ReadonlySet<Verb> = new Set(["create", "delete", "patch"]);

/** What one call asks of the API: enough to check the allow-list and to audit it. */
export interface CallRequest {
  readonly verb: Verb;
  /** Resource, as in the URL: `pods`, `deployments/scale`, `podchaos`. */
  readonly resource: string;
  readonly namespace: string;
  readonly name?: string;
  /** Human detail for the audit line (a patch body, a precondition). */
  readonly detail?: string;
}

/** One attempt of one call, as the audit trail records it. */
export interface ApiCallRecord extends CallRequest {
  readonly dryRun: boolean;
  /** 1 for the first try. */
  readonly attempt: number;
  /** `ok`, `refused` (allow-list), `settled` (an error the caller took as success), or `failed`. */
  readonly outcome: "ok" | "refused" | "settled" | "failed";
  /** HTTP status (0: none, e.g. refused or unreachable). */
  readonly status: number;
  readonly reason: string;
  readonly message: string;
  /** Seconds waited before the next attempt, when the server asked (Retry-After). */
  readonly retryAfterS: number | null;
}

export interface KubeCallsOptions {
  readonly allowedNamespaces: readonly string[];
  /** @default false */
  readonly dryRun?: boolean;
  /** Tries in all, the first included. @default 4 */
  readonly attempts?: number;
  /** First back-off delay without Retry-After, ms; doubled per retry with jitter. @default 200 */
  readonly initialDelayMs?: number;
  /** Back-off ceiling without Retry-After, ms. @default 5000 */
  readonly maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails (transient). @default 30000 */
  readonly maxRetryAfterMs?: number;
  readonly audit?: (record: ApiCallRecord) => void;
  readonly signal?: AbortSignal;
}

/** The `dryRun` query value to pass to a write, or undefined. */
export type DryRun = "All" | undefined;

export class KubeCalls {
  readonly dryRun: boolean;
  private readonly allowed: ReadonlySet<string>;

  constructor(private readonly o: KubeCallsOptions) {
    this.dryRun = o.dryRun ?? false;
    this.allowed = new Set(o.allowedNamespaces);
  }

  /** Whether a write to `namespace` would be allowed. */
  allows(namespace: string): boolean {
    return this.allowed.has(namespace);
  }

  /**
   * Runs `fn` (one client-node call; it gets the `dryRun` value to pass on a write) under the
   * rules above. `settle` may turn a failure into a result (e.g. a 404 on a delete: the
   * object is already gone); it is asked before any retry. `signal` (beside the client's own)
   * ends the retries when the caller gives up on the call: a write the loop recorded as
   * failed must not be retried into success behind its back.
   */
  async call<T>(
    req: CallRequest,
    fn: (dryRun: DryRun) => Promise<T>,
    settle?: (e: KubeApiError) => T | undefined,
    signal?: AbortSignal,
  ): Promise<T> {
    const write = WRITES.has(req.verb);
    const dryRun = write && this.dryRun;
    const what = describe(req, dryRun);
    if (write && !this.allowed.has(req.namespace)) {
      const e = new KubeApiError(
        KubeErrorCode.NamespaceNotAllowed,
        false,
        `${what}: refused: namespace ${JSON.stringify(req.namespace)} is not in allowedNamespaces (${[...this.allowed].join(", ")})`,
        0,
        "NamespaceNotAllowed",
        null,
      );
      this.record(req, dryRun, 1, "refused", e);
      throw e;
    }
    const initial = this.o.initialDelayMs ?? 200;
    const max = this.o.maxDelayMs ?? 5_000;
    const maxAfter = this.o.maxRetryAfterMs ?? 30_000;
    const policy = retry(
      handleWhen((e) => isTransient(e) && !tooLong(e, maxAfter)),
      {
        maxAttempts: Math.max(0, (this.o.attempts ?? 4) - 1),
        backoff: new DelegateBackoff((ctx) => {
          const e = "error" in ctx.result ? ctx.result.error : undefined;
          if (e instanceof KubeApiError && e.retryAfterS !== null) return e.retryAfterS * 1000;
          // Full jitter on a doubling ceiling (as cockatiel's ExponentialBackoff does).
          return Math.random() * Math.min(max, initial * 2 ** (ctx.attempt - 1));
        }),
      },
    );
    let attempt = 0;
    const given = signal && this.o.signal ? AbortSignal.any([signal, this.o.signal]) : (signal ?? this.o.signal);
    return policy.execute(async () => {
      given?.throwIfAborted();
      attempt++;
      try {
        const out = await fn(dryRun ? "All" : undefined);
        this.record(req, dryRun, attempt, "ok", null);
        return out;
      } catch (err) {
        const e = toKubeError(err, what);
        const settled = settle?.(e);
        if (settled !== undefined) {
          this.record(req, dryRun, attempt, "settled", e);
          return settled;
        }
        this.record(req, dryRun, attempt, "failed", e);
        throw e;
      }
    }, given);
  }

  private record(
    req: CallRequest,
    dryRun: boolean,
    attempt: number,
    outcome: ApiCallRecord["outcome"],
    e: KubeApiError | null,
  ): void {
    this.o.audit?.({
      ...req,
      dryRun,
      attempt,
      outcome,
      status: e?.status ?? 0,
      reason: e?.reason ?? "",
      message: e?.message ?? "",
      retryAfterS: e?.retryAfterS ?? null,
    });
  }
}

function tooLong(e: unknown, maxAfterMs: number): boolean {
  return e instanceof KubeApiError && e.retryAfterS !== null && e.retryAfterS * 1000 > maxAfterMs;
}

/** `DELETE pods/demo-1 in ns (dry run)`: how calls are named in errors and the audit trail. */
export function describe(req: CallRequest, dryRun: boolean): string {
  const target = req.name === undefined ? req.resource : `${req.resource}/${req.name}`;
  return `${req.verb.toUpperCase()} ${target} in ${req.namespace}${dryRun ? " (dry run)" : ""}`;
}

/** One audit line per attempt, for the `kube-api` events of the trace. */
export function formatRecord(r: ApiCallRecord): string {
  const head = describe(r, r.dryRun);
  const tail =
    r.outcome === "ok"
      ? "ok"
      : `${r.outcome}${r.status ? ` ${r.status}` : ""}${r.reason ? ` ${r.reason}` : ""}${
          r.retryAfterS !== null ? ` retry-after ${r.retryAfterS}s` : ""
        }`;
  return `${head}${r.detail ? ` [${r.detail}]` : ""} attempt ${r.attempt}: ${tail}`;
}
