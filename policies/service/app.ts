/**
 * The agent service as a fastify app: answers "what should I do in this state" with a
 * loaded ONNX model (policies/onnx-model.ts). A state is a vector of the model's codec (its
 * card's `codec`: 9 numbers for obs-v1, 25 for obs-v2); the app validates with that codec's
 * schemas (schemas.ts `agentSchemas`), names it in every reply's `model.codec`, and its
 * OpenAPI document states its length. Routes:
 *
 *   POST /predict        { state: [dim numbers] }      -> a decision (schemas.ts)
 *   POST /predict/batch  { states: [[dim numbers]...] } -> one decision per state, one model run
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
import { codecByName, type StateCodec } from "../../harness/core/codecs.ts";
import { ACTION_COUNT } from "../../harness/core/contract.ts";
import type { OnnxPolicyModel } from "../onnx-model.ts";
import { type Coalescer, coalescer } from "./coalesce.ts";
import { modelRefJson, predictBatchJson, predictJson } from "./encode.ts";
import { EXACT_MAX_FEATURES, explain, healthyBackground, SAMPLED_PERMUTATIONS } from "./explain.ts";
import { createServiceMetrics, type ServiceMetrics } from "./metrics.ts";
import { registerOnlineRoutes } from "./online/routes.ts";
import { type OnlineOptions, OnlineUpdater } from "./online/updater.ts";
import { notFoundProblem, PROBLEM_MEDIA_TYPE, PROBLEM_RESPONSES, problemFor, sendProblem } from "./problem.ts";
import {
  agentSchemas,
  bodyLimitBytes,
  healthResponseSchema,
  type PredictBatchResponse,
  type PredictResponse,
} from "./schemas.ts";
import { compileBodyValidator } from "./validation.ts";

export interface AgentAppOptions {
  /** The model to serve, or its pending load (`/ready` is 503 until it resolves). */
  readonly model: OnnxPolicyModel | Promise<OnnxPolicyModel>;
  /**
   * The state codec the routes take (schemas, OpenAPI, `model.codec`). A loaded model brings
   * its own (a different one here is refused); a pending one must read this one, or its
   * load fails (`/ready` stays 503). @default the loaded model's; obs-v1 for a pending one
   */
  readonly codec?: string;
  /** Largest request body, bytes. @default bodyLimitBytes(codec dim): 1 MiB for obs-v1, 3 MiB for obs-v2 */
  readonly bodyLimit?: number;
  /** Metrics registry to record into. @default a fresh one with process metrics */
  readonly metrics?: ServiceMetrics;
  /** fastify's logger option. @default false: the service logs nothing per request */
  readonly logger?: boolean;
  /** Online learning (`POST /update`, `GET /updates`, `POST /rollback`); off without it. */
  readonly online?: OnlineOptions;
}

/** The model being served, with what each request needs of it made once. */
interface Serving {
  readonly model: OnnxPolicyModel;
  readonly coalescer: Coalescer;
  /** `{"sha256":...,"codec":"obs-v1"}` for the replies. */
  readonly refJson: string;
}

function servingOf(model: OnnxPolicyModel, codec: StateCodec): Serving {
  // The routes validate states of the app's codec: a model of another would be fed wrong vectors.
  if (model.codec !== codec) {
    throw new Error(
      `${model.file}: Expected a model of codec "${codec.name}" (the ${codec.dim}-float states this service takes), got one of "${model.codec.name}"`,
    );
  }
  return {
    model,
    coalescer: coalescer(model),
    refJson: modelRefJson({ sha256: model.sha256, codec: model.codec.name }),
  };
}

/** The codec the app serves: the loaded model's, or the option's (obs-v1) for a pending one. */
function appCodec(options: AgentAppOptions): StateCodec {
  const m = options.model;
  const loaded = typeof (m as Promise<OnnxPolicyModel>).then === "function" ? null : (m as OnnxPolicyModel);
  if (loaded === null) return codecByName(options.codec);
  if (options.codec !== undefined && options.codec !== loaded.codec.name) {
    throw new Error(
      `Expected the agent app's \`codec\` to be the model's ("${loaded.codec.name}", its card's), got "${options.codec}"`,
    );
  }
  return loaded.codec;
}

const problemResponses = PROBLEM_RESPONSES;

