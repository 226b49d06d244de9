/**
 * The slice of Prometheus's HTTP API the testbed uses (/api/v1/query, /api/v1/targets),
 * over keep-alive node:http, with every reply checked by a zod schema.
 * Failures come back as {@link PrometheusError}: down, busy or 5xx is transient, a refused
 * query or a malformed reply is terminal.
 */
import { Agent, request as httpRequest } from "node:http";
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
 * Keep-alive connections for every call. Node's http rather than fetch: on this machine a
 * trivial query took 2-3.4 ms p50 / 20-30 ms p99 through fetch (undici) and 0.5-0.7 ms /
 * 3-6 ms through node:http, and the collector's budget is 20 ms p99 per observation.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 8 });

interface RawReply {
  readonly status: number;
  readonly text: string;
}

function send(url: string, method: "GET" | "POST", body: string | undefined, signal: AbortSignal): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (body !== undefined) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      headers["content-length"] = Buffer.byteLength(body);
    }
    const req = httpRequest(url, { method, agent, headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Sends one request and returns the parsed JSON body of a 2xx reply, or throws a typed error.
 * `what` names the call in messages ("query", "targets").
 */
async function request(
  url: string,
  method: "GET" | "POST",
  body: string | undefined,
  options: CallOptions,
  what: string,
): Promise<unknown> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let res: RawReply;
  try {
    res = await send(url, method, body, signal);
  } catch (e) {
    // A caller's abort is not Prometheus's failure: let it through as it is.
    if (options.signal?.aborted) throw e;
    const reason = timeout.aborted ? `no reply within ${options.timeoutMs} ms` : describeError(e);
    throw new PrometheusError(PrometheusErrorCode.Unavailable, `Prometheus ${what} failed: ${reason} (${url})`, {
      cause: e,
    });
  }
  return classifyReply(res.status, res.text, what, url);
}

/**
 * Sorts an HTTP reply into a parsed JSON body (2xx) or a typed error: 5xx and 429 are
 * transient, 400/422 a refused query, anything else or a non-JSON body a bad reply.
 */
export function classifyReply(status: number, text: string, what: string, url: string): unknown {
  if (status >= 500 || status === 429) {
    throw new PrometheusError(
      PrometheusErrorCode.Unavailable,
      `Prometheus ${what} failed: HTTP ${status} ${firstLine(text)} (${url})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PrometheusError(
      PrometheusErrorCode.BadResponse,
      `Prometheus ${what}: HTTP ${status} with a body that is not JSON: ${firstLine(text)}`,
      { cause: e },
    );
  }
  if (status === 400 || status === 422) {
    const err = errorReplySchema.safeParse(json);
    const detail = err.success ? `${err.data.errorType}: ${err.data.error}` : firstLine(text);
    throw new PrometheusError(PrometheusErrorCode.BadQuery, `Prometheus refused the ${what}: ${detail}`);
  }
  if (status < 200 || status >= 300) {
    throw new PrometheusError(
      PrometheusErrorCode.BadResponse,
      `Prometheus ${what}: unexpected HTTP ${status} ${firstLine(text)}`,
    );
  }
  return json;
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]!.slice(0, 200);
}

function describeError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err.code ?? err.message ?? String(e);
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
  return parseVectorReply(await postQuery(baseUrl, query, timeUnixS, options));
}

/** POST /api/v1/query, returning the reply's JSON as it came (the fixture recorder keeps it). */
export async function postQuery(
  baseUrl: string,
  query: string,
  timeUnixS: number,
  options: CallOptions & { readonly extra?: Readonly<Record<string, string>> },
): Promise<unknown> {
  const body = new URLSearchParams({ query, time: timeUnixS.toFixed(3), ...options.extra }).toString();
  return await request(`${baseUrl}/api/v1/query`, "POST", body, options, "query");
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
  const json = await request(`${baseUrl}/api/v1/targets?state=active`, "GET", undefined, options, "targets");
  return parseWith(targetsReplySchema, json, "targets").data.activeTargets;
}

/** One range-vector element: labels and `[unix seconds, "value"]` pairs in time order. */
export const matrixSeriesSchema = z.object({
  metric: z.record(z.string(), z.string()),
  values: z.array(z.tuple([z.number(), z.string()])),
});
export type MatrixSeries = z.infer<typeof matrixSeriesSchema>;

/** A successful range query (its result is always a matrix). */
export const matrixReplySchema = z.object({
  status: z.literal("success"),
  data: z.object({ resultType: z.literal("matrix"), result: z.array(matrixSeriesSchema) }),
  warnings: z.array(z.string()).optional(),
});
export type MatrixReply = z.infer<typeof matrixReplySchema>;

/** POST /api/v1/query_range: `query` evaluated every `stepS` from `startUnixS` to `endUnixS` (dashboards). */
export async function queryRange(
  baseUrl: string,
  query: string,
  range: { readonly startUnixS: number; readonly endUnixS: number; readonly stepS: number },
  options: CallOptions,
): Promise<MatrixReply> {
  const body = new URLSearchParams({
    query,
    start: range.startUnixS.toFixed(3),
    end: range.endUnixS.toFixed(3),
    step: String(range.stepS),
  }).toString();
  const json = await request(`${baseUrl}/api/v1/query_range`, "POST", body, options, "range query");
  return parseWith(matrixReplySchema, json, "range query");
}

/** Parses a value string of a range query's pair, as {@link sampleValue} does. */
export function pairValue(v: string): number {
  if (v === "+Inf") return Number.POSITIVE_INFINITY;
  if (v === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(v);
}
