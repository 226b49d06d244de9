/**
 * The agent service as a fastify app: answers "what should I do in this state" with a
 * loaded `obs-v1` ONNX model (policies/onnx-model.ts). Routes:
 *
 *   POST /predict        { state: [9 numbers] }      -> a decision (schemas.ts)
 *   POST /predict/batch  { states: [[9 numbers]...] } -> one decision per state, one model run
 *   GET  /health         alive
 *   GET  /ready          200 once the model is loaded (503 before)
 *   GET  /model          the model card
 *   GET  /metrics        Prometheus exposition (metrics.ts)
 *   GET  /openapi.json   the OpenAPI 3 document, generated from the zod schemas
 *   GET  /docs           a page to read it and try the routes (Swagger UI, served locally)
 *
 * Bodies are validated by their zod schemas before a handler runs, so a bad state never
 * reaches the model; every error is RFC 9457 problem details (problem.ts).
 *
 * `buildAgentApp` takes a model or a promise of one, so `/health` answers while a large
 * model loads and `/ready` says when it is done.
 */
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance } from "fastify";
import { jsonSchemaTransform, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { z } from "zod";
import { ACTION_COUNT, ACTION_NAMES, OBS_V1 } from "../../harness/core/contract.ts";
import type { Decider, OnnxPolicyModel } from "../onnx-model.ts";
import { createServiceMetrics, type ServiceMetrics } from "./metrics.ts";
import { notFoundProblem, PROBLEM_MEDIA_TYPE, problemFor, sendProblem } from "./problem.ts";
import {
  BODY_LIMIT_BYTES,
  type DecisionBody,
  healthResponseSchema,
  modelResponseSchema,
  predictBatchRequestSchema,
  predictBatchResponseSchema,
  predictRequestSchema,
  predictResponseSchema,
  problemSchema,
  readyResponseSchema,
} from "./schemas.ts";

export interface AgentAppOptions {
  /** The model to serve, or its pending load (`/ready` is 503 until it resolves). */
  readonly model: OnnxPolicyModel | Promise<OnnxPolicyModel>;
  /** Largest request body, bytes. @default BODY_LIMIT_BYTES (1 MiB) */
  readonly bodyLimit?: number;
  /** Metrics registry to record into. @default a fresh one with process metrics */
  readonly metrics?: ServiceMetrics;
  /** fastify's logger option. @default false: the service logs nothing per request */
  readonly logger?: boolean;
}

const problemResponses = {
  400: problemSchema,
  404: problemSchema,
  413: problemSchema,
  415: problemSchema,
  422: problemSchema,
  500: problemSchema,
};

export async function buildAgentApp(options: AgentAppOptions): Promise<FastifyInstance> {
  const metrics = options.metrics ?? createServiceMetrics();
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? BODY_LIMIT_BYTES,
    logger: options.logger ?? false,
    // Long-lived keep-alive connections from a controller or a load balancer.
    keepAliveTimeout: 65_000,
  }).withTypeProvider<ZodTypeProvider>();

  // Validate with zod itself and hand fastify the ZodError: problem.ts reads its issues.
  app.setValidatorCompiler<z.ZodType>(({ schema }) => (data) => {
    const parsed = schema.safeParse(data);
    return parsed.success ? { value: parsed.data } : { error: parsed.error as unknown as Error };
  });
  // Responses are built here from typed values, so they are not re-validated per request
  // (that would cost the hot path a second zod pass); app.test.ts parses them with the schemas.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Bodies are JSON only: a text/plain body is refused as such (415), not parsed to a string.
  app.removeContentTypeParser("text/plain");

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "chaos-rl agent service",
        description: `Recovery decisions from an ${OBS_V1.name} policy network. Errors are RFC 9457 problem details (${PROBLEM_MEDIA_TYPE}).`,
        version: "1",
      },
    },
    transform: jsonSchemaTransform,
  });
  // Its assets ship in the package: the page works without outside access.
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  app.setErrorHandler((err, request, reply) => sendProblem(reply, problemFor(err as Error, request.url)));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, notFoundProblem(request)));

  app.addHook("onResponse", (request, reply, done) => {
    metrics.requestDuration
      .labels(request.method, request.routeOptions.url ?? "unknown", String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
    done();
  });

  let model: OnnxPolicyModel | null = null;
  const loaded = Promise.resolve(options.model).then((m) => {
    model = m;
    metrics.modelInfo.labels(m.sha256, m.card?.codec ?? OBS_V1.name, m.file).set(1);
    return m;
  });
  // A failed load keeps /ready at 503 and fails each request that needs the model (500);
  // the caller that passed the promise sees the rejection itself.
  loaded.catch(() => {});

  const modelRef = (m: OnnxPolicyModel) => ({ sha256: m.sha256, codec: OBS_V1.name });

  /** Deciders reuse their buffers, so concurrent requests each take one from this pool. */
  const idle: Decider[] = [];

  const decisionBody = (action: number, confidence: number, probs: ArrayLike<number> | null, value: number) =>
    ({
      action,
      actionName: ACTION_NAMES[action]!,
      confidence,
      probs: probs === null ? null : Array.from(probs),
      value: Number.isNaN(value) ? null : value,
    }) satisfies DecisionBody;

  app.post(
    "/predict",
    {
      schema: {
        description: "One decision for one state.",
        body: predictRequestSchema,
        response: { 200: predictResponseSchema, ...problemResponses },
      },
    },
    async (request) => {
      const m = model ?? (await loaded);
      const decide = idle.pop() ?? m.decider();
      try {
        const d = await decide(Float32Array.from(request.body.state));
        metrics.decisionsByAction[d.action]!.inc();
        return { ...decisionBody(d.action, d.confidence, d.probs, d.value), model: modelRef(m) };
      } finally {
        idle.push(decide);
      }
    },
  );

  app.post(
    "/predict/batch",
    {
      schema: {
        description: "One decision per state, computed in one model run.",
        body: predictBatchRequestSchema,
        response: { 200: predictBatchResponseSchema, ...problemResponses },
      },
    },
    async (request) => {
      const m = model ?? (await loaded);
      const { states } = request.body;
      const n = states.length;
      const flat = new Float32Array(n * OBS_V1.dim);
      for (let i = 0; i < n; i++) flat.set(states[i]!, i * OBS_V1.dim);
      const out = await m.decideBatch(flat, n);
      const decisions = new Array<DecisionBody>(n);
      // Counted per action once per batch: one counter update per state costs the hot loop.
      const counts = new Array<number>(ACTION_COUNT).fill(0);
      for (let i = 0; i < n; i++) {
        counts[out.actions[i]!]!++;
        const probs = out.probs ? out.probs.subarray(i * ACTION_COUNT, (i + 1) * ACTION_COUNT) : null;
        decisions[i] = decisionBody(out.actions[i]!, out.confidence[i]!, probs, out.value ? out.value[i]! : Number.NaN);
      }
      counts.forEach((c, action) => {
        if (c > 0) metrics.decisionsByAction[action]!.inc(c);
      });
      return { decisions, model: modelRef(m) };
    },
  );

  app.get(
    "/health",
    { schema: { description: "The process is alive.", response: { 200: healthResponseSchema } } },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/ready",
    {
      schema: {
        description: "200 once the model is loaded; 503 while it loads or when it failed to.",
        response: { 200: readyResponseSchema, 503: readyResponseSchema },
      },
    },
    async (_request, reply) => {
      if (model === null) return reply.code(503).send({ ready: false, model: null });
      return { ready: true, model: modelRef(model) };
    },
  );

  app.get(
    "/model",
    { schema: { description: "The model being served and its card.", response: { 200: modelResponseSchema } } },
    async () => {
      const m = model ?? (await loaded);
      return {
        file: m.file,
        sha256: m.sha256,
        codec: OBS_V1.name,
        card: (m.card as Record<string, unknown> | null) ?? null,
        warnings: [...m.warnings],
      };
    },
  );

  app.get(
    "/metrics",
    { schema: { description: "Prometheus metrics (text exposition format).", hide: false } },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  app.get("/openapi.json", { schema: { hide: true } }, async (_request, reply) => {
    reply.type("application/json");
    return JSON.stringify(app.swagger());
  });

  return app;
}
