/**
 * The scenario file format: the single source of its defaults and types. A file states
 * what to run (backend, duration, seeds, workload, simulator, SLO, guard limits) and the
 * matrix to expand (fault x frequency x policy), plus gates for the reports to check.
 *
 * `ScenarioInput` is what a file may say; `Scenario` is the normalised result: every
 * default applied, `steps` and `durationS` both known, seeds expanded to a list, and each
 * matrix axis a list of entries with a unique `label` (the name cells, reports and gates use).
 *
 * Run `npx tsx scripts/gen-scenario-schema.ts` after changing anything here (or a schema it
 * embeds): `scenario.schema.json` is generated from it and checked for drift by a test.
 */
import { z } from "zod";
import { FAULT_TYPES, type FaultSpec, faultSpecSchema } from "../harness/core/contract.ts";
import { ScenarioErrorCode } from "../harness/core/errors.ts";
import { guardLimitsSchema, NOOP_FALLBACK } from "../harness/core/guard.ts";
import {
  type Frequency,
  frequencySchema,
  INJECT_MODES,
  type InjectMode,
  MAX_INJECTIONS,
} from "../harness/core/schedule.ts";
import { POLICY_NAMES, type PolicyName, policies } from "../policies/index.ts";
import { type SimParams, simParamsSchema, workloadSchema } from "../sim/params.ts";
import { clusterSectionSchema } from "./cluster.ts";
import { localSectionSchema } from "./local.ts";

export const DEFAULT_STEPS = 200;
/**
 * Bounds on what a run can hold, refused at validation rather than failing every episode:
 * an episode's trace lives in typed arrays in its worker (a 100,000-step episode takes
 * about 0.5 GB of memory at its peak, measured), and the schedule stops at MAX_INJECTIONS
 * injections per episode (harness/core/schedule.ts). A million episodes per run keeps episode ids
 * far inside the store's INTEGER column after merges.
 */
export const MAX_STEPS = 100_000;
export const MAX_EPISODES = 1_000_000;
const MAX_SEED = 0x7fff_ffff;

/** Labels end up in gate expressions (`heuristic.uptime`) and cell ids, so no dots or spaces. */
const labelSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, {
  error: (iss) =>
    `Expected a name of letters, digits, "-" and "_", starting with a letter (at most 64), got ${JSON.stringify(iss.input)}`,
});

// ---------------------------------------------------------------------------
// Seeds

const seedSchema = z.number().int().min(0).max(MAX_SEED);

const seedsSchema = z
  .union([
    z
      .array(seedSchema)
      .min(1)
      .superRefine((seeds, ctx) => {
        const first = new Map<number, number>();
        seeds.forEach((s, i) => {
          const j = first.get(s);
          if (j === undefined) first.set(s, i);
          else duplicate(ctx, [i], `Seed ${s} is listed twice (also at seeds[${j}])`);
        });
      }),
    z
      .object({
        count: z.number().int().min(1).max(100_000).describe("How many seeds."),
        start: seedSchema.default(0).describe("The first seed; the others follow consecutively."),
      })
      .strict()
      .refine((r) => r.start + r.count - 1 <= MAX_SEED, {
        message: `Expected start + count - 1 <= ${MAX_SEED}`,
        path: ["count"],
      }),
  ])
  .transform((s) => (Array.isArray(s) ? s : Array.from({ length: s.count }, (_, i) => s.start + i)))
  .describe("Episode seeds: a list of integers, or { count, start } for count consecutive seeds from start.");

// ---------------------------------------------------------------------------
// SLO

const sloSchema = z
  .object({
    // The simulator's unloaded latency is 50 ms (sim/params.ts); 300 ms is crossed only under real trouble.
    latencyMs: z.number().positive().default(300).describe("Latency ceiling, ms (p95 where the backend has it)."),
    errorRate: z.number().min(0).max(1).default(0.01).describe("Error-rate ceiling, 0..1."),
    confirmWindowS: z
      .number()
      .min(0)
      .default(30)
      .describe("A fault counts as recovered once the SLO has held this many seconds in a row."),
  })
  .strict();

