import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { appendStepSummary } from "./ci-output.ts";
import { tempDir } from "./store-fixtures.ts";

const dir = tempDir("ci-output-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("$GITHUB_STEP_SUMMARY", () => {
  it("is appended to when set (earlier steps' summaries kept), and left alone when not", () => {
    const file = join(dir, "summary.md");
    writeFileSync(file, "# earlier step\n");
    expect(appendStepSummary("# Report: x\n", { GITHUB_STEP_SUMMARY: file })).toBe(file);
    expect(readFileSync(file, "utf8")).toBe("# earlier step\n# Report: x\n\n");
    expect(appendStepSummary("# Report: y\n", {})).toBeNull();
  });

  it("is cut below GitHub's 1 MiB limit, saying so", () => {
    const file = join(dir, "big.md");
    appendStepSummary("x".repeat(2 * 1024 * 1024), { GITHUB_STEP_SUMMARY: file });
    const text = readFileSync(file, "utf8");
    expect(Buffer.byteLength(text)).toBeLessThan(1024 * 1024);
    expect(text).toMatch(/cut at GitHub's 1 MiB step summary limit/);
  });
});
