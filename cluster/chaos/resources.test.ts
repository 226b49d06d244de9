import { describe, expect, it } from "vitest";
import { type FaultSpec, faultSpecSchema } from "../../harness/core/contract.ts";
import {
  CHAOS_LABELS,
  type ChaosContextInput,
  ChaosSpecError,
  chaosResource,
  cpuStressors,
  FAULT_SPEC_ANNOTATION,
  faultObject,
  goDuration,
  LOAD_ENV,
  loadSpikePatch,
  memoryStressors,
  runSelector,
} from "./resources.ts";

const ctx: ChaosContextInput = {
  namespace: "chaos-rl",
  target: { pod: "demo-7d9f8b6c5-x2x4q" },
  container: "demo",
  runId: "r-20261202-abc",
  episode: 3,
  faultId: 1,
  durationS: 600,
  name: "r-20261202-abc-e3-f1",
  resources: { cpuLimitCores: 0.5, memoryLimitBytes: 256 * 1048576 },
  nowUnixS: 1_780_000_000,
};

const spec = (input: unknown): FaultSpec => faultSpecSchema.parse(input);

describe("chaosResource", () => {
  it("pod-kill is a PodChaos on the named pod, deleted at once, with run labels and a duration", () => {
    const r = chaosResource(spec({ type: "pod-kill" }), ctx);
    expect(r.kind).toBe("PodChaos");
    expect(r.spec).toEqual({
      action: "pod-kill",
      mode: "one",
      gracePeriod: 0,
      selector: { pods: { "chaos-rl": ["demo-7d9f8b6c5-x2x4q"] } },
      duration: "600s",
    });
    expect(r.metadata.labels).toEqual({
      [CHAOS_LABELS.run]: "r-20261202-abc",
      [CHAOS_LABELS.episode]: "3",
      [CHAOS_LABELS.fault]: "1",
      [CHAOS_LABELS.faultType]: "pod-kill",
      [CHAOS_LABELS.managedBy]: "chaos-rl-harness",
    });
    expect(JSON.parse(r.metadata.annotations[FAULT_SPEC_ANNOTATION]!)).toEqual({ type: "pod-kill" });
  });

  it("pod-failure lasts the smaller of its own duration and the context's", () => {
    expect(chaosResource(spec({ type: "pod-failure", durationS: 120 }), ctx).spec.duration).toBe("120s");
    expect(
      chaosResource(spec({ type: "pod-failure", durationS: 120 }), { ...ctx, durationS: 45.5 }).spec.duration,
    ).toBe("45500ms");
  });

  it("cpu-stress loads its share of the CPU limit, split over workers past one core", () => {
    const r = chaosResource(spec({ type: "cpu-stress", load: 0.6, durationS: 180 }), ctx);
    expect(r.kind === "StressChaos" && r.spec.stressors).toEqual({ cpu: { workers: 1, load: 30 } });
    expect(r.kind === "StressChaos" && r.spec.containerNames).toEqual(["demo"]);
    expect(cpuStressors(0.9, 2)).toEqual({ workers: 2, load: 90 });
    expect(cpuStressors(0.75, 4)).toEqual({ workers: 3, load: 100 });
    expect(cpuStressors(0.01, 0.1)).toEqual({ workers: 1, load: 1 });
  });

  it("memory-leak grows to the memory limit in 60 / ratePerMin seconds and spares the stressor from the OOM killer", () => {
    const r = chaosResource(spec({ type: "memory-leak", ratePerMin: 0.1 }), ctx);
    expect(r.kind === "StressChaos" && r.spec.stressors).toEqual({
      memory: { workers: 1, size: "256MiB", oomScoreAdj: -1000, options: ["--time", "600s"] },
    });
    expect(r.spec.duration).toBe("600s");
    expect(memoryStressors(0.25, 100 * 1048576 + 1).size).toBe("101MiB");
  });

  it("network-delay delays the pod's egress by delayMs", () => {
    const r = chaosResource(spec({ type: "network-delay", delayMs: 300, durationS: 90 }), ctx);
    expect(r.kind).toBe("NetworkChaos");
    expect(r.kind === "NetworkChaos" && r.spec).toMatchObject({
      action: "delay",
      direction: "to",
      delay: { latency: "300ms" },
      duration: "90s",
    });
  });

  it("a label target lets Chaos Mesh pick one pod of the deployment", () => {
    const r = chaosResource(spec({ type: "pod-kill" }), { ...ctx, target: { labels: { app: "demo" } } });
    expect(r.spec.selector).toEqual({ namespaces: ["chaos-rl"], labelSelectors: { app: "demo" } });
  });

  it("refuses a context it cannot turn into a valid object, saying where", () => {
    expect(() => chaosResource(spec({ type: "pod-kill" }), { ...ctx, name: "Bad_Name" })).toThrow(/→ at name/);
    expect(() => chaosResource(spec({ type: "pod-kill" }), { ...ctx, runId: "run id with spaces" })).toThrow(
      /→ at runId/,
    );
    expect(() => chaosResource(spec({ type: "pod-kill" }), { ...ctx, durationS: 0 })).toThrow(ChaosSpecError);
    const { resources: _, ...bare } = ctx;
    expect(() => chaosResource(spec({ type: "cpu-stress" }), bare)).toThrow(/context.resources/);
    expect(() => chaosResource(spec({ type: "load-spike" }), ctx)).toThrow(/loadSpikePatch/);
  });
});

describe("load-spike", () => {
  it("patches the load generator's env with the factor and its own end, and reverts to factor 1", () => {
    const obj = faultObject(spec({ type: "load-spike", factor: 3, durationS: 300 }), ctx);
    expect(obj.type).toBe("load-patch");
    if (obj.type !== "load-patch") return;
    expect(obj.patch).toMatchObject({ kind: "Deployment", name: "loadgen", namespace: "chaos-rl" });
    expect(obj.patch.patch.spec.template.spec.containers).toEqual([
      {
        name: "loadgen",
        env: [
          { name: LOAD_ENV.factor, value: "3" },
          { name: LOAD_ENV.until, value: String(1_780_000_000 + 300) },
        ],
      },
    ]);
    expect(obj.patch.patch.metadata.labels[CHAOS_LABELS.run]).toBe("r-20261202-abc");
    expect(obj.revert.patch.spec.template.spec.containers[0]!.env).toEqual([
      { name: LOAD_ENV.factor, value: "1" },
      { name: LOAD_ENV.until, value: "" },
    ]);
    expect(obj.revert.patch.metadata.labels[CHAOS_LABELS.run]).toBeNull();
  });

  it("needs the injection time", () => {
    const { nowUnixS: _, ...noClock } = ctx;
    expect(() => loadSpikePatch(spec({ type: "load-spike" }) as never, noClock)).toThrow(/nowUnixS/);
  });
});

describe("helpers", () => {
  it("goDuration writes what Go's time.ParseDuration reads", () => {
    expect(goDuration(120)).toBe("120s");
    expect(goDuration(0.0001)).toBe("1ms");
    expect(() => goDuration(Number.NaN)).toThrow(ChaosSpecError);
  });

  it("runSelector selects a run, an episode of it, or every run", () => {
    expect(runSelector("r1")).toBe("chaos-rl/run=r1");
    expect(runSelector("r1", 2)).toBe("chaos-rl/run=r1,chaos-rl/episode=2");
    expect(runSelector()).toBe("chaos-rl/run");
  });
});
