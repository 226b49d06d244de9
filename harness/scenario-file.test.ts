import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { POLICY_NAMES } from "../policies/index.ts";
import { exitCodeFor } from "./cli-errors.ts";
import { formatIssue, ScenarioError, ScenarioErrorCode, type ScenarioIssue } from "./core/errors.ts";
import {
  loadScenario,
  loadScenarioOrThrow,
  loadScenarioSuite,
  parseScenario,
  parseScenarioSuite,
} from "./scenario-file.ts";

/** A valid file, one entry per line, so tests can name lines by number (index + 1). */
const BASE = [
  "name: t", // 1
  "steps: 50", // 2
  "seeds: [1, 2]", // 3
  "matrix:", // 4
  "  fault:", // 5
  "    - pod-kill", // 6
  "    - type: cpu-stress", // 7
  "      load: 0.5", // 8
  "  frequency:", // 9
  "    low: { kind: fixed, intervalS: 300 }", // 10
  "  policy:", // 11
  "    - none", // 12
  "    - heuristic", // 13
  "    - { name: hpa, params: { targetCpu: 0.5 } }", // 14
  "gates:", // 15
  "  - heuristic.uptime >= none.uptime", // 16
];

/** BASE with line `n` (1-based) replaced by `text` (which may hold several lines). */
function withLine(n: number, text: string): string {
  return BASE.map((l, i) => (i === n - 1 ? text : l)).join("\n");
}

function errorsOf(text: string): readonly ScenarioIssue[] {
  const r = parseScenario(text, "x.yaml");
  if (r.success) throw new Error("expected the scenario to be refused");
  return r.errors;
}

