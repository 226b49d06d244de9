/**
 * Typed failures of the Prometheus side, as data (code, transient) so the loop can tell a
 * blip it should retry from a bug it should stop on without reading message text. They are
 * `BackendFailure`s (harness/core/contract.ts): the loop's outcome switch reads `transient`.
 */
import type { BackendFailure } from "../../harness/core/contract.ts";

export const PrometheusErrorCode = {
  /** The binary is not installed (or not executable). Terminal: install the Debian package. */
  NotInstalled: "prometheus_not_installed",
  /** The requested listen port is taken. Terminal. */
  PortInUse: "prometheus_port_in_use",
  /** The server exited or never became ready. Terminal for the run that needed it. */
  StartFailed: "prometheus_start_failed",
  /** Connection refused/reset, timeout, or an HTTP 5xx/503: the server is down or busy. Transient. */
  Unavailable: "prometheus_unavailable",
  /** Prometheus refused a query (HTTP 400/422: bad_data, execution error). A bug in queries.ts: terminal. */
  BadQuery: "prometheus_bad_query",
  /** A reply that does not match the API's documented shape. Terminal. */
  BadResponse: "prometheus_bad_response",
} as const;
export type PrometheusErrorCode = (typeof PrometheusErrorCode)[keyof typeof PrometheusErrorCode];

const TRANSIENT: ReadonlySet<PrometheusErrorCode> = new Set([PrometheusErrorCode.Unavailable]);

export class PrometheusError extends Error implements BackendFailure {
  override readonly name = "PrometheusError";
  /** True when retrying later may succeed (the loop retries inside the step's deadline). */
  readonly transient: boolean;
  constructor(
    readonly code: PrometheusErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.transient = TRANSIENT.has(code);
  }
}