// ---------------------------------------------------------------------------
// Simulator: its own parameters, minus the timing the scenario states once at the top
// (`steps`, `stepSeconds`) and copies in, so the two can never disagree.

const { stepSeconds: _stepSeconds, episodeSteps: _episodeSteps, ...simShape } = simParamsSchema.shape;
/** Refuses a key the scenario sets elsewhere, saying where. */
const setAtTop = (key: string) =>
  z
    .never({ error: `Set ${key} at the top level of the scenario, not under sim:` })
    .optional()
    .describe(`Not here: set at the top level of the scenario.`);
const simFields = z
  .object({
    ...simShape,
    stepSeconds: setAtTop("stepSeconds"),
    episodeSteps: setAtTop("steps or durationS"),
    // Read and inlined by the scenario loader (harness/scenario-file.ts), which has the
    // file's folder; by the time the schema sees the section the key is gone.
    paramsFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A YAML file of simulator parameters (as written by `harness calibrate`), relative to the scenario file. Its values replace this section's values of the same keys; the run stores the scenario with them inlined.",
      ),
  })
  .strict();
// The second stage re-runs the simulator's own cross-field checks; the cast only tells TS
// that parsing its output again is sound (its inputs are a superset of its outputs).
const scenarioSimSchema = simFields
  .superRefine((v, ctx) => {
    if (v.paramsFile !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["paramsFile"],
        message:
          "sim.paramsFile is read by the scenario loader (harness/scenario-file.ts parseScenario), not the schema",
      });
    }
  })
  .pipe(simParamsSchema as unknown as z.ZodType<SimParams, z.output<typeof simFields>>);

// ---------------------------------------------------------------------------
// Guard: the harness's limits, with the fallback narrowed to names that exist.

const scenarioGuardSchema = guardLimitsSchema.safeExtend({
  fallback: z
    .enum([NOOP_FALLBACK, ...POLICY_NAMES])
    .default(NOOP_FALLBACK)
    .describe("Decides in place of a policy that throws or times out: noop, or a policy from the registry."),
});

// ---------------------------------------------------------------------------
// Matrix axis: fault

/** `pod-kill` is shorthand for `{ type: pod-kill }` with that type's defaults. */
const faultShorthand = z
  .enum(FAULT_TYPES)
  .transform((type) => ({ type }))
  .pipe(faultSpecSchema);
const oneFault = z.union([faultShorthand, faultSpecSchema]);

const combinedFault = z
  .object({
    name: labelSchema.describe("Label of this entry on the fault axis."),
    faults: z
      .array(oneFault)
      .min(1)
      .describe("The cell's faults: each injection draws one of them, uniformly, or injects them all (inject: all)."),
    inject: z
      .enum(INJECT_MODES)
      .default("one")
      .describe(
        "one: each injection draws one of the faults; all: each injection injects every listed fault at the same moment (a compound incident).",
      ),
  })
  .strict()
  .describe("A named fault cell: a combination of faults, or one fault variant under its own name.");

const faultEntry = z.union([faultShorthand, faultSpecSchema, combinedFault]);

export interface FaultCell {
  /** Unique on the axis: the fault type, or the given name. */
  readonly label: string;
  readonly faults: readonly FaultSpec[];
  /** `one`: each injection draws one of `faults`; `all`: each injection injects all of them at once. */
  readonly inject: InjectMode;
}

const faultAxis = z
  .array(faultEntry)
  .min(1)
  .superRefine((entries, ctx) =>
    uniqueLabels(
      entries.map((e, i) => ("faults" in e ? { label: e.name, path: [i, "name"] } : { label: e.type, path: [i] })),
      ctx,
      (c) => `Fault "${c}" appears twice; name one with { name, faults: [...] }`,
    ),
  )
  .transform((entries): FaultCell[] =>
    entries.map((e) =>
      "faults" in e
        ? { label: e.name, faults: e.faults, inject: e.inject }
        : { label: e.type, faults: [e], inject: "one" as const },
    ),
  )
  .describe("Fault axis: fault types, fault specs, or named combinations { name, faults }.");

