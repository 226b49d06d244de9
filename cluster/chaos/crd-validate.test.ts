/**
 * Every Chaos Mesh object the project writes, generated (every fault type, both kinds of
 * target, edge strengths) or by hand (`cluster/chaos/*.yaml`), against the real CRD schemas.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FAULT_TYPES, type FaultSpec, faultSpecSchema } from "../../harness/core/contract.ts";
import { assertValidChaosObject, strictSchema, validateChaosObject } from "./crd-validate.ts";
import { type ChaosContextInput, type ChaosResource, chaosResource, faultObject, LOAD_ENV } from "./resources.ts";

const dir = import.meta.dirname;

const base: ChaosContextInput = {
  namespace: "chaos-rl",
  target: { pod: "demo-7d9f8b6c5-x2x4q" },
  container: "demo",
  runId: "01JDX4ZKQ7",
  episode: 12,
  faultId: 4,
  durationS: 300,
  name: "01jdx4zkq7-e12-f4",
  resources: { cpuLimitCores: 0.5, memoryLimitBytes: 256 * 1048576 },
  nowUnixS: 1_780_000_000,
};

/** The context the hand-written examples were made with (see each file's header). */
const exampleContext = (type: string): ChaosContextInput => ({
  namespace: "chaos-rl",
  target: { labels: { app: "demo" } },
  container: "demo",
  runId: "by-hand",
  episode: 0,
  durationS: 600,
  name: `demo-${type}`,
  resources: { cpuLimitCores: 0.5, memoryLimitBytes: 256 * 1048576 },
  nowUnixS: 0,
});

const podFaults = FAULT_TYPES.filter((t) => t !== "load-spike");

function generated(type: string, ctx: ChaosContextInput = base): ChaosResource {
  return chaosResource(faultSpecSchema.parse({ type }), ctx);
}

