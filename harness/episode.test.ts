import { describe, expect, it } from "vitest";
import { runPlannedEpisode } from "./episode.ts";
import { expandPlan } from "./plan.ts";
import { parseScenario } from "./scenario-file.ts";

const text = `
name: crn
steps: 120
seeds: [7]
workload: { pattern: random-walk, baseRps: 150 }
matrix:
  fault:
    - { name: mixed, faults: [pod-kill, cpu-stress, load-spike, network-delay] }
  frequency:
    busy: { kind: poisson, meanIntervalS: 90 }
  policy: [none, random, heuristic, hpa]
`;

function scenario() {
  const r = parseScenario(text, "crn.yaml");
  if (!r.success) throw new Error(JSON.stringify(r.errors));
  return r.data.scenario;
}

/** The bytes of one column (the columns of a trace share one buffer). */
function bytes(col: Float64Array): Buffer {
  return Buffer.from(col.buffer, col.byteOffset, col.byteLength);
}

describe("common random numbers", () => {
  it("in one cell every policy faces identical injection times, fault types, target keys and request rates", async () => {
    const s = scenario();
    const outcomes = await Promise.all(expandPlan(s).map((e) => runPlannedEpisode(s, e)));
    expect(outcomes.map((o) => o.status)).toEqual(["completed", "completed", "completed", "completed"]);

    // Every scheduled fault is acted on at the same time, injected or (with no running pod
    // to hit) skipped.
    const acted = new Set(["fault-injected", "fault-skipped", "fault-unreached"]);
    const injections = outcomes.map((o) =>
      o.trace.events.filter((e) => acted.has(e.kind)).map((e) => `${e.time}:${e.faultId}`),
    );
    expect(injections[0]!.length).toBeGreaterThan(3);
    for (const i of injections) expect(i).toEqual(injections[0]);

    const rates = outcomes.map((o) => bytes(o.trace.columns.request_rate).toString("base64"));
    for (const r of rates) expect(r).toBe(rates[0]);

    // The policies did act differently, so the equality above is not vacuous.
    const actions = outcomes.map((o) => o.trace.columns.executed.reduce((n, a) => n + (a !== 0 ? 1 : 0), 0));
    expect(new Set(actions).size).toBeGreaterThan(1);
  });

  it("the same episode twice gives the same trace, bit for bit", async () => {
    const s = scenario();
    const e = expandPlan(s)[1]!; // random: the one that depends on its own seeded stream
    const [a, b] = [await runPlannedEpisode(s, e), await runPlannedEpisode(s, e)];
    for (const [name, col] of Object.entries(a.trace.columns)) {
      expect(bytes(col).equals(bytes(b.trace.columns[name as keyof typeof a.trace.columns])), name).toBe(true);
    }
    expect(a.trace.events).toEqual(b.trace.events);
  });

  it("a policy that cannot be built fails its episode with the error kept, not the run", async () => {
    const s = scenario();
    const e = expandPlan(s)[0]!;
    const broken = { ...e, policy: { ...e.policy, params: { nope: 1 } } };
    const o = await runPlannedEpisode(s, broken);
    expect(o.status).toBe("failed");
    expect(o.error).toMatch(/nope|Unrecognized/);
  });
});
