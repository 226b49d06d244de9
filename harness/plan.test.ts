import { describe, expect, it } from "vitest";
import { missingShards, parseShard } from "./core/runs.ts";
import { expandPlan, planSha256, shardOf } from "./plan.ts";
import { parseScenario } from "./scenario-file.ts";

const text = `
name: t
seeds: [1, 2, 3]
matrix:
  fault: [pod-kill, cpu-stress]
  frequency:
    steady: { kind: fixed, intervalS: 300 }
  policy: [none, heuristic, { name: hpa, label: hpa70, params: { targetCpu: 0.7 } }]
`;

function scenario() {
  const r = parseScenario(text, "t.yaml");
  if (!r.success) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

describe("expandPlan", () => {
  it("nests fault > frequency > seed > policy, so the policies of one paired comparison are adjacent", () => {
    const plan = expandPlan(scenario().scenario);
    expect(plan).toHaveLength(2 * 1 * 3 * 3);
    expect(plan.slice(0, 4).map((e) => e.key)).toEqual([
      "pod-kill|steady|none|1",
      "pod-kill|steady|heuristic|1",
      "pod-kill|steady|hpa70|1",
      "pod-kill|steady|none|2",
    ]);
    expect(new Set(plan.map((e) => e.key)).size).toBe(plan.length);
    expect(plan.map((e) => e.index)).toEqual(plan.map((_, i) => i));
  });

  it("narrows to the seeds and policy labels asked for, and names an unknown one", () => {
    const plan = expandPlan(scenario().scenario, { seeds: [2], policies: ["hpa70"] });
    expect(plan.map((e) => e.key)).toEqual(["pod-kill|steady|hpa70|2", "cpu-stress|steady|hpa70|2"]);
    expect(() => expandPlan(scenario().scenario, { seeds: [9] })).toThrow(
      /Expected seed 9 to be one of the scenario.s: 1, 2, 3/,
    );
    expect(() => expandPlan(scenario().scenario, { policies: ["hpa"] })).toThrow(/none, heuristic, hpa70/);
  });

  it("hashes the plan: same scenario and narrowing, same hash; another narrowing, another hash", () => {
    const s = scenario();
    const a = planSha256(s.sha256, expandPlan(s.scenario));
    expect(planSha256(s.sha256, expandPlan(s.scenario))).toBe(a);
    expect(planSha256(s.sha256, expandPlan(s.scenario, { seeds: [1, 2] }))).not.toBe(a);
  });
});

describe("shards", () => {
  it("parses i/N and refuses anything else with the expected form", () => {
    expect(parseShard("2/4")).toEqual({ index: 2, count: 4 });
    for (const bad of ["0/4", "5/4", "1", "a/b", "1/0"])
      expect(() => parseShard(bad)).toThrow(/Expected --shard as i\/N/);
  });

  it("names the shards a stored shard list lacks, and none for a whole run", () => {
    expect(missingShards("1/4,3/4")).toEqual(["2/4", "4/4"]);
    expect(missingShards("2/2")).toEqual(["1/2"]);
    expect(missingShards(null)).toEqual([]);
  });

  it("splits the plan into disjoint slices that cover it, each a deterministic function of the plan", () => {
    const plan = expandPlan(scenario().scenario);
    const slices = [1, 2, 3, 4].map((index) => shardOf(plan, { index, count: 4 }));
    expect(
      slices
        .flat()
        .map((e) => e.index)
        .sort((a, b) => a - b),
    ).toEqual(plan.map((e) => e.index));
    expect(slices.map((s) => s.length)).toEqual([5, 5, 4, 4]);
    expect(shardOf(plan, { index: 3, count: 4 })).toEqual(slices[2]);
    expect(shardOf(plan, null)).toEqual(plan);
  });
});
