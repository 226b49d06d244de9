import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { failure } from "../cli-errors.ts";
import { emptyState, readState, writeState } from "./state.ts";

const dir = mkdtempSync(join(tmpdir(), "controller-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("controller state file", () => {
  it("reads a missing file as a fresh state and reads back what it wrote", () => {
    const file = join(dir, "fresh.json");
    expect(readState(file)).toEqual(emptyState());
    const state = { ...emptyState(), lastActionAtMs: 120_000 };
    writeState(file, state);
    expect(readState(file)).toEqual(state);
  });

  it("refuses a corrupt file by its catalogue code, which the CLI maps to exit 2", () => {
    const notJson = join(dir, "not-json.json");
    writeFileSync(notJson, "{ lastActionAtMs: ");
    expect(() => readState(notJson)).toThrow(expect.objectContaining({ code: "controller_state_invalid" }));
    const wrong = join(dir, "wrong.json");
    writeFileSync(wrong, JSON.stringify({ ...emptyState(), lastActionAtMs: "yesterday" }));
    let err: unknown = null;
    try {
      readState(wrong);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "controller_state_invalid" });
    expect(failure(err).code).toBe(2);
    expect(failure(err).message).toContain(wrong);
  });
});