describe("parseScenario: bad files point at the offending line", () => {
  it("an unknown fault type, written as shorthand", () => {
    expect(errorsOf(withLine(6, "    - pod-kil"))).toEqual([
      {
        code: ScenarioErrorCode.InvalidValue,
        path: ["matrix", "fault", 0],
        message:
          'Expected one of pod-kill, pod-failure, cpu-stress, memory-leak, network-delay, load-spike, got "pod-kil"',
        line: 6,
        column: 7,
      },
    ]);
  });

  it("an unknown fault type, written as a spec", () => {
    const [e, ...rest] = errorsOf(withLine(7, "    - type: cpu-stres"));
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ code: ScenarioErrorCode.InvalidValue, path: ["matrix", "fault", 1, "type"], line: 7 });
    expect(e.message).toMatch(/^Expected one of pod-kill, .*, got "cpu-stres"$/);
  });

  it("a negative duration", () => {
    expect(errorsOf(withLine(2, "durationS: -5"))).toEqual([
      {
        code: ScenarioErrorCode.TooSmall,
        path: ["durationS"],
        message: "Expected a number > 0, got -5",
        line: 2,
        column: 12,
      },
    ]);
  });

  it("a negative fault duration inside a spec", () => {
    const errors = errorsOf(withLine(8, "      durationS: -1"));
    expect(errors).toMatchObject([{ path: ["matrix", "fault", 1, "durationS"], line: 8, column: 18 }]);
  });

  it("an unknown policy, as the zod-style one-liner", () => {
    const errors = errorsOf(withLine(13, "    - rnd"));
    expect(errors).toMatchObject([
      { code: ScenarioErrorCode.InvalidValue, path: ["matrix", "policy", 1], line: 13, column: 7 },
    ]);
    expect(formatIssue(errors[0], "scenarios/x.yaml")).toBe(
      '✖ Expected one of none, random, heuristic, hpa, rl, got "rnd" → at matrix.policy[1] (scenarios/x.yaml:13:7)',
    );
  });

  it("an unknown policy in the object form points at its name", () => {
    expect(errorsOf(withLine(14, "    - { name: hpa2 }"))).toMatchObject([
      {
        code: ScenarioErrorCode.InvalidValue,
        path: ["matrix", "policy", 2, "name"],
        message: 'Expected one of none, random, heuristic, hpa, rl, got "hpa2"',
        line: 14,
        column: 15,
      },
    ]);
  });

  it("a policy mapping without a name says which names exist", () => {
    expect(errorsOf(withLine(14, "    - { nam: hpa }"))).toEqual([
      {
        code: ScenarioErrorCode.MissingKey,
        path: ["matrix", "policy", 2, "name"],
        message: "Missing required key (expected one of none, random, heuristic, hpa, rl)",
        line: 14,
        column: 7,
      },
    ]);
  });

  it("an error inside a named fault cell is reported there, not as a missing fault type", () => {
    expect(errorsOf(withLine(6, "    - { name: mix, faults: [pod-kill, pod-kil] }"))).toMatchObject([
      { code: ScenarioErrorCode.InvalidValue, path: ["matrix", "fault", 0, "faults", 1], line: 6, column: 39 },
    ]);
  });

  it("a policy parameter that fails the policy's own schema", () => {
    expect(errorsOf(withLine(14, "    - { name: hpa, params: { targetCpu: 2 } }"))).toMatchObject([
      { code: ScenarioErrorCode.TooBig, path: ["matrix", "policy", 2, "params", "targetCpu"], line: 14, column: 41 },
    ]);
  });

  it("a value of the wrong type", () => {
    expect(errorsOf(withLine(2, 'steps: "fifty"'))).toEqual([
      {
        code: ScenarioErrorCode.InvalidType,
        path: ["steps"],
        message: 'Expected a number, got "fifty" (string)',
        line: 2,
        column: 8,
      },
    ]);
  });

  it("a mapping where a list belongs", () => {
    expect(errorsOf(withLine(3, "seeds: 5"))).toMatchObject([
      {
        code: ScenarioErrorCode.InvalidType,
        path: ["seeds"],
        message: "Expected a list or a mapping, got 5 (number)",
        line: 3,
      },
    ]);
  });

  it("a YAML syntax error", () => {
    const errors = errorsOf(withLine(3, "seeds: [1, 2"));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ code: ScenarioErrorCode.YamlSyntax, path: [], line: 4 });
    expect(errors[0].message).toMatch(/^YAML: /);
  });

  it("a duplicate key is a YAML error on its line", () => {
    expect(errorsOf(withLine(2, "steps: 50\nsteps: 60"))).toMatchObject([
      { code: ScenarioErrorCode.YamlSyntax, line: 3, column: 1 },
    ]);
  });

  it("an unknown key points at the key and suggests the near miss", () => {
    expect(errorsOf(withLine(2, "stepz: 50"))).toEqual([
      {
        code: ScenarioErrorCode.UnknownKey,
        path: ["stepz"],
        message: 'Unknown key "stepz" (did you mean "steps"?)',
        line: 2,
        column: 1,
      },
    ]);
  });

  it("an unknown key inside a nested section", () => {
    expect(errorsOf(withLine(10, "    low: { kind: fixed, intervalS: 300, jitter: 5 }"))).toMatchObject([
      { code: ScenarioErrorCode.UnknownKey, path: ["matrix", "frequency", "low", "jitter"], line: 10, column: 41 },
    ]);
  });

  it("a missing required key points at the parent mapping", () => {
    expect(errorsOf(withLine(3, ""))).toMatchObject([
      { code: ScenarioErrorCode.MissingKey, path: ["seeds"], line: 1, column: 1 },
    ]);
    const noPolicy = BASE.slice(0, 10).join("\n");
    expect(errorsOf(noPolicy)).toMatchObject([
      { code: ScenarioErrorCode.MissingKey, path: ["matrix", "policy"], line: 5, column: 3 },
    ]);
  });

  it("a duplicate policy label points at the second entry", () => {
    expect(errorsOf(withLine(14, "    - { name: hpa, label: heuristic }"))).toMatchObject([
      {
        code: ScenarioErrorCode.DuplicateName,
        path: ["matrix", "policy", 2, "label"],
        message: 'Policy "heuristic" appears twice; give each a distinct label',
        line: 14,
        column: 27,
      },
    ]);
  });

  it("steps together with durationS is a conflict", () => {
    expect(errorsOf(withLine(2, "steps: 50\ndurationS: 500"))).toMatchObject([
      { code: ScenarioErrorCode.Conflict, path: ["durationS"], line: 3 },
    ]);
  });

  it("a badly named frequency level points at the key", () => {
    expect(errorsOf(withLine(10, "    low rate: { kind: fixed, intervalS: 300 }"))).toMatchObject([
      { code: ScenarioErrorCode.InvalidFormat, path: ["matrix", "frequency", "low rate"], line: 10, column: 5 },
    ]);
  });

  it("an alias bomb is refused, not expanded", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 8; i++)
      bomb.push(`${"bcdefghi"[i]}: &${"bcdefghi"[i]} [${Array(10).fill(`*${"abcdefghi"[i]}`).join(", ")}]`);
    expect(errorsOf(bomb.join("\n"))).toMatchObject([{ code: ScenarioErrorCode.YamlSyntax }]);
  });

  it("an empty file", () => {
    expect(errorsOf("")).toMatchObject([{ code: ScenarioErrorCode.InvalidType, line: 1, column: 1 }]);
  });

  it("reports every independent error at once", () => {
    const text = withLine(6, "    - pod-kil").replace("steps: 50", "steps: -1").replace("- none", "- nobody");
    expect(errorsOf(text).map((e) => e.line)).toEqual([2, 6, 12]);
  });
});