// ---------------------------------------------------------------------------
// Matrix axis: frequency

export interface FrequencyCell {
  readonly label: string;
  readonly frequency: Frequency;
}

const frequencyAxis = z
  .record(labelSchema, frequencySchema)
  .refine((r) => Object.keys(r).length > 0, { message: "Expected at least one frequency level" })
  .transform((r): FrequencyCell[] => Object.entries(r).map(([label, frequency]) => ({ label, frequency })))
  .describe("Frequency axis: named levels, each a fixed interval or a Poisson mean interval.");

// ---------------------------------------------------------------------------
// Matrix axis: policy

function policyObject<N extends PolicyName>(name: N) {
  // The registry's union of schemas is widened on purpose: cells carry params as `unknown`
  // and `createPolicy` types them again by name.
  const def: { params: z.ZodType; description: string } = policies[name];
  return z
    .object({
      name: z.literal(name),
      label: labelSchema.optional().describe("Unique label on the axis (default: the name); set it to compare params."),
      params: def.params.prefault({}).describe(`Parameters of ${name}; each has a default.`),
    })
    .strict()
    .describe(def.description);
}

const policyObjects = z.discriminatedUnion(
  "name",
  POLICY_NAMES.map(policyObject) as unknown as [ReturnType<typeof policyObject>, ...ReturnType<typeof policyObject>[]],
);
/** `hpa` is shorthand for `{ name: hpa }` with that policy's default params. */
const policyShorthand = z
  .enum(POLICY_NAMES)
  .transform((name) => ({ name }))
  .pipe(policyObjects);

export interface PolicyCell {
  /** Unique on the axis: the given label, or the policy name. */
  readonly label: string;
  readonly name: PolicyName;
  /** The policy's params with its schema's defaults applied. */
  readonly params: unknown;
}

const policyAxis = z
  .array(z.union([policyShorthand, policyObjects]))
  .min(1)
  .superRefine((entries, ctx) =>
    uniqueLabels(
      entries.map((e, i) =>
        e.label === undefined ? { label: e.name, path: [i] } : { label: e.label, path: [i, "label"] },
      ),
      ctx,
      (c) => `Policy "${c}" appears twice; give each a distinct label`,
    ),
  )
  .transform((entries): PolicyCell[] =>
    entries.map((e) => ({ label: e.label ?? e.name, name: e.name, params: e.params })),
  )
  .describe("Policy axis: registry names, or { name, params, label }.");

const matrixSchema = z
  .object({
    fault: faultAxis,
    frequency: frequencyAxis,
    policy: policyAxis,
  })
  .strict();

// ---------------------------------------------------------------------------
// Backend

export const BACKENDS = ["sim", "local", "cluster"] as const;

// ---------------------------------------------------------------------------
// The scenario

/** Top-level fields the cross-field checks read. */
const CROSS_FIELDS = new Set(["steps", "durationS", "stepSeconds", "backend", "cluster", "local", "sim", "guard"]);
/** Cross-field checks run only once the fields they read are valid on their own, so one mistake is reported once. */
const crossFieldsValid = {
  when: (payload: z.core.ParsePayload) => !payload.issues.some((i) => CROSS_FIELDS.has(String(i.path?.[0]))),
};

