import { rmSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOnnxModel, type OnnxPolicyModel } from "../policies/onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../policies/rl.ts";
import { buildAgentApp } from "../policies/service/app.ts";
import { explain, HEALTHY_BACKGROUND } from "../policies/service/explain.ts";
import { runCli, SPAWN_TEST_MS } from "./cli-spawn.ts";
import { Action } from "./core/contract.ts";
import { explainStep, formatExplanation, readRecordedStep, recordedHealthyStates } from "./explain-cli.ts";
import { TraceStore } from "./store.ts";
import { makeMeta, makeRunContext, makeTrace, type StepValues, tempDir } from "./store-fixtures.ts";
import { OBS_COLUMNS } from "./trace.ts";

/** A crashed pod under load, recorded at step 5. */
const INCIDENT = [0.2, 0, 0.1, 0.85, 0.4, 0.4, 0.08, 0.05, 0.3];
const obs = (v: readonly number[]): StepValues => Object.fromEntries(OBS_COLUMNS.map((c, j) => [c, v[j]!]));
/** Healthy steps differ a little (CPU), so the recorded background has distinct rows. */
const healthy = (i: number) => [0.3, 0, 0, 0.3 + 0.01 * i, 0.3, 0.05, 0, 1, 0.3];

const dir = tempDir("explain-cli-");
const db = join(dir, "t.duckdb");
let episodeId = 0;
let model: OnnxPolicyModel;
let store: TraceStore;
let storeOpen = true;

beforeAll(async () => {
  const s = await TraceStore.open(db);
  await s.beginRun(makeRunContext({ runId: "r1" }));
  episodeId = await s.writeEpisode(
    "r1",
    makeMeta({ policy: "rl" }),
    makeTrace(10, (i) =>
      i === 5
        ? { ...obs(INCIDENT), slo_ok: 0, proposed: Action.RestartPod, executed: Action.Noop, ready_replicas: 2 }
        : obs(healthy(i)),
    ),
  );
  await s.close();
  store = await TraceStore.open(db);
  model = await loadOnnxModel(resolveModelPath(DEFAULT_MODEL), { logger: { warn: () => {} } });
});
afterAll(async () => {
  if (storeOpen) await store?.close();
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const close = (a: readonly number[], b: readonly number[]) => {
  expect(a).toHaveLength(b.length);
  for (const [i, x] of a.entries()) expect(x).toBeCloseTo(b[i]!, 6);
};

describe("harness explain", () => {
  it("reads the recorded step's obs-v1 vector and what was decided then", async () => {
    const at = await readRecordedStep(store, { episode: episodeId, step: 5 });
    close(at.state, INCIDENT);
    expect(at).toMatchObject({ runId: "r1", policy: "rl", proposed: "restart-pod", executed: "noop", sloOk: false });
    await expect(readRecordedStep(store, { episode: episodeId, step: 10 })).rejects.toThrow(
      `Episode ${episodeId} has no step 10 (it has steps 0..9)`,
    );
    await expect(readRecordedStep(store, { runId: "other", episode: episodeId, step: 1 })).rejects.toThrow(
      "belongs to run r1, not other",
    );
  });

  it("locally: the exact Shapley values of that state, which sum to output - base", async () => {
    const e = await explainStep(store, { episode: episodeId, step: 5, background: "healthy" });
    const direct = await explain(model, e.at.state, HEALTHY_BACKGROUND);
    expect(e.actionName).toBe(direct.actionName);
    close(
      e.attributions.map((a) => a.phi),
      direct.attributions.map((a) => a.phi),
    );
    const sum = e.attributions.reduce((s, a) => s + a.phi, 0);
    expect(sum).toBeCloseTo(e.output - e.base, 6);
    expect(e.model.sha256).toBe(model.sha256);
    const text = formatExplanation(e);
    // Largest effect first, each feature once, with the decision and the background named.
    const rows = text.split("\n").filter((l) => /^[+-]\d\.\d{4} /.test(l));
    expect(rows).toHaveLength(9);
    expect(new Set(rows.map((l) => l.slice(39)))).toEqual(new Set(e.attributions.map((a) => a.feature)));
    const phis = rows.map((l) => Math.abs(Number(l.split(" ")[0])));
    expect([...phis].sort((a, b) => b - a)).toEqual(phis);
    expect(text).toContain(`Decision: ${e.actionName}`);
    expect(text).toContain("Background: one healthy steady state");
  });

  it("against the run's healthy states: the SLO-holding steps, not the incident", async () => {
    const bg = await recordedHealthyStates(store, "r1");
    expect(bg).toHaveLength(9);
    expect(bg.some((b) => Math.abs(b[2]! - INCIDENT[2]!) < 1e-6)).toBe(false);
    const e = await explainStep(store, { episode: episodeId, step: 5, background: "recorded" });
    expect(e.background).toHaveLength(9);
    expect(e.backgroundKind).toBe("9 states of run r1 recorded while the SLO held");
    expect(e.attributions.reduce((s, a) => s + a.phi, 0)).toBeCloseTo(e.output - e.base, 6);
  });

  describe("through a running agent service", () => {
    let app: FastifyInstance;
    let url: string;
    beforeAll(async () => {
      app = await buildAgentApp({ model });
      url = await app.listen({ port: 0, host: "127.0.0.1" });
    });
    afterAll(async () => app?.close());

    it("gives the same answer as the local computation", async () => {
      const remote = await explainStep(store, { episode: episodeId, step: 5, background: "recorded", url });
      const local = await explainStep(store, { episode: episodeId, step: 5, background: "recorded" });
      expect(remote.source).toBe(url);
      expect(remote.action).toBe(local.action);
      close(
        remote.attributions.map((a) => a.phi),
        local.attributions.map((a) => a.phi),
      );
    });

    it("names a service that is not there", async () => {
      await app.close();
      await expect(explainStep(store, { episode: episodeId, step: 5, background: "healthy", url })).rejects.toThrow(
        `The agent service at ${url} did not answer`,
      );
    });
  });

  it(
    "as a command: the table on stdout, JSON with --json, exit 2 naming a step that is not there",
    async () => {
      // The command opens the store itself: DuckDB allows one process to hold it.
      await store.close();
      storeOpen = false;
      const cwd = dir;
      const text = await runCli(["explain", "--db", db, "--episode", String(episodeId), "--step", "5"], { cwd });
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^Run r1, episode \d+, step 5 \(t = 50 s, SLO broken\): rl proposed restart-pod/);
      const json = await runCli(
        ["explain", "--db", db, "--episode", String(episodeId), "--step", "5", "--json", "--background", "recorded"],
        { cwd },
      );
      expect(json.code, json.stderr).toBe(0);
      const e = JSON.parse(json.stdout) as { attributions: { phi: number }[]; output: number; base: number };
      expect(e.attributions.reduce((s, a) => s + a.phi, 0)).toBeCloseTo(e.output - e.base, 6);
      const bad = await runCli(["explain", "--db", db, "--episode", String(episodeId), "--step", "99"], { cwd });
      expect(bad.code).toBe(2);
      expect(bad.firstError).toContain("has no step 99");
    },
    SPAWN_TEST_MS,
  );
});
