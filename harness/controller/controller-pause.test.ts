/**
 * Pause through a ConfigMap annotation (issue 15: "on a cluster an annotation on its
 * ConfigMap (watched)"), against the Kubernetes API at the HTTP level (cluster/kube/
 * fake-apiserver.ts: real client-node calls, list + watch with resourceVersions): the
 * controller pauses when the annotation turns "true", resumes when it turns "false", sees a
 * change made while its watch was cut, and does not act before it has read the ConfigMap.
 * The loop runs on the simulator at wall pace; the random policy proposes an action every
 * step, so each step's guard verdict says whether the controller was paused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeApiServer, type ResourceRef } from "../../cluster/kube/fake-apiserver.ts";
import { controllerConfigSchema } from "./config.ts";
import { type AuditRecord, nextAudits, startController } from "./controller.ts";

const CONFIGMAPS: ResourceRef = { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap" };
const NS = "chaos-rl";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A step whose proposal was not noop (the random policy's other 4/5), by its verdict. */
const acting = (paused: boolean) => (r: AuditRecord) => {
  if (r.type !== "step") return false;
  const { reason, proposed } = r.record as { reason: string; proposed: number };
  return proposed !== 0 && (reason === "Paused") === paused;
};
const noted = (what: string, detail?: RegExp) => (r: AuditRecord) =>
  r.type === "controller" && r.what === what && (detail === undefined || detail.test(r.detail));

const annotate = (api: FakeApiServer, value: string) =>
  api.update(CONFIGMAPS, NS, "controller", (o) => {
    o.metadata.annotations = { ...(o.metadata.annotations as object), "chaos-rl.io/paused": value };
  });

describe("harness controller: pause by ConfigMap annotation", () => {
  it("pauses and resumes with the watched annotation, also across a cut watch", async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.stop());
    const dir = mkdtempSync(join(tmpdir(), "controller-pause-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, api.kubeconfig(NS));
    api.put(CONFIGMAPS, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "controller", namespace: NS, annotations: { "chaos-rl.io/paused": "false" } },
      data: {},
    });
    // Another ConfigMap in the namespace: its annotation must not count.
    api.put(CONFIGMAPS, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "other", namespace: NS, annotations: { "chaos-rl.io/paused": "true" } },
    });

    const config = controllerConfigSchema.parse({
      name: "cm",
      backend: "sim",
      namespace: NS,
      intervalS: 0.05,
      minIntervalS: 0,
      mode: "autonomous",
      policy: { name: "random", params: { actProb: 1 } },
      listen: { port: 0 },
      batchSteps: 5,
      pauseConfigMap: { name: "controller", kubeconfig },
    });
    const ctl = await startController({ config, fileName: "cm.yaml", text: "" }, { cwd: dir, simPauseMs: 20 });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await ctl.stop();
    });

    // Read once ("false"): acting.
    await nextAudits(ctl, acting(false), 3);
    expect(api.requestsTo({ method: "GET", path: "/configmaps", watch: true }).length).toBeGreaterThanOrEqual(1);

    // The operator annotates: paused from the next steps on, and the audit says by what.
    const pausedNote = nextAudits(
      ctl,
      noted("paused", /ConfigMap chaos-rl\/controller annotation chaos-rl.io\/paused=true/),
    );
    annotate(api, "true");
    await pausedNote;
    await nextAudits(ctl, acting(true), 3);
    const status = (await (await fetch(`${ctl.url}/metrics`)).text()).match(/^controller_paused (\d)/m);
    expect(status?.[1]).toBe("1");

    // The watch is cut (a network failure); the annotation changes meanwhile; the
    // controller lists again and resumes by itself.
    const watchesBefore = api.requestsTo({ method: "GET", path: "/configmaps", watch: true }).length;
    const failed = nextAudits(ctl, noted("pause-watch-watch-failed"));
    api.dropWatches();
    await failed;
    const resumed = nextAudits(ctl, noted("resumed", /paused=false$/));
    annotate(api, "false");
    await resumed;
    await nextAudits(ctl, acting(false), 3);
    expect(api.requestsTo({ method: "GET", path: "/configmaps", watch: true }).length).toBeGreaterThan(watchesBefore);

    // Deleting the ConfigMap is no pause.
    api.remove(CONFIGMAPS, NS, "controller");
    await nextAudits(ctl, acting(false), 2);

    stopped = true;
    expect(await ctl.stop()).toEqual([]);
    // The watch is closed with the controller.
    expect(api.watchCount).toBe(0);
  }, 180_000);

  it("does not act before it has read the ConfigMap (the API refusing at start)", async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.stop());
    const dir = mkdtempSync(join(tmpdir(), "controller-pause-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, api.kubeconfig(NS));
    api.put(CONFIGMAPS, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "controller", namespace: NS, annotations: {} },
    });
    api.failNext(
      { method: "GET", path: "/configmaps", watch: false },
      { status: 503, reason: "ServiceUnavailable" },
      3,
    );
    const config = controllerConfigSchema.parse({
      name: "cm0",
      backend: "sim",
      namespace: NS,
      intervalS: 0.05,
      minIntervalS: 0,
      mode: "autonomous",
      policy: { name: "random", params: { actProb: 1 } },
      listen: { port: 0 },
      pauseConfigMap: { name: "controller", kubeconfig },
    });
    const ctl = await startController({ config, fileName: "cm0.yaml", text: "" }, { cwd: dir, simPauseMs: 20 });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await ctl.stop();
    });
    await nextAudits(ctl, acting(false), 2);
    stopped = true;
    expect(await ctl.stop()).toEqual([]);
    // The whole audit trail, from the start: every step before the first successful read
    // is paused; the read (annotation unset) resumes the controller.
    const events = readFileSync(join(dir, "runs/cm0.audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(events.filter(noted("pause-watch-watch-failed", /ServiceUnavailable|503/))).toHaveLength(3);
    const firstRead = events.findIndex(noted("resumed", /annotation chaos-rl.io\/paused=\(unset\)$/));
    expect(firstRead).toBeGreaterThan(0);
    const before = events.slice(0, firstRead).filter((r) => r.type === "step");
    expect(before.filter(acting(true)).length).toBeGreaterThanOrEqual(1);
    expect(before.filter(acting(false))).toEqual([]);
  }, 180_000);
});
