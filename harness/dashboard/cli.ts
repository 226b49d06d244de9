/**
 * `harness dashboard snapshot --prometheus URL --out DIR [--from now-30m] [--to now]`: every
 * dashboard of cluster/grafana/ (or `--dashboard FILE ...`) rendered to SVG/PNG and an HTML
 * page from a Prometheus, without Grafana (snapshot.ts). Times as Grafana writes them
 * (`now`, `now-30m`, `now-2h`), an ISO 8601 time, or unix seconds.
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Argv, CommandModule } from "yargs";
import { UsageError } from "../cli-errors.ts";
import { takeSnapshot } from "./snapshot.ts";

const GRAFANA_DIR = fileURLToPath(new URL("../../cluster/grafana/", import.meta.url));

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `now`, `now-30m`, an ISO time or unix seconds -> unix seconds; a usage error names the flag. */
export function parseTime(text: string, flag: string, nowS: number): number {
  const rel = /^now(?:-(\d+(?:\.\d+)?)([smhd]))?$/.exec(text.trim());
  if (rel) return rel[1] === undefined ? nowS : nowS - Number(rel[1]) * UNIT_S[rel[2]!]!;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isFinite(ms)) return ms / 1000;
  throw new UsageError(
    `Expected --${flag} to be now, now-<n><s|m|h|d> (e.g. now-30m), an ISO 8601 time or unix seconds, got "${text}"`,
  );
}

/** `--var name=value` pairs -> a map; a usage error names the bad one. */
export function parseVars(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    if (i <= 0) throw new UsageError(`Expected --var name=value, got "${p}"`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

interface SnapshotArgs {
  prometheus: string;
  out: string;
  dashboard?: string[];
  from: string;
  to: string;
  step?: number;
  scrapeInterval: number;
  var: string[];
  png: boolean;
  strict: boolean;
}

const snapshotCommand: CommandModule<object, SnapshotArgs> = {
  command: "snapshot",
  describe: "Render the Grafana dashboards' panels from a Prometheus to SVG/PNG and HTML, without Grafana",
  builder: (y: Argv) =>
    y
      .option("prometheus", { type: "string", demandOption: true, describe: "Prometheus base URL" })
      .option("out", { type: "string", default: "runs/dashboards", describe: "Output folder" })
      .option("dashboard", {
        type: "array",
        string: true,
        describe: "Dashboard JSON files [default: cluster/grafana/*.json]",
      })
      .option("from", { type: "string", default: "now-30m", describe: "Start: now-30m, an ISO time, unix seconds" })
      .option("to", { type: "string", default: "now", describe: "End: now, an ISO time, unix seconds" })
      .option("step", { type: "number", describe: "Seconds between points [default: range/300, >= scrape interval]" })
      .option("scrape-interval", {
        type: "number",
        default: 15,
        describe: "The Prometheus's scrape interval, s ($__rate_interval; the local testbed's is 1)",
      })
      .option("var", { type: "array", string: true, default: [], describe: "Dashboard variable, name=value" })
      .option("png", { type: "boolean", default: true, describe: "PNG beside each SVG (--no-png: SVG only)" })
      .option("strict", { type: "boolean", default: false, describe: "Exit 1 when a panel has no data" })
      .example(
        "$0 dashboard snapshot --prometheus http://127.0.0.1:9090 --out runs/dashboards --from now-15m --scrape-interval 1",
        "The last 15 minutes of the local testbed's Prometheus",
      ) as unknown as Argv<SnapshotArgs>,
  handler: async (argv) => {
    const nowS = Date.now() / 1000;
    const startUnixS = parseTime(argv.from, "from", nowS);
    const endUnixS = parseTime(argv.to, "to", nowS);
    if (!(endUnixS > startUnixS)) throw new UsageError(`Expected --to after --from, got ${argv.from} .. ${argv.to}`);
    if (argv.step !== undefined && !(argv.step > 0)) throw new UsageError(`Expected --step > 0, got ${argv.step}`);
    if (!(argv.scrapeInterval > 0)) {
      throw new UsageError(`Expected --scrape-interval > 0, got ${argv.scrapeInterval}`);
    }
    const dashboards =
      argv.dashboard && argv.dashboard.length > 0
        ? argv.dashboard
        : readdirSync(GRAFANA_DIR)
            .filter((f) => f.endsWith(".json"))
            .sort()
            .map((f) => join(GRAFANA_DIR, f));
    const r = await takeSnapshot({
      prometheusUrl: argv.prometheus.replace(/\/+$/, ""),
      outDir: argv.out,
      dashboards,
      startUnixS,
      endUnixS,
      ...(argv.step !== undefined ? { stepS: argv.step } : {}),
      scrapeIntervalS: argv.scrapeInterval,
      vars: parseVars(argv.var),
      png: argv.png,
    });
    for (const d of r.dashboards) {
      process.stdout.write(
        `${d.title}: ${d.panels} panels -> ${relative(process.cwd(), d.png ?? d.svg)}${d.noData.length > 0 ? `, ${d.noData.length} queries without data` : ""}\n`,
      );
      for (const n of d.noData) process.stderr.write(`  no data: ${n}\n`);
    }
    process.stdout.write(`${relative(process.cwd(), r.index)}\n`);
    if (argv.strict && r.dashboards.some((d) => d.noData.length > 0)) process.exitCode = 1;
  },
};

export const dashboardCommand: CommandModule = {
  command: "dashboard <command>",
  describe: "The Grafana dashboards of cluster/grafana/ (snapshot: render them without Grafana)",
  builder: (y: Argv) => y.command(snapshotCommand).demandCommand(1, "Name a dashboard command: snapshot"),
  handler: () => {},
};
