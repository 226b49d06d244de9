/**
 * Decision replay on a real run: a policy replayed on its own episodes proposes what it
 * proposed (when it reads nothing but what the store keeps), and the counts add up.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL } from "../policies/rl.ts";
import { maskedCommittedModel } from "../policies/test-helpers.ts";
import { replayDecisions } from "./decision-replay.ts";
import { decisionReplayMarkdown } from "./replay-cli.ts";
import { runScenario } from "./runner.ts";
import { parseScenario } from "./scenario-file.ts";
import { TraceStore } from "./store.ts";
import { tempDir } from "./store-fixtures.ts";

const root = tempDir("replay-test-");
const db = join(root, "r.duckdb");
let store: TraceStore;

const TEXT = `
name: replay
steps: 40
seeds: { count: 2, start: 1 }
matrix:
  fault: [cpu-stress, load-spike]
  frequency:
    often: { kind: fixed, intervalS: 120, offsetS: 30 }
  policy: [none, hpa, random]
`;

beforeAll(async () => {
  const r = parseScenario(TEXT, "replay.yaml");
  if (!r.success) throw new Error(JSON.stringify(r.errors));
  await runScenario({ loaded: r.data, db, jobs: 1 });
  store = await TraceStore.open(db);
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

describe("replayDecisions", () => {
  it("replays hpa on its own episodes with full agreement, and on the others' with less", async () => {
    const [run] = await store.listRuns();
    const r = await replayDecisions(store, { run: run!, policy: "hpa" });
    expect(r.episodes).toBe(12);
    expect(r.steps).toBe(12 * 40);
    const by = Object.fromEntries(r.byRecordedPolicy.map((p) => [p.policy, p]));
    // hpa reads the snapshot's scalars and its own memory only: the store keeps all of it.
    expect(by.hpa).toEqual({ policy: "hpa", steps: 160, agreed: 160 });
    expect(by.random!.agreed).toBeLessThan(by.random!.steps);
    // The confusion matrix counts every step once; its diagonal is the agreement.
    const cells = Object.values(r.confusion).flatMap((row) => Object.values(row));
    expect(cells.reduce((a, b) => a + b, 0)).toBe(r.steps);
    const diagonal = Object.entries(r.confusion).reduce((s, [k, row]) => s + row[k]!, 0);
    expect(diagonal).toBe(r.agreed);
    expect(r.disagreements.length).toBe(Math.min(50, r.steps - r.agreed));
    expect(r.disagreements.every((d) => d.recorded !== d.replayed)).toBe(true);
  });

  it("replays a masked rl model under each recorded step's mask: full agreement on its own episodes", async () => {
    // The committed model with a card saying it decides under the guard's mask.
    const model = maskedCommittedModel(root);
    const text = TEXT.replace("name: replay", "name: masked").replace(
      "policy: [none, hpa, random]",
      `policy: [{ name: rl, label: masked, params: { model: ${JSON.stringify(model)} } }]`,
    );
    const r = parseScenario(text, "masked.yaml");
    if (!r.success) throw new Error(JSON.stringify(r.errors));
    const maskedDb = join(root, "masked.duckdb");
    await runScenario({ loaded: r.data, db: maskedDb, jobs: 1 });
    const s = await TraceStore.open(maskedDb);
    try {
      const [run] = await s.listRuns();
      const own = await replayDecisions(s, { run: run!, policy: "rl", params: { model } });
      expect(own.steps).toBe(4 * 40);
      expect(own.agreed).toBe(own.steps);
      // The same network without the mask proposes what the mask removed: the mask is what agrees.
      const unmasked = await replayDecisions(s, { run: run!, policy: "rl", params: { model: DEFAULT_MODEL } });
      expect(unmasked.agreed).toBeLessThan(unmasked.steps);
    } finally {
      await s.close();
    }
  });

  it("limits itself to the episodes asked for, and refuses one that is not there", async () => {
    const [run] = await store.listRuns();
    const r = await replayDecisions(store, { run: run!, policy: "none", episodes: [1, 2] });
    expect(r.episodes).toBe(2);
    expect(r.steps).toBe(80);
    await expect(replayDecisions(store, { run: run!, policy: "none", episodes: [999] })).rejects.toThrow(
      /No completed episode 999/,
    );
    expect(decisionReplayMarkdown(r)).toMatch(/^# Decision replay: none on run replay-/);
  });
});
