import { describe, expect, it } from "vitest";
import { Estimator } from "./estimator.ts";
import { evaluateGate } from "./gate-eval.ts";
import { checkGateNames, compileGate, type GateNames, parseGate } from "./gates.ts";
import type { EpisodeRow } from "./metrics.ts";

const NAMES: GateNames = {
  mode: "report",
  policies: ["none", "hpa", "rl"],
  faults: ["pod-kill", "cpu-stress"],
  frequencies: ["low", "high"],
};

function ok(text: string) {
  const r = compileGate(text, NAMES);
  if (!r.success) throw new Error(r.issue.message);
  return r.gate;
}

function issue(text: string, names = NAMES) {
  const r = compileGate(text, names);
  if (r.success) throw new Error(`expected ${text} to be refused`);
  return r.issue;
}

describe("parseGate", () => {
  it("parses the issue's examples", () => {
    expect(ok("rl.uptime >= 0.99")).toMatchObject({
      op: ">=",
      left: { kind: "ref", ref: { subject: { kind: "arm", arm: { name: "rl" } }, metric: "uptime", stat: "mean" } },
      right: { kind: "num", value: 0.99 },
    });
    expect(ok("rl.mttr <= heuristic.mttr".replace("heuristic", "hpa")).right).toMatchObject({
      kind: "ref",
      ref: { metric: "mttr", text: "hpa.mttr" },
    });
    expect(ok("paired(rl, hpa).mttr.upper < 0").left).toMatchObject({
      kind: "ref",
      ref: { subject: { kind: "paired", a: { name: "rl" }, b: { name: "hpa" } }, stat: "upper" },
    });
  });

  it("takes a fault (and frequency) filter before or after the statistic, and percentages", () => {
    const g = ok("rl.uptime[pod-kill, high].lower >= 99%");
    expect(g.left).toMatchObject({ ref: { filter: { fault: "pod-kill", frequency: "high" }, stat: "lower" } });
    expect(g.right).toEqual({ kind: "num", value: 0.99 });
    expect(ok("rl.uptime.lower[frequency=low] >= 0.9").left).toMatchObject({
      ref: { filter: { frequency: "low" }, stat: "lower" },
    });
  });

  it("honours arithmetic precedence and parentheses", () => {
    const g = ok("rl.cost <= (hpa.cost + 100) * 1.1 - -5");
    expect(g.right).toMatchObject({ kind: "bin", op: "-", left: { kind: "bin", op: "*" }, right: { kind: "neg" } });
  });

  it("says where a syntax error is", () => {
    expect(parseGate("rl.uptime")).toEqual({
      success: false,
      issue: {
        message: 'Expected a comparison (<= < >= > == !=) after "rl.uptime", got the end of the gate',
        offset: 9,
      },
    });
    expect(parseGate("rl >= 1")).toMatchObject({ success: false, issue: { offset: 3 } });
    expect(parseGate("rl.uptime >= 1 >= 2")).toMatchObject({ success: false, issue: { offset: 15 } });
    expect(parseGate("rl.uptime.median >= 1")).toMatchObject({
      success: false,
      issue: { message: 'Unknown statistic "median"; expected one of mean, lower, upper, n, p' },
    });
    expect(parseGate("rl.uptime >= 1 ; drop")).toMatchObject({ success: false, issue: { offset: 15 } });
  });
});

describe("checkGateNames", () => {
  it("refuses an unknown policy, metric, fault or frequency, naming what exists", () => {
    expect(issue("nosuch.uptime >= 0.5")).toEqual({
      message: 'Unknown policy "nosuch"; the matrix has none, hpa, rl',
      offset: 0,
    });
    expect(issue("rl.uptme >= 0.5").message).toMatch(
      /^Unknown metric "uptme" in rl\.uptme; expected one of uptime, mttr/,
    );
    expect(issue("rl.uptime[pod-crash] >= 0.5").message).toBe(
      'Unknown fault "pod-crash" in rl.uptime[pod-crash]; the matrix has pod-kill, cpu-stress',
    );
    expect(issue("rl.uptime[pod-kill, weekly] >= 0.5").message).toMatch(/^Unknown frequency "weekly"/);
    // Points at the unknown name itself.
    expect(issue("rl.mttr >= paired(rl, nope).mttr").offset).toBe("rl.mttr >= paired(rl, ".length);
  });

  it("hints at spaces when a minus sign was glued to a metric", () => {
    expect(issue("rl.mttr <= hpa.mttr-5").message).toMatch(/put spaces around "-"/);
  });

  it("allows p only on paired differences", () => {
    expect(issue("rl.uptime.p < 0.05").message).toBe(
      "rl.uptime.p: the p-value exists only for paired(a, b) differences",
    );
    expect(compileGate("paired(rl, hpa).uptime.p < 0.05", NAMES).success).toBe(true);
  });

  it("speaks of candidate and baseline in a comparison of two runs, and of policies in a report", () => {
    const compare: GateNames = { ...NAMES, mode: "compare" };
    expect(compileGate("candidate.mttr <= baseline.mttr * 1.05", compare).success).toBe(true);
    expect(compileGate("candidate(rl).uptime >= baseline(rl).uptime", compare).success).toBe(true);
    expect(issue("rl.mttr <= 5", compare).message).toMatch(/^Expected candidate or baseline/);
    expect(issue("candidate(x).mttr <= 5", compare).message).toBe('Unknown policy "x"; both runs have none, hpa, rl');
    expect(issue("candidate.mttr <= 5").message).toBe('Unknown policy "candidate"; the matrix has none, hpa, rl');
    const parsed = parseGate("rl.uptime >= 0");
    expect(parsed.success && checkGateNames(parsed.gate, NAMES)).toBe(null);
  });
});