describe("generated objects are valid for the CRDs", () => {
  for (const type of podFaults) {
    it(`${type}, on a named pod and on labels`, () => {
      assertValidChaosObject(generated(type), type);
      assertValidChaosObject(generated(type, { ...base, target: { labels: { app: "demo", tier: "web" } } }), type);
      const { container: _, ...noContainer } = base;
      assertValidChaosObject(generated(type, noContainer), type);
    });
  }

  it("for any valid fault spec and context (property)", () => {
    const specs = fc.oneof(
      fc.record({ type: fc.constant("pod-kill") }),
      fc.record({ type: fc.constant("pod-failure"), durationS: fc.double({ min: 0.001, max: 1e5, noNaN: true }) }),
      fc.record({
        type: fc.constant("cpu-stress"),
        durationS: fc.double({ min: 0.001, max: 1e5, noNaN: true }),
        load: fc.double({ min: 0.001, max: 1, noNaN: true }),
      }),
      fc.record({ type: fc.constant("memory-leak"), ratePerMin: fc.double({ min: 0.001, max: 1, noNaN: true }) }),
      fc.record({
        type: fc.constant("network-delay"),
        durationS: fc.double({ min: 0.001, max: 1e5, noNaN: true }),
        delayMs: fc.double({ min: 0.001, max: 1e6, noNaN: true }),
      }),
    );
    fc.assert(
      fc.property(
        specs,
        fc.double({ min: 0.001, max: 1e6, noNaN: true }),
        fc.double({ min: 0.01, max: 64, noNaN: true }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (spec, durationS, cpuLimitCores, memoryLimitBytes) => {
          const r = chaosResource(faultSpecSchema.parse(spec) as FaultSpec, {
            ...base,
            durationS,
            resources: { cpuLimitCores, memoryLimitBytes },
          });
          expect(validateChaosObject(r)).toEqual({ ok: true });
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});

describe("the hand-written examples (cluster/chaos/*.yaml)", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));

  it("there is one per fault type", () => {
    expect(files.map((f) => f.replace(/\.yaml$/, "")).sort()).toEqual([...FAULT_TYPES].sort());
  });

  for (const type of podFaults) {
    it(`${type}.yaml is valid for its CRD and is what the harness writes for the same context`, () => {
      const obj = parse(readFileSync(join(dir, `${type}.yaml`), "utf8"));
      assertValidChaosObject(obj, `${type}.yaml`);
      const spec = JSON.parse(obj.metadata.annotations["chaos-rl/fault-spec"]);
      expect(obj).toEqual(chaosResource(faultSpecSchema.parse(spec), exampleContext(type)));
    });
  }

  it("load-spike.yaml is the harness's patch, with no end of its own", () => {
    const patch = parse(readFileSync(join(dir, "load-spike.yaml"), "utf8"));
    const spec = faultSpecSchema.parse(JSON.parse(patch.metadata.annotations["chaos-rl/fault-spec"]));
    const obj = faultObject(spec, exampleContext("load-spike"));
    if (obj.type !== "load-patch") throw new Error("expected a load patch");
    const expected = structuredClone(obj.patch.patch);
    const until = expected.spec.template.spec.containers[0]!.env.find((e) => e.name === LOAD_ENV.until)!;
    until.value = "";
    expect(patch).toEqual(expected);
  });
});

describe("broken objects are refused, with the path", () => {
  const issues = (obj: unknown) => {
    const r = validateChaosObject(obj);
    return r.ok ? [] : r.issues;
  };

  it("a CPU load over 100% of a CPU", () => {
    const r = generated("cpu-stress") as Extract<ChaosResource, { kind: "StressChaos" }>;
    r.spec.stressors.cpu!.load = 150;
    expect(issues(r)).toEqual([{ path: "/spec/stressors/cpu/load", message: "must be <= 100" }]);
  });

  it("a latency without a unit", () => {
    const r = generated("network-delay") as Extract<ChaosResource, { kind: "NetworkChaos" }>;
    r.spec.delay.latency = "300";
    expect(issues(r)).toEqual([
      { path: "/spec/delay/latency", message: 'must match pattern "^[0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h)$"' },
    ]);
  });

  it("an unknown action and a missing mode", () => {
    const r = generated("pod-kill") as unknown as { spec: Record<string, unknown> };
    r.spec.action = "pod-explode";
    delete r.spec.mode;
    const found = issues(r);
    expect(found).toContainEqual({ path: "/spec/mode", message: "required field missing" });
    expect(found.map((i) => i.path)).toContain("/spec/action");
  });

  it("a field the CRD does not have (the memory stressor's documented `time`), which the server would drop", () => {
    const r = generated("memory-leak") as unknown as { spec: { stressors: { memory: Record<string, unknown> } } };
    r.spec.stressors.memory.time = "10m";
    expect(issues(r)).toEqual([
      { path: "/spec/stressors/memory/time", message: "unknown field (the API server would drop it)" },
    ]);
    // Without strict field validation the schema alone accepts it: that is the silent drop.
    expect(validateChaosObject(r, { strict: false })).toEqual({ ok: true });
  });

  it("containerNames on a NetworkChaos (it acts on the pod's network, not a container)", () => {
    const r = generated("network-delay") as unknown as { spec: Record<string, unknown> };
    r.spec.containerNames = ["demo"];
    expect(issues(r)).toEqual([
      { path: "/spec/containerNames", message: "unknown field (the API server would drop it)" },
    ]);
  });

  it("a wrong apiVersion, an unknown kind, a missing name", () => {
    const r = generated("pod-failure") as unknown as { apiVersion: string; metadata: Record<string, unknown> };
    r.apiVersion = "chaos-mesh.org/v1";
    delete r.metadata.name;
    expect(issues(r)).toEqual([
      { path: "/apiVersion", message: "expected chaos-mesh.org/v1alpha1" },
      { path: "/metadata/name", message: "required field missing" },
    ]);
    expect(issues({ ...r, kind: "HTTPChaos" })).toEqual([
      { path: "/kind", message: "expected one of PodChaos, StressChaos, NetworkChaos" },
    ]);
  });
});

describe("strictSchema", () => {
  it("closes objects with declared properties and leaves maps, metadata and enums alone", () => {
    expect(
      strictSchema({
        type: "object",
        properties: {
          metadata: { type: "object" },
          labels: { type: "object", additionalProperties: { type: "string" } },
          raw: { type: "object", properties: { a: {} }, "x-kubernetes-preserve-unknown-fields": true },
          mode: { enum: [{ properties: {} }] },
        },
      }),
    ).toEqual({
      type: "object",
      additionalProperties: false,
      properties: {
        metadata: { type: "object" },
        labels: { type: "object", additionalProperties: { type: "string" } },
        raw: { type: "object", properties: { a: {} }, "x-kubernetes-preserve-unknown-fields": true },
        mode: { enum: [{ properties: {} }] },
      },
    });
  });
});
