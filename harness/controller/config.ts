/**
 * `controller.yaml`: what `harness controller` runs, validated by one zod schema (the
 * defaults live here only) with a generated JSON Schema beside it (config.schema.json,
 * checked for drift by config.test.ts), and errors that point at file:line:column through
 * the scenario file's machinery (scenario-issues.ts).
 */
import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { POLICY_NAMES } from "../../policies/index.ts";
import { clusterSectionSchema } from "../../scenarios/cluster.ts";
import { localSectionSchema } from "../../scenarios/local.ts";
import { faultSpecSchema } from "../core/contract.ts";
import { ScenarioError, ScenarioErrorCode, type ScenarioIssue } from "../core/errors.ts";
import { GUARD_MODES, NOOP_FALLBACK } from "../core/guard.ts";
import { nodeAt } from "../scenario-file.ts";
import { scenarioErrorMap, zodIssuesToScenario } from "../scenario-issues.ts";

export const CONTROLLER_BACKENDS = ["local", "sim", "cluster"] as const;

const sloSchema = z
  .object({
    latencyMs: z.number().positive().default(300).describe("Latency ceiling, ms (p95)."),
    errorRate: z.number().min(0).max(1).default(0.01).describe("Error-rate ceiling, 0..1."),
    confirmWindowS: z
      .number()
      .min(0)
      .default(30)
      .describe("An incident is over once the SLO has held this many seconds in a row."),
  })
  .strict();

const chaosSchema = z
  .object({
    intervalS: z.number().positive().describe("Seconds between two injections."),
    faults: z
      .array(faultSpecSchema)
      .min(1)
      .describe("Faults to inject, in turn (round robin); each with its duration (pod-kill is one-shot)."),
    namespaces: z
      .array(z.string().min(1))
      .min(1)
      .describe("Allow-list: chaos runs only when the controller's namespace is listed here."),
    seed: z.number().int().default(1).describe("Seed of the target draw (which pod a pod fault hits)."),
    firstAfterS: z.number().min(0).default(0).describe("Seconds after start before the first injection."),
  })
  .strict()
  .describe(
    "The chaos loop. Stop conditions: no injection while an incident is open or a previous fault is live, none while paused.",
  );

