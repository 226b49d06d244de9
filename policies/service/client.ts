/**
 * A client of the agent service for the `rl` policy's `url` mode: one POST /predict per
 * decision, bounded by a timeout, the reply parsed with the service's own schema. Every
 * failure (refused connection, timeout, a non-200 answer, a reply that fails the schema)
 * throws, so the loop hands the step to the scenario's fallback policy and the guard
 * records `PolicyUnavailable`, exactly as for a local policy that throws.
 */
import { agentSchemas, type PredictResponse } from "./schemas.ts";

export interface AgentClientOptions {
  /** The service's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Give up on a decision after this many milliseconds. */
  readonly timeoutMs: number;
  /**
   * The codec of the states sent; a reply naming another codec fails the schema (the service
   * serves another model than the caller encodes for). @default "obs-v1"
   */
  readonly codec?: string;
}

export class AgentUnavailableError extends Error {
  override readonly name = "AgentUnavailableError";
}

/** Returns `predict(state)`: the service's decision for one state of `options.codec`. */
export function agentClient(
  options: AgentClientOptions,
): (state: ArrayLike<number>, signal?: AbortSignal) => Promise<PredictResponse> {
  const endpoint = new URL("predict", options.url.endsWith("/") ? options.url : `${options.url}/`).href;
  const { predictResponseSchema } = agentSchemas(options.codec);
  return async (state, signal) => {
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ state: Array.from(state) }),
        // Cancelled by its own timeout, or by the caller (the loop's run stopping).
        signal: signal
          ? AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)])
          : AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      const name = (err as Error).name;
      const why =
        name === "TimeoutError"
          ? `no answer within ${options.timeoutMs} ms`
          : name === "AbortError"
            ? "cancelled by the caller"
            : causeOf(err);
      throw new AgentUnavailableError(`agent service ${endpoint}: ${why}`);
    }
    const text = await res.text().catch(() => "");
    if (res.status !== 200) {
      throw new AgentUnavailableError(`agent service ${endpoint}: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new AgentUnavailableError(`agent service ${endpoint}: reply is not JSON`);
    }
    const parsed = predictResponseSchema.safeParse(body);
    if (!parsed.success) {
      throw new AgentUnavailableError(`agent service ${endpoint}: reply fails the schema: ${parsed.error.message}`);
    }
    return parsed.data;
  };
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED...) in `cause`. */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
