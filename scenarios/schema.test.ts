import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_STEPS, renderScenarioJsonSchema, type ScenarioInput, scenarioSchema } from "./schema.ts";

const minimal: ScenarioInput = {
  name: "t",
  seeds: [7],
  matrix: {
    fault: ["pod-kill"],
    frequency: { low: { kind: "fixed", intervalS: 300 } },
    policy: ["none"],
  },
};

describe("scenario schema", () => {
  it("committed scenario.schema.json matches the zod schema (run `npx tsx scripts/gen-scenario-schema.ts`)", () => {
    const committed = readFileSync(new URL("./scenario.schema.json", import.meta.url), "utf8");
    expect(committed).toBe(renderScenarioJsonSchema());
  });

  it("JSON Schema refuses unknown keys at the top level (strict objects survive generation)", () => {
    const json = JSON.parse(renderScenarioJsonSchema());
    expect(json.additionalProperties).toBe(false);
    expect(json.required).toEqual(["name", "seeds", "matrix"]);
  });

  it("applies the default steps, stepSeconds and sections to a minimal scenario", () => {
    const s = scenarioSchema.parse(minimal);
    expect(s.steps).toBe(DEFAULT_STEPS);
    expect(s.stepSeconds).toBe(10);
    expect(s.durationS).toBe(DEFAULT_STEPS * 10);
    expect(s.backend).toBe("sim");
    expect(s.slo).toEqual({ latencyMs: 300, errorRate: 0.01, confirmWindowS: 30 });
    expect(s.guard.mode).toBe("autonomous");
    expect(s.workload.pattern).toBe("constant");
    expect(s.sim.initialReplicas).toBe(3);
    expect(s.gates).toEqual([]);
  });

  it("derives steps from durationS and copies the timing into the sim parameters", () => {
    const s = scenarioSchema.parse({ ...minimal, durationS: 600, stepSeconds: 5 });
    expect(s).toMatchObject({ steps: 120, durationS: 600, stepSeconds: 5 });
    expect(s.sim).toMatchObject({ stepSeconds: 5, episodeSteps: 120 });
  });

  it("expands { count, start } seeds and defaults start to 0", () => {
    expect(scenarioSchema.parse({ ...minimal, seeds: { count: 3, start: 10 } }).seeds).toEqual([10, 11, 12]);
    expect(scenarioSchema.parse({ ...minimal, seeds: { count: 2 } }).seeds).toEqual([0, 1]);
  });

  it("refuses steps together with durationS, and a duration that is not a whole number of steps", () => {
    expect(scenarioSchema.safeParse({ ...minimal, steps: 10, durationS: 100 }).success).toBe(false);
    expect(scenarioSchema.safeParse({ ...minimal, durationS: 105 }).success).toBe(false);
  });

  it("refuses duplicate seeds", () => {
    expect(scenarioSchema.safeParse({ ...minimal, seeds: [1, 2, 1] }).success).toBe(false);
  });

  it("refuses sim.stepSeconds: timing is stated once, at the top", () => {
    expect(scenarioSchema.safeParse({ ...minimal, sim: { stepSeconds: 5 } }).success).toBe(false);
  });

  it("narrows guard.fallback to noop and the registry's names", () => {
    expect(scenarioSchema.parse({ ...minimal, guard: { fallback: "hpa" } }).guard.fallback).toBe("hpa");
    expect(scenarioSchema.safeParse({ ...minimal, guard: { fallback: "rl2" } }).success).toBe(false);
  });

  it("refuses guard replica limits outside the simulated deployment's", () => {
    expect(scenarioSchema.safeParse({ ...minimal, guard: { maxReplicas: 20 } }).success).toBe(false);
    expect(scenarioSchema.safeParse({ ...minimal, sim: { minReplicas: 2 }, guard: { minReplicas: 1 } }).success).toBe(
      false,
    );
  });

  it("requires a cluster section for the cluster backend, and only there", () => {
    expect(scenarioSchema.safeParse({ ...minimal, backend: "cluster" }).success).toBe(false);
    const cluster = {
      namespace: "demo",
      deployment: "web",
      service: "web",
      prometheusUrl: "http://prometheus.monitoring:9090",
      allowedNamespaces: ["demo"],
    };
    expect(scenarioSchema.safeParse({ ...minimal, cluster }).success).toBe(false);
    const c = scenarioSchema.parse({ ...minimal, backend: "cluster", cluster });
    expect(c.cluster).toEqual({ ...cluster, scrapeIntervalS: 15, dryRun: false });
  });

  it("checks the cluster section's names, URL and allow-list", () => {
    const base = {
      namespace: "demo",
      deployment: "web",
      service: "web",
      prometheusUrl: "http://prometheus:9090",
      allowedNamespaces: ["demo"],
    };
    const issues = (cluster: object) =>
      scenarioSchema.safeParse({ ...minimal, backend: "cluster", cluster }).error?.issues.map((i) => i.path.join("."));
    expect(issues({ ...base, namespace: "Demo_NS" })).toEqual(["cluster.namespace"]);
    expect(issues({ ...base, prometheusUrl: "not a url" })).toEqual(["cluster.prometheusUrl"]);
    expect(issues({ ...base, allowedNamespaces: [] })).toEqual(["cluster.allowedNamespaces"]);
    expect(issues({ ...base, routingLabel: "bad key!" })).toEqual(["cluster.routingLabel"]);
    expect(issues({ namespaces: ["demo"] })).toContain("cluster");
  });

  it("normalises every fault axis entry to a labelled list of specs", () => {
    const s = scenarioSchema.parse({
      ...minimal,
      matrix: {
        ...minimal.matrix,
        fault: [
          "pod-kill",
          { type: "load-spike", factor: 3 },
          { name: "kill-or-stress", faults: ["pod-kill", { type: "cpu-stress", load: 0.9 }] },
          { name: "kill-and-spike", faults: ["pod-kill", "load-spike"], inject: "all" },
        ],
      },
    });
    expect(s.matrix.fault).toEqual([
      { label: "pod-kill", faults: [{ type: "pod-kill" }], inject: "one" },
      { label: "load-spike", faults: [{ type: "load-spike", factor: 3, durationS: 300 }], inject: "one" },
      {
        label: "kill-or-stress",
        faults: [{ type: "pod-kill" }, { type: "cpu-stress", load: 0.9, durationS: 180 }],
        inject: "one",
      },
      {
        label: "kill-and-spike",
        faults: [{ type: "pod-kill" }, { type: "load-spike", factor: 2, durationS: 300 }],
        inject: "all",
      },
    ]);
  });

  it("refuses an inject mode other than one or all", () => {
    const r = scenarioSchema.safeParse({
      ...minimal,
      matrix: { ...minimal.matrix, fault: [{ name: "x", faults: ["pod-kill"], inject: "both" }] },
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('"inject"');
  });

  it("refuses two fault entries with the same label", () => {
    const r = scenarioSchema.safeParse({
      ...minimal,
      matrix: { ...minimal.matrix, fault: ["cpu-stress", { type: "cpu-stress", load: 0.9 }] },
    });
    expect(r.success).toBe(false);
  });

  it("applies each policy's parameter defaults and allows one policy twice under distinct labels", () => {
    const s = scenarioSchema.parse({
      ...minimal,
      matrix: {
        ...minimal.matrix,
        policy: ["random", { name: "random", label: "random-rare", params: { actProb: 0.1 } }],
      },
    });
    expect(s.matrix.policy).toEqual([
      { label: "random", name: "random", params: { actProb: 1 } },
      { label: "random-rare", name: "random", params: { actProb: 0.1 } },
    ]);
  });

  it("refuses unknown policy parameters (strict params schemas)", () => {
    const r = scenarioSchema.safeParse({
      ...minimal,
      matrix: { ...minimal.matrix, policy: [{ name: "random", params: { actprob: 0.1 } }] },
    });
    expect(r.success).toBe(false);
  });
});
