/**
 * The controller writes the top Shapley attributions of every decision into its audit trail
 * (issue 15, part 4), asking the real agent service (the committed model over HTTP) for them.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOnnxModel, type OnnxPolicyModel } from "../../policies/onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../../policies/rl.ts";
import { buildAgentApp } from "../../policies/service/app.ts";
import { whyTable } from "../../reports/document.ts";
import { loadReportData } from "../../reports/load.ts";
import { ACTION_NAMES, OBS_V1 } from "../core/contract.ts";
import { TraceStore } from "../store.ts";
import { controllerConfigSchema } from "./config.ts";
import { type AuditRecord, startController } from "./controller.ts";

let model: OnnxPolicyModel;
let app: Awaited<ReturnType<typeof buildAgentApp>>;
let url: string;
const dir = mkdtempSync(join(tmpdir(), "controller-explain-"));
beforeAll(async () => {
  model = await loadOnnxModel(resolveModelPath(DEFAULT_MODEL), { logger: { warn: () => {} } });
  app = await buildAgentApp({ model });
  url = await app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("harness controller: why it decided", () => {
  it("writes the agent's top attributions of each decision beside its step in the audit trail", async () => {
    const config = controllerConfigSchema.parse({
      name: "ex",
      backend: "sim",
      intervalS: 0.05,
      minIntervalS: 0,
      mode: "observe-only",
      agentUrl: url,
      agentTimeoutMs: 10_000,
      policyTimeoutMs: 10_000,
      listen: { port: 0 },
      explainTop: 3,
    });
    const ctl = await startController({ config, fileName: "ex.yaml", text: "" }, { cwd: dir, simPauseMs: 20 });
    try {
      await new Promise<void>((resolve) => {
        let n = 0;
        const off = ctl.onAudit((r) => {
          if (r.type === "explanation" && ++n >= 5) {
            off();
            resolve();
          }
        });
      });
    } finally {
      expect(await ctl.stop()).toEqual([]);
    }
    const records = readFileSync(join(dir, "runs/ex.audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditRecord);
    const steps = new Map(
      records.flatMap((r) => (r.type === "step" ? [[r.step, r.record as { proposed: number }] as const] : [])),
    );
    const explanations = records.filter((r) => r.type === "explanation");
    expect(explanations.length).toBeGreaterThanOrEqual(5);
    // Steps the agent did not decide (it timed out on a loaded machine: the fallback did).
    const fellBack = new Set(
      records.flatMap((r) => (r.type === "event" && r.event.kind === "policy-error" ? [r.event.time] : [])),
    );
    const timeOfStep = new Map(records.flatMap((r) => (r.type === "step" ? [[r.step, r.time] as const] : [])));
    let compared = 0;
    for (const e of explanations) {
      const step = steps.get(e.step);
      expect(step, `step ${e.step} of an explanation`).toBeDefined();
      // The same model on the same state: the explained action is the one the agent proposed.
      if (!fellBack.has(timeOfStep.get(e.step)!)) {
        expect(e.explanation.actionName).toBe(ACTION_NAMES[step!.proposed]);
        compared++;
      }
      expect(e.explanation.top).toHaveLength(3);
      const phis = e.explanation.top.map((t) => Math.abs(t.phi));
      expect([...phis].sort((a, b) => b - a)).toEqual(phis);
      for (const t of e.explanation.top) expect(OBS_V1.features).toContain(t.feature);
      expect(e.explanation.output).toBeGreaterThan(0);
    }
    expect(compared, "explanations of steps the agent decided").toBeGreaterThan(0);

    // The same explanations reach the trace store, and the report's timeline carries them.
    const store = await TraceStore.open(join(dir, "runs/controller.duckdb"));
    try {
      const data = await loadReportData(store, { runId: "ex" });
      expect(data.timelines).toHaveLength(1);
      const t = data.timelines[0]!;
      expect(t.explanations.map((e) => ({ time: e.time, action: ACTION_NAMES[e.action], top: e.top }))).toEqual(
        explanations
          .map((e) => ({ time: timeOfStep.get(e.step), action: e.explanation.actionName, top: e.explanation.top }))
          .sort((a, b) => a.time! - b.time!),
      );
      const why = whyTable(t);
      const acting = t.explanations.filter((e) => e.action !== 0).length;
      expect(why.kind === "details" && why.summary).toContain(`${acting} of ${t.explanations.length}`);
    } finally {
      await store.close();
    }
  }, 180_000);
});