const scenarioObject = z
  .object({
    name: labelSchema.describe("Name of the scenario, stored with every run."),
    description: z.string().optional(),
    backend: z
      .enum(BACKENDS)
      .default("sim")
      .describe(
        "Where episodes run: the simulator, the local testbed (real processes, Prometheus, wall clock), or a Kubernetes cluster (cluster: section).",
      ),
    cluster: clusterSectionSchema.optional().describe("Required when backend is cluster."),
    local: localSectionSchema.optional().describe("The local testbed; read by backend local only (defaults apply)."),
    steps: z
      .number()
      .int()
      .positive()
      .max(MAX_STEPS)
      .optional()
      .describe(`Observation steps per episode (default ${DEFAULT_STEPS}); give this or durationS, not both.`),
    durationS: z
      .number()
      .positive()
      .optional()
      .describe("Episode length in seconds, a multiple of stepSeconds; give this or steps, not both."),
    stepSeconds: z.number().positive().default(10).describe("Seconds between observations (one step)."),
    seeds: seedsSchema,
    workload: workloadSchema.prefault({}).describe("The offered load (the load generator on a cluster)."),
    sim: scenarioSimSchema.prefault({}).describe("The simulated deployment (sim/params.ts); read by backend sim only."),
    slo: sloSchema.prefault({}).describe("The service level that uptime and recovery are measured against."),
    stopConditions: z
      .object({
        sloBrokenForS: z
          .number()
          .positive()
          .optional()
          .describe("Abort all chaos once the SLO has been broken for longer than this, seconds."),
        errorRateAbove: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe("Abort all chaos as soon as the error rate is above this, 0..1."),
      })
      .strict()
      .optional()
      .describe(
        "Backends local and cluster: when one holds, every live fault is cleared and no new one is injected for the rest of the episode (recorded as a stop-condition event).",
      ),
    guard: scenarioGuardSchema
      .prefault({})
      .describe("Limits between every policy and the deployment (harness/core/guard.ts)."),
    matrix: matrixSchema.describe("The axes: every fault x frequency x policy x seed is one episode."),
    gates: z
      .array(z.string().trim().min(1))
      .default([])
      .describe("Conditions on the results (e.g. `heuristic.uptime >= none.uptime`); a failing gate fails the run."),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.steps !== undefined && s.durationS !== undefined) {
      conflict(ctx, ["durationS"], "Give steps or durationS, not both");
    } else if (s.durationS !== undefined) {
      const n = s.durationS / s.stepSeconds;
      if (Math.abs(n - Math.round(n)) > 1e-9 * Math.max(1, n) || Math.round(n) < 1) {
        conflict(ctx, ["durationS"], `Expected durationS to be a multiple of stepSeconds (${s.stepSeconds})`);
      } else if (Math.round(n) > MAX_STEPS) {
        conflict(ctx, ["durationS"], `Expected durationS / stepSeconds <= ${MAX_STEPS} steps, got ${Math.round(n)}`);
      }
    }
    checkSizes(s, ctx);
    if (s.backend === "cluster" && s.cluster === undefined) {
      conflict(
        ctx,
        ["backend"],
        "backend cluster needs a cluster: section (namespace, deployment, service, prometheusUrl, allowedNamespaces)",
      );
    }
    if (s.backend !== "local" && s.local !== undefined) {
      conflict(ctx, ["local"], `local: is only read when backend is local (backend is ${s.backend})`);
    }
    if (s.backend !== "cluster" && s.cluster !== undefined) {
      conflict(ctx, ["cluster"], `cluster: is only read when backend is cluster (backend is ${s.backend})`);
    }
    // A guard bound the deployment can never reach, or one it can pass, is a config mistake.
    if (s.backend === "sim") {
      if (s.guard.minReplicas < s.sim.minReplicas) {
        conflict(
          ctx,
          ["guard", "minReplicas"],
          `Expected guard.minReplicas >= sim.minReplicas (${s.sim.minReplicas}), got ${s.guard.minReplicas}`,
        );
      }
      if (s.guard.maxReplicas > s.sim.maxReplicas) {
        conflict(
          ctx,
          ["guard", "maxReplicas"],
          `Expected guard.maxReplicas <= sim.maxReplicas (${s.sim.maxReplicas}), got ${s.guard.maxReplicas}`,
        );
      }
    }
  }, crossFieldsValid)
  .transform(({ name, description, backend, cluster, local, steps, durationS, stepSeconds, ...rest }) => {
    const n = steps ?? (durationS === undefined ? DEFAULT_STEPS : Math.round(durationS / stepSeconds));
    return {
      name,
      ...(description === undefined ? {} : { description }),
      backend,
      ...(cluster === undefined ? {} : { cluster }),
      // Backend local always has its section, defaults applied.
      ...(backend === "local" ? { local: local ?? localSectionSchema.parse({}) } : {}),
      steps: n,
      durationS: n * stepSeconds,
      stepSeconds,
      ...rest,
      sim: { ...rest.sim, stepSeconds, episodeSteps: n },
    };
  });