/** Two policies over one cell and four seeds; rl's uptime is none's + 0.1. */
function episodes(): EpisodeRow[] {
  const base = {
    runId: "r",
    fault: "pod-kill",
    frequency: "low",
    replicaSeconds: 300,
    incidents: 1,
    closedIncidents: 1,
    censoredIncidents: 0,
    observedTtrSTotal: 0,
    unattributedDowntimeS: 0,
    faults: 1,
    absorbedFaults: 0,
    recoveredFaults: 1,
    faultTtrSTotal: 0,
    actions: 0,
    harmfulActions: 0,
    restarts: 0,
    scaleUps: 0,
    scaleDowns: 0,
    drains: 0,
    unnecessaryActions: 0,
    refused: 0,
    flaps: 0,
    regressions: 0,
    return: 0,
    breached: 0,
    noReady: 0,
    latencyOver: 0,
    errorsOver: 0,
  };
  const ups = [0.5, 0.6, 0.7, 0.8];
  return ["none", "rl"].flatMap((policy, p) =>
    ups.map((u, i) => ({
      ...base,
      episodeId: p * 10 + i,
      policy,
      seed: i,
      uptime: u + 0.1 * p,
      ttrSTotal: policy === "rl" ? 10 : 30,
    })),
  );
}

describe("evaluateGate", () => {
  const est = new Estimator(episodes(), { resamples: 200 });
  const ctx = {
    estimator: est,
    policies: null,
    resolve: (arm: { name: string }) => ({ runId: "r", policy: arm.name }),
  };
  const names: GateNames = { mode: "report", policies: ["none", "rl"], faults: ["pod-kill"], frequencies: ["low"] };
  const gate = (text: string) => {
    const r = compileGate(text, names);
    if (!r.success) throw new Error(r.issue.message);
    return evaluateGate(r.gate, "here", ctx);
  };

  it("passes and fails on the measured values, reporting each side and n", () => {
    const pass = gate("rl.uptime >= none.uptime + 0.1 - 0.0001");
    expect(pass.pass).toBe(true);
    expect(pass.outcomes[0]!.left).toBeCloseTo(0.75, 12);
    expect(pass.outcomes[0]!.refs).toMatchObject([
      { text: "rl.uptime", n: 4 },
      { text: "none.uptime", n: 4 },
    ]);
    expect(gate("rl.mttr > none.mttr").pass).toBe(false);
    expect(gate("paired(rl, none).mttr.upper < 0").pass).toBe(true);
    expect(gate("paired(rl, none).uptime.n == 4").pass).toBe(true);
    // Four pairs, all the same sign: the exact p-value is 2/16.
    expect(gate("paired(rl, none).uptime.p == 0.125").pass).toBe(true);
  });

  it("fails a gate it cannot measure, saying why", () => {
    const r = gate("rl.uptime[frequency=low] >= 1 / (none.cost - 300)");
    expect(r.pass).toBe(false);
    expect(r.outcomes[0]!.reason).toBe("division by zero");
  });

  it("expands an arm without a policy over every policy of both runs (compare)", () => {
    const both: EpisodeRow[] = [
      ...episodes().map((e) => ({ ...e, runId: "baseline" })),
      ...episodes().map((e) => ({ ...e, runId: "candidate", uptime: e.policy === "rl" ? e.uptime! - 0.2 : e.uptime })),
    ];
    const compare = { ...names, mode: "compare" as const };
    const r = compileGate("candidate.uptime >= baseline.uptime - 0.01", compare);
    if (!r.success) throw new Error(r.issue.message);
    const result = evaluateGate(r.gate, "--gate #1", {
      estimator: new Estimator(both, { resamples: 100 }),
      policies: ["none", "rl"],
      resolve: (arm, policy) => ({ runId: arm.name, policy: (arm.policy ?? policy)! }),
    });
    expect(result.outcomes.map((o) => [o.policy, o.pass])).toEqual([
      ["none", true],
      ["rl", false],
    ]);
    expect(result.outcomes[1]!.refs[0]!.text).toBe("candidate(rl).uptime");
    expect(result.pass).toBe(false);
  });
});
