/**
 * The rows a controller writes about itself in the trace store, so that `harness report`
 * reads a day of the controller like any run: one `runs` row per controller (its config
 * file as the scenario text), one episode per process lifetime (long-run.ts).
 */
import { createHash } from "node:crypto";
import { cpus, hostname } from "node:os";
import { gitRevision } from "../provenance.ts";
import type { EpisodeMeta, RunContext } from "../store.ts";

export interface ControllerLabels {
  readonly runId: string;
  /** The config file as read ("" when built in code). */
  readonly configText?: string;
  readonly backend?: string;
  /** The policy's label (e.g. `rl`, `heuristic`) and registry name. */
  readonly policy?: string;
  readonly policyName?: string;
  /** What the chaos loop injects, as the episode's fault label (`none` without chaos). */
  readonly fault?: string;
  /** The chaos interval as the frequency label (`none` without chaos). */
  readonly frequency?: string;
  readonly stepSeconds?: number;
  readonly confirmWindowS?: number;
  readonly slo?: { readonly latencyMs: number; readonly errorRate: number };
  readonly faultSpecs?: unknown;
  readonly modelChecksums?: Readonly<Record<string, string>>;
}

export function controllerRunContext(l: ControllerLabels | string): RunContext {
  const o = typeof l === "string" ? { runId: l } : l;
  const text = o.configText ?? "";
  const sha = createHash("sha256").update(text).digest("hex");
  return {
    runId: o.runId,
    scenarioName: `controller:${o.runId}`,
    scenarioSha256: sha,
    scenarioText: text,
    planSha256: sha,
    shard: null,
    backend: o.backend ?? "sim",
    gitSha: gitRevision(),
    nodeVersion: process.version,
    host: hostname(),
    cpus: cpus().length,
    argv: process.argv.slice(2),
    modelChecksums: o.modelChecksums ?? {},
    seeds: [],
    startedAt: new Date(),
  };
}

/** The episode row of one process lifetime; `key` is unique by its start time. */
export function controllerMeta(l: ControllerLabels | string, startedAt: Date = new Date()): EpisodeMeta {
  const o = typeof l === "string" ? { runId: l } : l;
  return {
    key: `controller|${startedAt.toISOString()}`,
    fault: o.fault ?? "none",
    frequency: o.frequency ?? "none",
    policy: o.policy ?? "controller",
    policyName: o.policyName ?? o.policy ?? "controller",
    seed: 0,
    backend: o.backend ?? "sim",
    status: "aborted",
    error: null,
    steps: 0,
    stepSeconds: o.stepSeconds ?? 10,
    confirmWindowS: o.confirmWindowS ?? 30,
    sloLatencyMs: o.slo?.latencyMs ?? 300,
    sloErrorRate: o.slo?.errorRate ?? 0.01,
    wallMs: 0,
    faultSpecs: o.faultSpecs ?? [],
  };
}
