import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseControllerConfig, renderControllerJsonSchema } from "./config.ts";

const example = new URL("./controller.example.yaml", import.meta.url);

describe("controller config", () => {
  it("reads the example with its defaults applied", () => {
    const r = parseControllerConfig(readFileSync(example, "utf8"), "controller.example.yaml");
    if (!r.success) throw new Error(JSON.stringify(r.errors));
    expect(r.data.config).toMatchObject({
      name: "demo-controller",
      backend: "local",
      mode: "observe-only",
      intervalS: 2,
      policy: { name: "heuristic", params: {} },
      listen: { host: "127.0.0.1", port: 9464 },
      batchSteps: 6,
    });
    expect(r.data.config.chaos!.faults[1]).toEqual({ type: "cpu-stress", durationS: 20, load: 0.9 });
  });

  it("points every problem at its file line and column", () => {
    const text = [
      "name: c",
      "mode: autonomus",
      "intervalS: -1",
      "chaos:",
      "  intervalS: 5",
      "  namespaces: [prod]",
      "  faults: [{ type: pod-kil }]",
      "polcy: {}",
    ].join("\n");
    const r = parseControllerConfig(text, "c.yaml");
    expect(r.success).toBe(false);
    if (r.success) return;
    const lines = r.errors.map((e) => `${e.line}: ${e.message}`);
    expect(lines).toContain('2: Expected one of observe-only, approve, autonomous, got "autonomus"');
    expect(lines).toContain("3: Expected a number > 0, got -1");
    expect(lines.some((l) => l.startsWith("7: Expected one of pod-kill,") && l.endsWith('got "pod-kil"'))).toBe(true);
    expect(lines).toContain('8: Unknown key "polcy" (did you mean "policy"?)');
  });

  it("refuses chaos in a namespace its allow-list does not name", () => {
    const text =
      "name: c\nnamespace: prod\nchaos:\n  intervalS: 5\n  namespaces: [staging]\n  faults: [{ type: pod-kill }]\n";
    const r = parseControllerConfig(text, "c.yaml");
    expect(r.success).toBe(false);
    if (!r.success) {
      expect(r.errors[0]).toMatchObject({
        message: "The chaos allow-list (chaos.namespaces) does not include this namespace",
        line: 5,
      });
    }
  });

  it("keeps config.schema.json in step with the zod schema (npx tsx scripts/gen-controller-schema.ts)", () => {
    expect(readFileSync(new URL("./config.schema.json", import.meta.url), "utf8")).toBe(renderControllerJsonSchema());
  });
});
