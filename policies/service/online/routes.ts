/**
 * The online-learning routes (updater.ts does the work):
 *
 *   POST /update    { transitions: [...] } -> 202 once stored durably; starts or queues a job
 *   GET  /updates   the served model, what /rollback returns to, and every record
 *   POST /rollback  serve the previous model again (409 when there is none)
 */
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { DEFAULT_CODEC } from "../../../harness/core/codecs.ts";
import { type PROBLEM_RESPONSES, PROBLEM_TYPES, problemResponse, sendProblem } from "../problem.ts";
import { agentSchemas, updateResponseSchema } from "../schemas.ts";
import { type OnlineUpdater, RollbackUnavailableError } from "./updater.ts";

export function registerOnlineRoutes(
  app: FastifyInstance,
  updater: () => Promise<OnlineUpdater>,
  problems: typeof PROBLEM_RESPONSES,
  /** The served model's codec: transitions carry its states. */
  codec: string = DEFAULT_CODEC,
): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { rollbackResponseSchema, updateRequestSchema, updatesResponseSchema } = agentSchemas(codec);
  // Candidates are fine-tuned from the served model and keep its codec (job.ts).
  const ref = (r: { sha256: string; file: string }) => ({ sha256: r.sha256, codec, file: r.file });

  typed.post(
    "/update",
    {
      schema: {
        description:
          "Store transitions durably (answered after fsync) and fine-tune a copy of the served model on them; the copy replaces it only when not worse on the validation scenario.",
        body: updateRequestSchema,
        response: { 202: updateResponseSchema, ...problems },
      },
    },
    async (request, reply) => {
      const u = await updater();
      return reply.code(202).send(u.accept(request.body.transitions));
    },
  );

  typed.get(
    "/updates",
    {
      schema: {
        description: "The served model, the models /rollback returns to, and every candidate and rollback.",
        response: { 200: updatesResponseSchema },
      },
    },
    async () => {
      const s = (await updater()).status();
      return { serving: ref(s.serving), previous: [...s.previous], running: s.running, records: [...s.records] };
    },
  );

  typed.post(
    "/rollback",
    {
      schema: {
        description: "Serve the model served before the current one.",
        response: { 200: rollbackResponseSchema, 409: problemResponse("No model to roll back to.") },
      },
    },
    async (request, reply) => {
      try {
        const r = await (await updater()).rollback();
        return { serving: ref(r.to), replaced: r.from };
      } catch (err) {
        if (!(err instanceof RollbackUnavailableError)) throw err;
        return sendProblem(reply, {
          type: PROBLEM_TYPES.noPreviousModel,
          title: "Nothing to roll back to",
          status: 409,
          detail: err.message,
          instance: request.url,
        });
      }
    },
  );
}
