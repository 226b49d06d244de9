/**
 * `harness agent serve --model M [--port P] [--host H]`: loads the model, refuses one that
 * cannot serve decisions (an unregistered codec in its card, a card whose codec is not the
 * model's input width, a card of another file: one line, exit 2 through harness/cli.ts's
 * ModelError branch), then serves it, taking states of its card's codec (obs-v1: 9 numbers,
 * obs-v2: 25), until SIGINT or SIGTERM. Prints one line when listening, `agent service listening on URL (...)`, which
 * scripts and the bench wait for.
 */
import type { Argv, CommandModule } from "yargs";
import { loadOnnxModel } from "../onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../rl.ts";

interface ServeArgs {
  readonly action: string;
  readonly model: string;
  readonly port: number;
  readonly host: string;
  readonly online?: string;
  readonly minTransitions?: number;
}

/** The online-learning job's worker (it runs the harness's loop, so it lives in harness/). */
const ONLINE_JOB_ENTRY = new URL("../../harness/agent-online-worker.mjs", import.meta.url);

/** The line printed once the service listens; the bench and tests parse the URL from it. */
export const LISTENING_LINE = /^agent service listening on (http:\/\/\S+)/m;

export async function serve(args: Omit<ServeArgs, "action">): Promise<void> {
  const model = await loadOnnxModel(resolveModelPath(args.model), {
    logger: { warn: (message) => process.stderr.write(`warning: ${message}\n`) },
  });
  // fastify is loaded here, not at import: every other harness command imports this file.
  const { buildAgentApp } = await import("./app.ts");
  const app = await buildAgentApp({
    model,
    ...(args.online
      ? { online: { dir: args.online, minTransitions: args.minTransitions ?? 256, jobEntry: ONLINE_JOB_ENTRY } }
      : {}),
  });
  const url = await app.listen({ port: args.port, host: args.host });
  process.stdout.write(
    `agent service listening on ${url} (model ${args.model}, sha256 ${model.sha256.slice(0, 12)})\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await app.close();
  await model.dispose();
}

export const agentCommand: CommandModule<object, ServeArgs> = {
  command: "agent <action>",
  describe: "Serve the rl policy over HTTP (serve): /predict, /predict/batch, /metrics, /openapi.json",
  builder: (y: Argv) =>
    y
      .positional("action", { choices: ["serve"] as const, demandOption: true })
      .option("model", {
        type: "string",
        default: DEFAULT_MODEL,
        describe: "ONNX model, card beside it (its codec: obs-v1, obs-v2)",
      })
      .option("port", { type: "number", default: 8080, describe: "Port (0: a free one)" })
      .option("host", { type: "string", default: "127.0.0.1", describe: "Address to listen on" })
      .option("online", {
        type: "string",
        describe: "Folder for online learning (POST /update, GET /updates, POST /rollback); off without it",
      })
      .option("min-transitions", {
        type: "number",
        default: 256,
        describe: "Transitions stored before the first fine-tuning job (with --online)",
      })
      .example("$0 agent serve --model models/ppo-obs-v1.onnx --port 8080", "") as unknown as Argv<ServeArgs>,
  handler: async (argv) => serve(argv),
};