export const controllerConfigSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "Expected letters, digits, '.', '_' or '-'")
      .describe("The controller's run id in the trace store: a restarted controller continues this run."),
    backend: z
      .enum(CONTROLLER_BACKENDS)
      .default("local")
      .describe(
        "local: the testbed on this machine; sim: the simulator at wall pace; cluster: a Kubernetes cluster (the `cluster` section, `prometheusUrl`).",
      ),
    namespace: z.string().min(1).default("chaos-rl").describe("Namespace of the deployment under control."),
    deployment: z.string().min(1).default("demo").describe("Name of the deployment under control."),
    intervalS: z.number().positive().default(10).describe("Observation interval, seconds (one loop step)."),
    mode: z
      .enum(GUARD_MODES)
      .default("observe-only")
      .describe("observe-only -> approve -> autonomous: start by watching, then ask, then act."),
    minReplicas: z.number().int().min(1).default(1).describe("Scale-down is refused at this count (never 0)."),
    maxReplicas: z.number().int().min(1).default(10).describe("Scale-up is refused at this count."),
    minIntervalS: z.number().min(0).default(60).describe("Minimum seconds between two executed actions."),
    policy: z
      .object({
        name: z.enum(POLICY_NAMES).describe("A policy of the registry."),
        params: z.record(z.string(), z.unknown()).default({}).describe("Its parameters (policies/README.md)."),
      })
      .strict()
      .default({ name: "heuristic", params: {} })
      .describe("Who decides: a local policy (e.g. rl with a model file)."),
    agentUrl: z
      .url()
      .optional()
      .describe("An agent service (`harness agent serve`) to ask instead of `policy`: the rl policy with this url."),
    agentTimeoutMs: z.number().int().positive().default(200).describe("With agentUrl: per-decision timeout, ms."),
    fallback: z
      .enum([NOOP_FALLBACK, ...POLICY_NAMES])
      .default(NOOP_FALLBACK)
      .describe("Decides when the policy or agent throws, answers 5xx or times out."),
    policyTimeoutMs: z.number().int().positive().default(1000).describe("The guard's limit on any decision, ms."),
    prometheusUrl: z
      .url()
      .optional()
      .describe("Prometheus to read on a cluster; the local testbed starts and reads its own."),
    slo: sloSchema.prefault({}),
    chaos: chaosSchema.optional(),
    local: localSectionSchema
      // One testbed, one deployment: a matrix's parallel episodes mean nothing here.
      .omit({ namespace: true, name: true, parallelEpisodes: true })
      .extend({
        rps: z.number().min(0).default(40).describe("Offered load, requests per second (constant)."),
      })
      .prefault({})
      .describe("The testbed's deployment (backend local); namespace and name come from the top level."),
    cluster: clusterSectionSchema
      // The deployment under control and Prometheus are named at the top level, once for every backend.
      .omit({ namespace: true, deployment: true, prometheusUrl: true })
      .optional()
      .describe(
        "The cluster (backend cluster): kubeconfig, the Service, the namespaces writes are allowed in; namespace, deployment and prometheusUrl come from the top level.",
      ),
    pauseConfigMap: z
      .object({
        name: z.string().min(1).describe("The ConfigMap, in `namespace`."),
        annotation: z.string().min(1).default("chaos-rl.io/paused").describe('Paused while this annotation is "true".'),
        kubeconfig: z
          .string()
          .min(1)
          .optional()
          .describe("Kubeconfig file. @default $KUBECONFIG, ~/.kube/config, or the in-cluster service account"),
        context: z.string().min(1).optional().describe("Context in the kubeconfig. @default its current-context"),
      })
      .strict()
      .optional()
      .describe(
        'Pause through the Kubernetes API: the controller watches this ConfigMap and executes nothing while its annotation is "true" (nor before it has read it once).',
      ),
    store: z.string().min(1).default("runs/controller.duckdb").describe("Trace store (DuckDB) the audit streams into."),
    audit: z.string().min(1).optional().describe("JSON-lines audit file. @default runs/<name>.audit.jsonl"),
    stateFile: z.string().min(1).optional().describe("Guard state and approvals. @default runs/<name>.state.json"),
    killSwitchFile: z
      .string()
      .min(1)
      .optional()
      .describe("While this file exists the controller executes nothing (pause). @default runs/<name>.pause"),
    listen: z
      .object({
        host: z.string().default("127.0.0.1").describe("Address of /metrics, /health, /ready and the approval API."),
        port: z.number().int().min(0).max(65535).default(9464).describe("Port; 0 picks a free one."),
      })
      .strict()
      .prefault({}),
    explainTop: z
      .number()
      .int()
      .min(0)
      .max(9)
      .default(3)
      .describe(
        "With a model (agentUrl, or the rl policy's model): the largest Shapley attributions of each decision written to the audit beside its step; 0: none.",
      ),
    approvalTtlS: z.number().positive().default(900).describe("Seconds an approval request stays open."),
    batchSteps: z.number().int().positive().default(6).describe("Steps per committed batch in the trace store."),
  })
  .strict()
  .refine((c) => c.minReplicas <= c.maxReplicas, {
    message: "Expected minReplicas <= maxReplicas",
    path: ["maxReplicas"],
  })
  .refine((c) => c.backend !== "cluster" || c.cluster !== undefined, {
    message: "backend cluster needs a `cluster` section (service, allowedNamespaces, ...)",
    path: ["backend"],
  })
  .refine((c) => c.backend !== "cluster" || c.prometheusUrl !== undefined, {
    message: "backend cluster needs `prometheusUrl`",
    path: ["backend"],
  })
  .refine((c) => !c.chaos || c.chaos.namespaces.includes(c.namespace), {
    message: "The chaos allow-list (chaos.namespaces) does not include this namespace",
    path: ["chaos", "namespaces"],
  });
export type ControllerConfigInput = z.input<typeof controllerConfigSchema>;
export type ControllerConfig = z.output<typeof controllerConfigSchema>;

export interface LoadedControllerConfig {
  readonly config: ControllerConfig;
  readonly fileName: string;
  readonly text: string;
}

/** Parses and validates config text; problems come back with their line and column. */
export function parseControllerConfig(
  text: string,
  fileName: string,
): { success: true; data: LoadedControllerConfig } | { success: false; errors: ScenarioIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    return {
      success: false,
      errors: doc.errors.map((e) => ({
        code: ScenarioErrorCode.YamlSyntax,
        path: [],
        message: `YAML: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`,
        ...at(e.pos[0]),
      })),
    };
  }
  const ctx = scenarioErrorMap();
  const parsed = controllerConfigSchema.safeParse(doc.toJS({ maxAliasCount: 100 }) ?? {}, {
    error: ctx.error,
    reportInput: true,
  });
  if (!parsed.success) {
    return {
      success: false,
      errors: zodIssuesToScenario(parsed.error.issues, ctx).map(({ atKey, ...i }) => ({
        ...i,
        ...at(nodeAt(doc, i.path, atKey)?.range?.[0] ?? 0),
      })),
    };
  }
  return { success: true, data: { config: parsed.data, fileName, text } };
}

/** Reads a config file; throws a `ScenarioError` (exit code 2) listing every problem with file:line. */
export async function loadControllerConfig(path: string): Promise<LoadedControllerConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new ScenarioError(path, [
      {
        code: ScenarioErrorCode.Unreadable,
        path: [],
        message: `Cannot read: ${(e as Error).message}`,
        line: 0,
        column: 0,
      },
    ]);
  }
  const r = parseControllerConfig(text, path);
  if (!r.success) throw new ScenarioError(path, r.errors);
  return r.data;
}

export function renderControllerJsonSchema(): string {
  return `${JSON.stringify(z.toJSONSchema(controllerConfigSchema, { io: "input", target: "draft-07" }), null, 2)}\n`;
}
