/**
 * The paired evaluation behind the agent service's `POST /update` (policies/service/online):
 * the served model and a fine-tuned candidate run the same episodes of the validation
 * scenario (same cell, same seed: the same faults and load) through the controller loop,
 * and the per-episode differences in uptime and mean replicas get the reports' seed-bootstrap
 * intervals and sign-flip p-values (reports/bootstrap.ts). It lives here, not in policies/,
 * because it needs the loop and the reports (floors above the policies).
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { Evaluation, EvaluationOptions } from "../policies/service/online/job.ts";
import { pairedRatio } from "../reports/bootstrap.ts";
import { runPlannedEpisode } from "./episode.ts";
import { expandPlan } from "./plan.ts";
import { parseScenario } from "./scenario-file.ts";

/** Runs both models on the same episodes of the validation scenario; paired intervals over seeds. */
export async function evaluatePaired(
  servingFile: string,
  candidateFile: string,
  o: EvaluationOptions,
): Promise<Evaluation> {
  const raw = parseYaml(readFileSync(o.scenario, "utf8")) as Record<string, unknown> & {
    matrix: Record<string, unknown>;
  };
  raw.matrix.policy = [
    { name: "rl", label: "serving", params: { model: servingFile } },
    { name: "rl", label: "candidate", params: { model: candidateFile } },
  ];
  const parsed = parseScenario(stringifyYaml(raw), o.scenario);
  if (!parsed.success) {
    throw new Error(`${o.scenario}: ${parsed.errors.map((e) => e.message).join("; ")}`);
  }
  const scenario = parsed.data.scenario;
  const plan = expandPlan(scenario, o.seeds ? { seeds: o.seeds } : {}).filter(
    (e) =>
      (o.faults === undefined || o.faults.includes(e.fault.label)) &&
      (o.frequencies === undefined || o.frequencies.includes(e.frequency.label)),
  );
  const byKey = new Map<string, { seed: number; serving?: number[]; candidate?: number[] }>();
  for (const planned of plan) {
    const out = await runPlannedEpisode(scenario, planned);
    if (out.status !== "completed") {
      throw new Error(`validation episode ${planned.key} ${out.status}: ${out.error ?? ""}`);
    }
    const c = out.trace.columns;
    let ok = 0;
    let replicas = 0;
    for (let t = 0; t < out.trace.length; t++) {
      ok += c.slo_ok[t]!;
      replicas += c.desired_replicas[t]!;
    }
    const key = `${planned.fault.label}|${planned.frequency.label}|${planned.seed}`;
    const pair = byKey.get(key) ?? { seed: planned.seed };
    pair[planned.policy.label as "serving" | "candidate"] = [ok / out.trace.length, replicas / out.trace.length];
    byKey.set(key, pair);
  }
  const pairs = [...byKey.values()];
  const sample = (arm: "serving" | "candidate") => ({
    clusters: Int32Array.from(pairs, (p) => p.seed),
    num: [Float64Array.from(pairs, (p) => p[arm]![0]!), Float64Array.from(pairs, (p) => p[arm]![1]!)],
    den: [new Float64Array(pairs.length).fill(1), new Float64Array(pairs.length).fill(1)],
  });
  const serving = sample("serving");
  const candidate = sample("candidate");
  const [uptimeDiff, replicasDiff] = pairedRatio(candidate, serving, { resamples: o.resamples ?? 2000, seed: 15 });
  const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const diff = (d: typeof uptimeDiff) => ({ estimate: d!.estimate, lower: d!.lower, upper: d!.upper, p: d!.p });
  return {
    scenario: o.scenario,
    episodes: pairs.length,
    seeds: [...new Set(pairs.map((p) => p.seed))],
    marginUptime: o.marginUptime,
    uptime: { serving: mean(serving.num[0]!), candidate: mean(candidate.num[0]!), diff: diff(uptimeDiff) },
    replicasMean: { serving: mean(serving.num[1]!), candidate: mean(candidate.num[1]!), diff: diff(replicasDiff) },
  };
}
