import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openTrainingStore } from "./cli-store.ts";

describe("openTrainingStore (report --training)", () => {
  it("refuses a missing file as input (code usage, exit 2) naming it, and creates nothing", async () => {
    const missing = join(tmpdir(), `absent-${process.pid}.duckdb`);
    await expect(openTrainingStore(missing)).rejects.toMatchObject({
      code: "usage",
      message: `No training store at ${missing} (harness train --db writes one)`,
    });
    expect(existsSync(missing)).toBe(false);
  });
});