export async function buildAgentApp(options: AgentAppOptions): Promise<FastifyInstance> {
  const metrics = options.metrics ?? createServiceMetrics();
  const codec = appCodec(options);
  const {
    explainRequestSchema,
    explainResponseSchema,
    modelResponseSchema,
    predictBatchRequestSchema,
    predictBatchResponseSchema,
    predictRequestSchema,
    predictResponseSchema,
    readyResponseSchema,
  } = agentSchemas(codec.name);
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? bodyLimitBytes(codec.dim),
    logger: options.logger ?? false,
    // Long-lived keep-alive connections from a controller or a load balancer.
    keepAliveTimeout: 65_000,
  }).withTypeProvider<ZodTypeProvider>();

  // ajv compiled from the zod schemas decides; zod explains a refusal (validation.ts), so
  // problem.ts reads zod's issues as before.
  app.setValidatorCompiler<z.ZodType>(({ schema }) => compileBodyValidator(schema));
  // Responses are built here from typed values, so they are not re-validated per request
  // (that would cost the hot path a second pass); the decision routes write their JSON
  // themselves (encode.ts) and app.test.ts parses every reply with its schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Bodies are JSON only: a text/plain body is refused as such (415), not parsed to a string.
  app.removeContentTypeParser("text/plain");

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "chaos-rl agent service",
        description: `Recovery decisions from an ${codec.name} policy network: a state is ${codec.dim} numbers (GET /model names the codec; a service serving another codec's model documents that codec's length). Errors are RFC 9457 problem details (${PROBLEM_MEDIA_TYPE}).`,
        version: "1",
      },
    },
    transform: jsonSchemaTransform,
  });
  // Its assets ship in the package: the page works without outside access.
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  app.setErrorHandler((err, request, reply) => sendProblem(reply, problemFor(err as Error, request.url)));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, notFoundProblem(request)));

  // prom-client hashes the label values on every `labels()` call: resolve each
  // (method, route, status) child once.
  const durationChildren = new Map<string, { observe(v: number): void }>();
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unknown";
    const key = `${request.method} ${route} ${reply.statusCode}`;
    let child = durationChildren.get(key);
    if (child === undefined) {
      child = metrics.requestDuration.labels(request.method, route, String(reply.statusCode));
      durationChildren.set(key, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });

  let serving: Serving | null = null;
  let updater: OnlineUpdater | null = null;
  /** Serves `m` from the next request on: one assignment, so a request sees one model or the other. */
  const swap = (m: OnnxPolicyModel) => {
    serving = servingOf(m, codec);
    metrics.modelInfo.reset();
    metrics.modelInfo.labels(m.sha256, m.codec.name, m.file).set(1);
  };
  const loaded = Promise.resolve(options.model).then(async (m) => {
    if (options.online) {
      updater = await OnlineUpdater.open(options.online, m, swap);
      swap(updater.current);
    } else swap(m);
    return serving!;
  });
  app.addHook("onClose", async () => {
    await (updater as OnlineUpdater | null)?.close();
  });
  // A failed load keeps /ready at 503 and fails each request that needs the model (500);
  // the caller that passed the promise sees the rejection itself.
  loaded.catch(() => {});
  const current = async (): Promise<Serving> => serving ?? (await loaded);

  const modelRef = (m: OnnxPolicyModel) => ({ sha256: m.sha256, codec: m.codec.name });
  const json = "application/json; charset=utf-8";

  app.post(
    "/predict",
    {
      schema: {
        description: "One decision for one state.",
        body: predictRequestSchema,
        response: { 200: predictResponseSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const s = serving ?? (await current());
      // Concurrent requests share one model run (coalesce.ts).
      const { out, i } = await s.coalescer.decide(request.body.state);
      metrics.decisionsByAction[out.actions[i]!]!.inc();
      reply.header("content-type", json);
      return predictJson(out, i, s.refJson) as unknown as PredictResponse;
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
    async (request, reply) => {
      const s = serving ?? (await current());
      const { states } = request.body;
      const n = states.length;
      const dim = codec.dim;
      const flat = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) {
        const row = states[i]!;
        for (let j = 0; j < dim; j++) flat[i * dim + j] = row[j]!;
      }
      const out = await s.model.decideBatch(flat, n);
      // Counted per action once per batch: one counter update per state costs the hot loop.
      const counts = new Array<number>(ACTION_COUNT).fill(0);
      for (let i = 0; i < n; i++) counts[out.actions[i]!]!++;
      counts.forEach((c, action) => {
        if (c > 0) metrics.decisionsByAction[action]!.inc(c);
      });
      reply.header("content-type", json);
      return predictBatchJson(out, n, s.refJson) as unknown as PredictBatchResponse;
    },
  );

  app.post(
    "/explain",
    {
      schema: {
        description:
          codec.dim <= EXACT_MAX_FEATURES
            ? `Exact Shapley values of the ${codec.dim} ${codec.name} features for the probability of the chosen action (2^${codec.dim} coalitions in one model run), against a stated background.`
            : `Shapley values of the ${codec.dim} ${codec.name} features for the probability of the chosen action, estimated from ${SAMPLED_PERMUTATIONS} seeded feature orders in one model run (they still sum to output - base), against a stated background.`,
        body: explainRequestSchema,
        response: { 200: explainResponseSchema, ...problemResponses },
      },
    },
    async (request) => {
      const s = serving ?? (await current());
      const e = await explain(s.model, request.body.state, request.body.background ?? healthyBackground(codec));
      return {
        ...e,
        attributions: [...e.attributions],
        background: e.background.map((b) => [...b]),
        model: modelRef(s.model),
      };
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
      if (serving === null) return reply.code(503).send({ ready: false, model: null });
      return { ready: true, model: modelRef(serving.model) };
    },
  );

  app.get(
    "/model",
    { schema: { description: "The model being served and its card.", response: { 200: modelResponseSchema } } },
    async () => {
      const m = (await current()).model;
      return {
        file: m.file,
        sha256: m.sha256,
        codec: m.codec.name,
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

  if (options.online) {
    registerOnlineRoutes(
      app,
      async () => {
        await current();
        return updater!;
      },
      problemResponses,
      codec.name,
    );
  }

  app.get("/openapi.json", { schema: { hide: true } }, async (_request, reply) => {
    reply.type("application/json");
    return JSON.stringify(app.swagger());
  });

  return app;
}
