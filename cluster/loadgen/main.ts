/**
 * The load generator as a container (cluster/manifests/loadgen.yaml): the testbed's open-loop
 * generator (cluster/local/loadgen.ts) pointed at the demo Service, at the rate its env says
 * (options.ts). It logs one JSON line when it starts, when a spike ends by its own clock, and
 * every REPORT_EVERY_S seconds with what clients saw; SIGTERM stops it.
 */
import { LoadGenerator } from "../local/loadgen.ts";
import { loadgenOptionsSchema, rateAt } from "./options.ts";

const parsed = loadgenOptionsSchema.safeParse(process.env);
if (!parsed.success) {
  process.stderr.write(
    `loadgen: invalid environment:\n${parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n")}\n`,
  );
  process.exit(2);
}
const o = parsed.data;
const line = (event: string, extra: object) =>
  process.stdout.write(`${JSON.stringify({ event, at: new Date().toISOString(), ...extra })}\n`);

const gen = new LoadGenerator({ url: o.TARGET_URL });
const start = rateAt(o, Date.now() / 1000);
gen.setRate(start.rps);
line("started", {
  target: o.TARGET_URL,
  rps: start.rps,
  baseRps: o.RATE_RPS,
  factor: o.LOAD_FACTOR,
  until: o.LOAD_FACTOR_UNTIL ?? null,
});

let spikeTimer: NodeJS.Timeout | null = null;
if (start.spiking && o.LOAD_FACTOR_UNTIL !== undefined) {
  spikeTimer = setTimeout(
    () => {
      gen.setRate(o.RATE_RPS);
      line("spike-ended", { rps: o.RATE_RPS });
    },
    Math.max(0, o.LOAD_FACTOR_UNTIL * 1000 - Date.now()),
  );
}
const report = setInterval(() => line("window", { rps: gen.rate, ...gen.takeWindow() }), o.REPORT_EVERY_S * 1000);

const stop = () => {
  if (spikeTimer) clearTimeout(spikeTimer);
  clearInterval(report);
  gen.stop();
  line("stopped", {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
