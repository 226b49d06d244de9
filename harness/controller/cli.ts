/**
 * `harness controller --config controller.yaml` and `harness approve ID`: the long-running
 * controller in the foreground (SIGTERM or Ctrl-C stops it cleanly: chaos cleared, store
 * closed, exit 0; a second signal while stopping is ignored so cleanup finishes), and the
 * approval of a pending request through its HTTP API.
 */
import type { Argv, CommandModule } from "yargs";
import { loadControllerConfig } from "./config.ts";
import { startController } from "./controller.ts";

export const controllerCommand: CommandModule<object, { config: string }> = {
  command: "controller",
  describe: "Run the controller loop without end against a live deployment (modes, approvals, audit, /metrics)",
  builder: (y: Argv) =>
    y
      .option("config", { type: "string", demandOption: true, describe: "controller.yaml (see the README)" })
      .example("$0 controller --config controller.yaml", "") as unknown as Argv<{ config: string }>,
  handler: async (argv) => {
    const loaded = await loadControllerConfig(argv.config);
    const ctl = await startController(loaded);
    process.stderr.write(`controller ${ctl.runId} running: ${ctl.url} (episode ${ctl.episodeId})\n`);
    if (ctl.prometheusUrl) {
      process.stderr.write(
        `controller: the testbed's Prometheus ${ctl.prometheusUrl} scrapes the testbed, this controller and its agent (harness dashboard snapshot --prometheus ${ctl.prometheusUrl})\n`,
      );
    }
    const stopped = new Promise<string[]>((resolve) => {
      const onSignal = (sig: NodeJS.Signals) => {
        process.stderr.write(`controller: ${sig}, stopping (clearing chaos, closing the store)\n`);
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        // Later signals are swallowed: cleanup must finish.
        process.on("SIGTERM", () => {});
        process.on("SIGINT", () => {});
        void ctl.stop().then(resolve);
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
      void ctl.done.then((err) => {
        if (err !== null) {
          process.stderr.write(`controller: the loop ended: ${err}\n`);
          void ctl.stop().then(resolve);
        }
      });
    });
    const left = await stopped;
    if (left.length > 0) {
      process.stderr.write(`controller: left behind: ${left.join("; ")}\n`);
      process.exitCode = 1;
    } else process.stderr.write("controller: stopped, nothing left behind\n");
  },
};

export const approveCommand: CommandModule<object, { id: string; url: string; reject: boolean; by?: string }> = {
  command: "approve <id>",
  describe: "Approve (or --reject) a pending request of a controller in approve mode",
  builder: (y: Argv) =>
    y
      .positional("id", { type: "string", demandOption: true })
      .option("url", { type: "string", default: "http://127.0.0.1:9464", describe: "The controller's API" })
      .option("reject", { type: "boolean", default: false, describe: "Reject instead" })
      .option("by", { type: "string", describe: "Who decides (recorded in the audit trail); default $USER" })
      .example("$0 approve 7 --url http://127.0.0.1:9464", "") as unknown as Argv<{
      id: string;
      url: string;
      reject: boolean;
      by?: string;
    }>,
  handler: async (argv) => {
    const by = argv.by ?? process.env.USER ?? "cli";
    const verb = argv.reject ? "reject" : "approve";
    const res = await fetch(`${argv.url}/${verb}/${encodeURIComponent(argv.id)}?by=${encodeURIComponent(by)}`, {
      method: "POST",
    });
    const body = (await res.json()) as { error?: string; status?: string; actionName?: string };
    if (!res.ok) {
      process.stderr.write(`harness approve: ${body.error ?? res.statusText}\n`);
      process.exitCode = res.status === 404 ? 2 : 1;
      return;
    }
    process.stdout.write(`request ${argv.id} (${body.actionName}) ${body.status}\n`);
  },
};