export const scenarioSchema = scenarioObject.meta({
  title: "chaos-RL harness scenario",
  description: "A matrix of fault x frequency x policy episodes, with the settings they share.",
});
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;

/** The JSON Schema of the input form, as committed in `scenarios/scenario.schema.json`. */
export function renderScenarioJsonSchema(): string {
  const schema = z.toJSONSchema(scenarioSchema, { io: "input", target: "draft-07" });
  return `${JSON.stringify(schema, null, 2)}\n`;
}

// ---------------------------------------------------------------------------

function uniqueLabels(
  cells: readonly { label: string; path: (string | number)[] }[],
  ctx: z.RefinementCtx,
  message: (label: string) => string,
) {
  const seen = new Set<string>();
  for (const c of cells) {
    if (seen.has(c.label)) duplicate(ctx, c.path, message(c.label));
    seen.add(c.label);
  }
}

/** Fault schedules the simulator can generate, and a plan the store can hold (see MAX_STEPS). */
function checkSizes(
  s: { steps?: number; durationS?: number; stepSeconds: number; seeds: unknown; matrix: unknown },
  ctx: z.RefinementCtx,
) {
  const episodeS =
    (s.steps ?? (s.durationS === undefined ? DEFAULT_STEPS : s.durationS / s.stepSeconds)) * s.stepSeconds;
  const m = s.matrix as { fault?: unknown; frequency?: unknown; policy?: unknown } | undefined;
  // The axes are checked on their own first; only well-formed ones are measured here.
  if (!Array.isArray(m?.frequency)) return;
  for (const cell of m.frequency as FrequencyCell[]) {
    const f = cell.frequency;
    // Poisson counts vary: half the cap leaves the cap many standard deviations away.
    const expected =
      f.kind === "fixed" ? (episodeS - (f.offsetS ?? f.intervalS)) / f.intervalS + 1 : episodeS / f.meanIntervalS;
    const cap = f.kind === "fixed" ? MAX_INJECTIONS : MAX_INJECTIONS / 2;
    if (expected > cap) {
      const key = f.kind === "fixed" ? "intervalS" : "meanIntervalS";
      const value = f.kind === "fixed" ? f.intervalS : f.meanIntervalS;
      const least = episodeS / cap;
      conflict(
        ctx,
        ["matrix", "frequency", cell.label, key],
        `Expected ${key} >= ${least.toPrecision(3)} s (at most ${cap} injections in a ${episodeS} s episode), got ${value}`,
      );
    }
  }
  if (Array.isArray(s.seeds) && Array.isArray(m.fault) && Array.isArray(m.policy)) {
    const episodes = s.seeds.length * m.fault.length * m.frequency.length * m.policy.length;
    if (episodes > MAX_EPISODES) {
      conflict(
        ctx,
        ["seeds"],
        `Expected at most ${MAX_EPISODES} episodes per run, got ${episodes} (seeds x faults x frequencies x policies); split it with --shard or fewer seeds`,
      );
    }
  }
}

function duplicate(ctx: z.RefinementCtx, path: (string | number)[], message: string) {
  ctx.addIssue({ code: "custom", path, message, params: { code: ScenarioErrorCode.DuplicateName } });
}

function conflict(ctx: z.RefinementCtx, path: (string | number)[], message: string) {
  ctx.addIssue({ code: "custom", path, message, params: { code: ScenarioErrorCode.Conflict } });
}