describe("parseScenario: valid files", () => {
  it("a full example parses to the normalised scenario, with its text, hash and gate positions", () => {
    const text = [
      "name: full", // 1
      "durationS: 600", // 2
      "stepSeconds: 5", // 3
      "seeds: { count: 3, start: 40 }", // 4
      "workload: { pattern: diurnal }", // 5
      "slo: { latencyMs: 250 }", // 6
      "guard: { mode: approve, fallback: heuristic }", // 7
      "matrix:", // 8
      "  fault:", // 9
      "    - pod-kill", // 10
      "    - { name: mixed, faults: [pod-kill, { type: network-delay, delayMs: 100 }] }", // 11
      "  frequency:", // 12
      "    high: { kind: poisson, meanIntervalS: 120 }", // 13
      "  policy:", // 14
      "    - none", // 15
      "    - { name: random, label: rare, params: { actProb: 0.05 } }", // 16
      "gates:", // 17
      "  - rare.uptime >= none.uptime", // 18
    ].join("\n");
    const r = parseScenario(text, "full.yaml");
    if (!r.success) throw new Error(JSON.stringify(r.errors));
    const { scenario } = r.data;
    expect(scenario).toMatchObject({
      name: "full",
      backend: "sim",
      steps: 120,
      durationS: 600,
      stepSeconds: 5,
      seeds: [40, 41, 42],
      workload: { pattern: "diurnal", baseRps: 150, noise: 0.05, amplitude: 0.3, periodS: 2000 },
      slo: { latencyMs: 250, errorRate: 0.01, confirmWindowS: 30 },
      guard: {
        mode: "approve",
        paused: false,
        minIntervalS: 60,
        minReplicas: 1,
        maxReplicas: 10,
        fallback: "heuristic",
        policyTimeoutMs: 1000,
      },
      matrix: {
        fault: [
          { label: "pod-kill", faults: [{ type: "pod-kill" }] },
          {
            label: "mixed",
            faults: [{ type: "pod-kill" }, { type: "network-delay", delayMs: 100, durationS: 180 }],
          },
        ],
        frequency: [{ label: "high", frequency: { kind: "poisson", meanIntervalS: 120 } }],
        policy: [
          { label: "none", name: "none", params: {} },
          { label: "rare", name: "random", params: { actProb: 0.05 } },
        ],
      },
      gates: ["rare.uptime >= none.uptime"],
    });
    expect(scenario.sim).toMatchObject({ stepSeconds: 5, episodeSteps: 120, initialReplicas: 3, maxReplicas: 10 });
    expect(scenario).not.toHaveProperty("description");
    expect(scenario).not.toHaveProperty("cluster");
    expect(r.data.text).toBe(text);
    expect(r.data.sha256).toBe(createHash("sha256").update(text).digest("hex"));
    expect(r.data.gates).toEqual([{ expr: "rare.uptime >= none.uptime", path: ["gates", 0], line: 18, column: 5 }]);
    expect(r.data.locate(["matrix", "policy", 1, "params", "actProb"])).toEqual({ line: 16, column: 55 });
    expect(r.data.locate(["matrix", "nothing", "here"])).toEqual({ line: 9, column: 3 });
  });

  it("the committed scenarios all parse", async () => {
    const dir = fileURLToPath(new URL("../scenarios", import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
    expect(files).toEqual(expect.arrayContaining(["quickstart.yaml", "ci-smoke.yaml", "full-matrix.yaml"]));
    for (const f of files) {
      // A suite (one scenario per document, e.g. generalization.yaml) parses document by document.
      const r = await loadScenarioSuite(join(dir, f));
      expect(r.success ? [] : r.errors, f).toEqual([]);
      const text = readFileSync(join(dir, f), "utf8");
      expect(text.startsWith("# yaml-language-server: $schema=./scenario.schema.json\n"), f).toBe(true);
    }
  });

  it("full-matrix.yaml is 6 faults x 3 frequencies x every registry policy x 20 seeds x 200 steps", async () => {
    const { scenario } = await loadScenarioOrThrow(
      fileURLToPath(new URL("../scenarios/full-matrix.yaml", import.meta.url)),
    );
    expect(scenario.matrix.fault).toHaveLength(6);
    expect(scenario.matrix.frequency.map((f) => f.label)).toEqual(["low", "medium", "high"]);
    expect(scenario.matrix.policy.map((p) => p.name).sort()).toEqual([...POLICY_NAMES].sort());
    expect(scenario.seeds).toHaveLength(20);
    expect(scenario.steps).toBe(200);
  });
});

describe("loading from disk", () => {
  it("an unreadable file is an error, not an exception", async () => {
    const r = await loadScenario("/nonexistent/scenario.yaml");
    expect(r.success).toBe(false);
    if (!r.success) expect(r.errors).toMatchObject([{ code: ScenarioErrorCode.Unreadable, line: 0 }]);
  });

  it("loadScenarioOrThrow throws a ScenarioError (code scenario_invalid, exit 2) carrying the issues", async () => {
    const err = await loadScenarioOrThrow("/nonexistent/scenario.yaml").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioError);
    const e = err as ScenarioError;
    expect(e.code).toBe("scenario_invalid");
    expect(exitCodeFor(e.code)).toBe(2);
    expect(e.issues[0].code).toBe(ScenarioErrorCode.Unreadable);
    expect(e.message).toMatch(/^Invalid scenario \/nonexistent\/scenario\.yaml:\n✖ Cannot read the scenario file: /);
  });
});

describe("scenario suites (one scenario per YAML document)", () => {
  const doc = (name: string, extra = "") =>
    `name: ${name}\nseeds: [1]\n${extra}matrix:\n  fault: [pod-kill]\n  frequency: { f: { kind: fixed, intervalS: 60 } }\n  policy: [none]\n`;

  it("parses each document on its own, keeping its leading comments and naming it file#name", () => {
    const text = `# the suite\n${doc("a")}---\n# second\n${doc("b", "steps: 30\n")}`;
    const r = parseScenarioSuite(text, "s.yaml");
    expect(r.success ? [] : r.errors).toEqual([]);
    if (!r.success) return;
    expect(r.data.map((d) => [d.fileName, d.scenario.steps])).toEqual([
      ["s.yaml#a", 200],
      ["s.yaml#b", 30],
    ]);
    expect(r.data[0]!.text.startsWith("# the suite\nname: a\n")).toBe(true);
    expect(r.data[1]!.text.startsWith("---\n# second\nname: b\n")).toBe(true);
    // What a run stores parses to the same scenario again.
    const again = parseScenario(r.data[1]!.text, "x.yaml");
    expect(again.success && again.data.scenario).toEqual(r.data[1]!.scenario);
  });

  it("reports a mistake in a later document at its line in the whole file", () => {
    const text = `${doc("a")}---\n${doc("b", "stepSeconds: fast\n")}`;
    const r = parseScenarioSuite(text, "s.yaml");
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: ["stepSeconds"], line: 10 });
    expect(r.errors[0]!.message).toMatch(/^document 2: /);
  });

  it("refuses two documents of one name", () => {
    const r = parseScenarioSuite(`${doc("a")}---\n${doc("a")}`, "s.yaml");
    expect(r.success ? [] : r.errors.map((e) => [e.code, e.line])).toEqual([[ScenarioErrorCode.DuplicateName, 8]]);
  });

  it("loads one scenario of a suite as file#name, and names them all when the file is given alone", async () => {
    const suite = fileURLToPath(new URL("../scenarios/generalization.yaml", import.meta.url));
    const one = await loadScenario(`${suite}#gen-step-30s`);
    expect(one.success && [one.data.scenario.name, one.data.scenario.stepSeconds]).toEqual(["gen-step-30s", 30]);
    const whole = await loadScenario(suite);
    expect(whole.success).toBe(false);
    if (!whole.success)
      expect(whole.errors[0]!.message).toMatch(/is a suite of \d+ scenarios \(gen-load-600, .*#gen-load-600$/);
    const unknown = await loadScenario(`${suite}#nope`);
    expect(unknown.success ? "" : unknown.errors[0]!.message).toMatch(
      /^No scenario named "nope" in .* it holds gen-load-600, /,
    );
  });
});
