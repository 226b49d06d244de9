/**
 * Kubernetes API failures as the contract's typed errors: the loop and the retry policy read
 * `transient` and `code`, never message text. What is transient follows the API
 * conventions: 429 (the server's flow control, with a Retry-After), 5xx, a 409 Conflict on a
 * stale write (optimistic concurrency: read again and retry), and a connection that failed
 * or timed out. A 4xx otherwise is the request's fault (404, 422, 403, a 409 AlreadyExists)
 * and terminal unless the caller settles it (a restart's 409 on a replaced pod is "done").
 */
import { ApiException } from "@kubernetes/client-node";
import { BackendError } from "../../harness/core/contract.ts";

export const KubeErrorCode = {
  /** A write to a namespace outside `allowedNamespaces`: refused before anything is sent. */
  NamespaceNotAllowed: "NamespaceNotAllowed",
  /** The API server answered with a non-2xx status (`status` holds it). */
  Status: "KubeStatus",
  /** No answer: connection refused or reset, DNS, TLS, timeout. */
  Unreachable: "KubeUnreachable",
  /** The cluster has not what the scenario names (deployment, service, selector). */
  Config: "KubeConfig",
} as const;
export type KubeErrorCode = (typeof KubeErrorCode)[keyof typeof KubeErrorCode];

/** A Kubernetes `Status` object's fields that matter here. */
export interface KubeStatus {
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly details?: { readonly retryAfterSeconds?: number; readonly causes?: readonly { message?: string }[] };
}

export class KubeApiError extends BackendError {
  constructor(
    code: KubeErrorCode,
    transient: boolean,
    message: string,
    /** HTTP status, or 0 when none came. */
    readonly status: number,
    /** The Status object's `reason` (NotFound, Conflict, AlreadyExists, Invalid, TooManyRequests, Expired, ...). */
    readonly reason: string,
    /** Seconds the server asked to wait (Retry-After header, or the Status's `details.retryAfterSeconds`). */
    readonly retryAfterS: number | null,
    options?: { cause?: unknown },
  ) {
    super(code, transient, message, options);
  }
}

/** Whether an HTTP status is worth retrying (see the header). */
export function transientStatus(status: number, reason: string): boolean {
  if (status === 429 || status >= 500) return true;
  return status === 409 && reason !== "AlreadyExists";
}

function parseStatus(body: unknown): KubeStatus {
  if (typeof body === "string") {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return { message: body.slice(0, 200) };
    }
  }
  if (typeof body === "object" && body !== null) return body as KubeStatus;
  return {};
}

function retryAfter(headers: Record<string, string> | undefined, status: KubeStatus): number | null {
  const h = headers?.["retry-after"];
  if (h !== undefined) {
    const s = Number(h);
    if (Number.isFinite(s) && s >= 0) return s;
    const at = Date.parse(h);
    if (Number.isFinite(at)) return Math.max(0, (at - Date.now()) / 1000);
  }
  const d = status.details?.retryAfterSeconds;
  return typeof d === "number" && d >= 0 ? d : null;
}

/** Any error of a client-node call as a {@link KubeApiError}; `what` names the call ("DELETE pods/x in ns"). */
export function toKubeError(err: unknown, what: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const status = parseStatus(err.body);
    const code = err.code;
    const reason = status.reason ?? "";
    const msg = status.message ?? (typeof err.body === "string" ? err.body.slice(0, 200) : "");
    return new KubeApiError(
      KubeErrorCode.Status,
      transientStatus(code, reason),
      `${what}: ${code}${reason ? ` ${reason}` : ""}${msg ? `: ${msg}` : ""}`,
      code,
      reason,
      retryAfter(err.headers as Record<string, string> | undefined, status),
      { cause: err },
    );
  }
  // The watch reports a failed status as an Error with `statusCode`.
  const sc = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof sc === "number") {
    return new KubeApiError(KubeErrorCode.Status, transientStatus(sc, ""), `${what}: ${sc}`, sc, "", null, {
      cause: err,
    });
  }
  const m = err instanceof Error ? err.message : String(err);
  return new KubeApiError(KubeErrorCode.Unreachable, true, `${what}: ${m}`, 0, "", null, { cause: err });
}
