/**
 * The slice of Prometheus's HTTP API the testbed uses (/api/v1/query, /api/v1/targets),
 * through Node's fetch (undici, keep-alive), with every reply checked by a zod schema.
 * Failures come back as {@link PrometheusError}: down, busy or 5xx is transient, a refused
 * query or a malformed reply is terminal.
 */
import { z } from "zod";
import { PrometheusError, PrometheusErrorCode } from "./errors.ts";

/** One instant-vector element: labels and `[unix seconds, "value"]` (values are strings: "NaN", "+Inf"). */
export const vectorSampleSchema = z.object({
  metric: z.record(z.string(), z.string()),
  value: z.tuple([z.number(), z.string()]),
});
export type VectorSample = z.infer<typeof vectorSampleSchema>;

const errorReplySchema = z.object({
  status: z.literal("error"),
  errorType: z.string(),
  error: z.string(),
});

/** A successful instant query whose result is a vector (every query of queries.ts is one). */
export const vectorReplySchema = z.object({
  status: z.literal("success"),
  data: z.object({ resultType: z.literal("vector"), result: z.array(vectorSampleSchema) }),
  warnings: z.array(z.string()).optional(),
});
export type VectorReply = z.infer<typeof vectorReplySchema>;

export const targetsReplySchema = z.object({
  status: z.literal("success"),
  data: z.object({
    activeTargets: z.array(
      z.object({
        scrapeUrl: z.string(),
        labels: z.record(z.string(), z.string()),
        /** RFC 3339; "0001-01-01T00:00:00Z" before the first scrape. */
        lastScrape: z.string(),
        health: z.enum(["up", "down", "unknown"]),
        lastError: z.string(),
      }),
    ),
  }),
});
export type TargetsReply = z.infer<typeof targetsReplySchema>;

/** Parses a sample's value string as Prometheus writes it ("NaN", "+Inf", "-Inf", decimals). */
export function sampleValue(s: VectorSample): number {
  const v = s.value[1];
  if (v === "+Inf") return Number.POSITIVE_INFINITY;
  if (v === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(v);
}

/**
 * Sends one request and returns the parsed JSON body of a 2xx reply, or throws a typed error.
 * `what` names the call in messages ("query", "targets").
 */
async function request(
  url: string,
  init: RequestInit & { timeoutMs: number; signal?: AbortSignal | undefined },
  what: string,
): Promise<unknown> {
  const timeout = AbortSignal.timeout(init.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal });
  } catch (e) {
    // A caller's abort is not Prometheus's failure: let it through as it is.
    if (init.signal?.aborted) throw e;
    const reason = timeout.aborted ? `no reply within ${init.timeoutMs} ms` : describeFetchError(e);
    throw new PrometheusError(PrometheusErrorCode.Unavailable, `Prometheus ${what} failed: ${reason} (${url})`, {
      cause: e,
    });
  }
  const text = await res.text();
  if (res.status >= 500 || res.status === 429) {
    throw new PrometheusError(
      PrometheusErrorCode.Unavailable,
      `Prometheus ${what} failed: HTTP ${res.status} ${firstLine(text)} (${url})`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new PrometheusError(
      PrometheusErrorCode.BadResponse,
      `Prometheus ${what}: HTTP ${res.status} with a body that is not JSON: ${firstLine(text)}`,
      { cause: e },
    );
  }
  if (res.status === 400 || res.status === 422) {
    const err = errorReplySchema.safeParse(body);
    const detail = err.success ? `${err.data.errorType}: ${err.data.error}` : firstLine(text);
    throw new PrometheusError(PrometheusErrorCode.BadQuery, `Prometheus refused the ${what}: ${detail}`);
  }
  if (!res.ok) {
    throw new PrometheusError(
      PrometheusErrorCode.BadResponse,
      `Prometheus ${what}: unexpected HTTP ${res.status} ${firstLine(text)}`,
    );
  }
  return body;
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]!.slice(0, 200);
}

function describeFetchError(e: unknown): string {
  // undici puts the socket error (ECONNREFUSED, ECONNRESET) in `cause`.
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? String(e);
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new PrometheusError(
      PrometheusErrorCode.BadResponse,
      `Prometheus ${what}: unexpected reply shape: ${issue.message} at ${issue.path.join(".") || "(root)"}`,
    );
  }
  return r.data;
}

export interface CallOptions {
  /** Per-request timeout, ms. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** POST /api/v1/query: one instant query evaluated at `timeUnixS`. */
export async function queryInstant(
  baseUrl: string,
  query: string,
  timeUnixS: number,
  options: CallOptions,
): Promise<VectorReply> {
  const body = new URLSearchParams({ query, time: timeUnixS.toFixed(3) });
  const json = await request(
    `${baseUrl}/api/v1/query`,
    {
      method: "POST",
      body,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    },
    "query",
  );
  return parseVectorReply(json);
}

/** Validates a parsed /api/v1/query body (exported for the recorded-fixture tests). */
export function parseVectorReply(json: unknown): VectorReply {
  return parseWith(vectorReplySchema, json, "query");
}

/** GET /api/v1/targets?state=active. */
export async function activeTargets(
  baseUrl: string,
  options: CallOptions,
): Promise<TargetsReply["data"]["activeTargets"]> {
  const json = await request(`${baseUrl}/api/v1/targets?state=active`, { method: "GET", ...options }, "targets");
  return parseWith(targetsReplySchema, json, "targets").data.activeTargets;
}
