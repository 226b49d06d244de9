/**
 * `harness controller`: the shared loop without end (long-run.ts) against a live
 * deployment, with the operator's controls and the audit trail around it.
 * - backend: the local testbed (`local`), the simulator at wall pace (`sim`), a Kubernetes
 *   cluster (`cluster`, cluster/kube/);
 * - policy: a registry policy, or the agent service (`agentUrl`) with the guard's fallback;
 * - modes observe-only / approve / autonomous; pause by `POST /pause`, the kill-switch
 *   file, or a watched ConfigMap annotation (`pauseConfigMap`, cluster/kube/pause-watch.ts);
 *   approvals by `GET /pending`, `POST /approve/:id`, `POST /reject/:id`;
 * - audit: every step and event into the trace store (same tables as a run) and as JSON lines;
 * - `/metrics`, `/health`, `/ready`; an optional chaos loop (chaos.ts).
 * `stop()` (SIGTERM in the CLI) ends the loop, clears the chaos, closes the backend and the
 * store, and reports what could not be cleaned up.
 */
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, resolve } from "node:path";
import { podCapacityRps } from "../../cluster/local/spec.ts";
import { createPolicy, type PolicyName, preparePolicy } from "../../policies/index.ts";
import { simParamsSchema } from "../../sim/params.ts";
import { seedReward } from "../../sim/reward.ts";
import { codecName } from "../core/codecs.ts";
import { ACTION_NAMES, type Backend, type FaultInjection, type Policy } from "../core/contract.ts";
import { HarnessError } from "../core/errors.ts";
import { guardLimitsSchema, NOOP_FALLBACK } from "../core/guard.ts";
import type { LoopEvent, StepRecord } from "../loop.ts";
import { TraceStore } from "../store.ts";
import { ApprovalError, type ApprovalQueue } from "./approvals.ts";
import { ChaosLoop } from "./chaos.ts";
import type { LoadedControllerConfig } from "./config.ts";
import { DecisionExplainer, type DecisionExplanation } from "./explainer.ts";
import { runLongRunning } from "./long-run.ts";
import { ControllerMetrics } from "./metrics.ts";
import { pacedSim } from "./paced-sim.ts";
import { controllerMeta, controllerRunContext } from "./records.ts";
import type { Approval } from "./state.ts";
import type { StreamingSink } from "./stream.ts";

/** One line of the JSON-lines audit. */
export type AuditRecord =
  | {
      readonly type: "step";
      readonly at: string;
      readonly step: number;
      readonly time: number;
      readonly record: object;
    }
  | { readonly type: "event"; readonly at: string; readonly event: LoopEvent }
  | { readonly type: "approval"; readonly at: string; readonly approval: Approval }
  | {
      readonly type: "explanation";
      readonly at: string;
      readonly step: number;
      readonly explanation: DecisionExplanation;
    }
  | { readonly type: "controller"; readonly at: string; readonly what: string; readonly detail: string };

export interface ControllerHandle {
  /** `http://host:port` of the API and /metrics. */
  readonly url: string;
  readonly runId: string;
  readonly episodeId: number;
  /** The local testbed's Prometheus, which scrapes the testbed, this controller and its agent; null on other backends. */
  readonly prometheusUrl: string | null;
  readonly metrics: ControllerMetrics;
  readonly approvals: ApprovalQueue;
  /** Every audit record, as written (for tests: wait on events, not time). */
  onAudit(listener: (r: AuditRecord) => void): () => void;
  /** Ends the loop and cleans up; resolves with what was left behind (empty when nothing). */
  stop(): Promise<string[]>;
  /** Resolves when the loop has ended (by stop() or a failure), with its error or null. */
  readonly done: Promise<string | null>;
}

export interface StartOptions {
  /** Resolved against this directory: store, audit, state and kill-switch paths. @default process.cwd() */
  readonly cwd?: string;
  /** Pace of the simulator backend: real milliseconds per step. @default intervalS * 1000 */
  readonly simPauseMs?: number;
  /** Replaces the backend the config names (tests of dependency failures wrap the real one). */
  readonly wrapBackend?: (b: Backend) => Backend;
}

/** Resolves with the next `n` audit records (after the call) that match `pred`: wait on events, not time. */
export function nextAudits(
  ctl: Pick<ControllerHandle, "onAudit">,
  pred: (r: AuditRecord) => boolean,
  n = 1,
): Promise<AuditRecord[]> {
  return new Promise((resolve) => {
    const got: AuditRecord[] = [];
    const off = ctl.onAudit((r) => {
      if (!pred(r)) return;
      got.push(r);
      if (got.length >= n) {
        off();
        resolve(got);
      }
    });
  });
}

export async function startController(
  loaded: LoadedControllerConfig,
  so: StartOptions = {},
): Promise<ControllerHandle> {
  const c = loaded.config;
  const cwd = so.cwd ?? process.cwd();
  const path = (p: string) => resolve(cwd, p);
  const auditFile = path(c.audit ?? `runs/${c.name}.audit.jsonl`);
  const stateFile = path(c.stateFile ?? `runs/${c.name}.state.json`);
  const killSwitch = path(c.killSwitchFile ?? `runs/${c.name}.pause`);
  const listeners = new Set<(r: AuditRecord) => void>();
  mkdirSync(dirname(auditFile), { recursive: true });
  const audit: WriteStream = createWriteStream(auditFile, { flags: "a" });
  const write = (r: AuditRecord) => {
    audit.write(`${JSON.stringify(r)}\n`);
    for (const l of listeners) l(r);
  };
  const note = (what: string, detail: string) =>
    write({ type: "controller", at: new Date().toISOString(), what, detail });

  const limits = guardLimitsSchema.parse({
    mode: c.mode,
    minIntervalS: c.minIntervalS,
    minReplicas: c.minReplicas,
    maxReplicas: c.maxReplicas,
    fallback: c.fallback,
    policyTimeoutMs: c.policyTimeoutMs,
  });
  const policyName: PolicyName = c.agentUrl ? "rl" : c.policy.name;
  const policyParams = c.agentUrl ? { url: c.agentUrl, timeoutMs: c.agentTimeoutMs } : c.policy.params;
  const ctx = { seed: 0, limits, stepSeconds: c.intervalS, slo: c.slo };
  await preparePolicy(policyName, policyParams);
  const policy: Policy = createPolicy(policyName, policyParams, ctx);
  const fallbackName = c.fallback === NOOP_FALLBACK ? null : (c.fallback as PolicyName);
  if (fallbackName) await preparePolicy(fallbackName, {});
  const fallback = fallbackName ? createPolicy(fallbackName, {}, ctx) : null;

  // Attributions of every decision, for a model-backed policy: the agent or a local rl model.
  let explainer: DecisionExplainer | null = null;
  if (c.explainTop > 0) {
    if (c.agentUrl) explainer = DecisionExplainer.forAgent(c.agentUrl, Math.max(1000, c.agentTimeoutMs), c.explainTop);
    else if (policyName === "rl" && typeof (policyParams as { model?: unknown }).model === "string") {
      const { resolveModelPath } = await import("../../policies/rl.ts");
      explainer = await DecisionExplainer.forModel(
        resolveModelPath((policyParams as { model: string }).model),
        c.explainTop,
      );
    }
  }

  const metrics = new ControllerMetrics(c.slo, {
    name: c.name,
    mode: c.mode,
    policy: c.agentUrl ? `agent ${c.agentUrl}` : policyName,
    backend: c.backend,
  });

  // The backend: opened last of the things that can fail on bad input, closed on every path.
  let backend: Backend;
  let closeBackend: () => Promise<void> = async () => {};
  let clockOriginMs: () => number;
  /** The local testbed's Prometheus: it also scrapes this controller and its agent (the dashboards read them). */
  let testbedPrometheus: {
    url: string;
    addScrapeTargets(t: { address: string; job: string }[]): Promise<void>;
  } | null = null;
  /** Per-pod capacity for codecs that need it (obs-v2): the testbed's spec, or the simulator's default parameter. */
  let capacityRps: number | undefined;
  if (c.backend === "local") {
    const { LocalBackend } = await import("../../cluster/local/backend.ts");
    // The config's local section has no parallelEpisodes (config.ts omits it: one testbed here).
    const { rps, scrapeIntervalS, ...deployment } = c.local;
    capacityRps = podCapacityRps(deployment);
    const local = await LocalBackend.open({
      deployment: { ...deployment, namespace: c.namespace, name: c.deployment },
      scrapeIntervalS,
      stepSeconds: c.intervalS,
      rates: [rps],
    });
    backend = local;
    closeBackend = () => local.close();
    testbedPrometheus = {
      url: local.testbed.prometheus!.url,
      addScrapeTargets: (t) => local.testbed.addScrapeTargets(t),
    };
    clockOriginMs = () => local.clock.originUnixS * 1000;
  } else if (c.backend === "sim") {
    backend = pacedSim({ seed: 1 }, so.simPauseMs ?? c.intervalS * 1000);
    capacityRps = simParamsSchema.parse({}).podCapacityRps;
    const origin = Date.now();
    clockOriginMs = () => origin;
  } else {
    if (!c.cluster || !c.prometheusUrl) {
      // The schema refuses this already; a config built around it is a caller's bug.
      throw new HarnessError("usage", "backend cluster needs a `cluster` section and `prometheusUrl`");
    }
    const { KubeBackend } = await import("../../cluster/kube/backend.ts");
    const kube = await KubeBackend.open({
      cluster: { ...c.cluster, namespace: c.namespace, deployment: c.deployment, prometheusUrl: c.prometheusUrl },
      stepSeconds: c.intervalS,
      // No end: every chaos object still carries a duration (KubeBackend's open-ended cap).
      episodeSeconds: Number.POSITIVE_INFINITY,
      runId: c.name,
      episode: 0,
    });
    backend = kube;
    closeBackend = () => kube.close();
    clockOriginMs = () => kube.clock.originUnixS * 1000;
  }
  if (so.wrapBackend) backend = so.wrapBackend(backend);

  let store: TraceStore | null = null;
  let server: Server | null = null;
  let pauseWatch: import("../../cluster/kube/pause-watch.ts").ConfigMapPauseWatch | null = null;
  try {
    store = await TraceStore.open(path(c.store));
    const labels = {
      runId: c.name,
      configText: loaded.text,
      backend: c.backend,
      policy: c.agentUrl ? "agent" : policyName,
      policyName,
      fault: c.chaos ? c.chaos.faults.map((f) => f.type).join("+") : "none",
      frequency: c.chaos ? `every ${c.chaos.intervalS}s` : "none",
      stepSeconds: c.intervalS,
      confirmWindowS: c.slo.confirmWindowS,
      slo: c.slo,
      faultSpecs: c.chaos?.faults ?? [],
    };
    if (!(await store.reopenRun(c.name))) await store.beginRun(controllerRunContext(labels));

    let pausedByApi = false;
    // On a cluster: the ConfigMap's annotation, watched (cluster/kube/pause-watch.ts).
    if (c.pauseConfigMap) {
      const { loadKubeConfig } = await import("../../cluster/kube/client.ts");
      const { ConfigMapPauseWatch } = await import("../../cluster/kube/pause-watch.ts");
      const p = c.pauseConfigMap;
      pauseWatch = new ConfigMapPauseWatch(
        loadKubeConfig({
          ...(p.kubeconfig ? { kubeconfig: p.kubeconfig } : {}),
          ...(p.context ? { context: p.context } : {}),
        }),
        {
          namespace: c.namespace,
          name: p.name,
          annotation: p.annotation,
          onChange: (now, why) => note(now ? "paused" : "resumed", `by ${why}`),
          onEvent: (kind, detail) => note(`pause-watch-${kind}`, detail),
        },
      );
      pauseWatch.start();
    }
    const watched = pauseWatch;
    const paused = () => pausedByApi || existsSync(killSwitch) || (watched?.paused ?? false);
    const stopSignal = new AbortController();
    let ready = false;
    let ctl: { episodeId: number; approvals: ApprovalQueue } | null = null;
    let streamSink: StreamingSink | null = null;

    const openStore = store;
    let onStarted: (r: { episodeId: number; approvals: ApprovalQueue }) => void = () => {};
    const started = new Promise<{ episodeId: number; approvals: ApprovalQueue }>((res) => {
      onStarted = res;
    });
    const loop = runLongRunning({
      store: openStore,
      runId: c.name,
      meta: controllerMeta(labels),
      backend,
      policy,
      fallback,
      limits,
      slo: c.slo,
      stepSeconds: c.intervalS,
      codec: {
        maxReplicas: c.maxReplicas,
        episodeSeconds: 600,
        ...(capacityRps === undefined ? {} : { podCapacityRps: capacityRps }),
      },
      reward: seedReward,
      stateFile,
      approvalTtlS: c.approvalTtlS,
      clockOriginMs,
      signal: stopSignal.signal,
      paused,
      batchSteps: c.batchSteps,
      maxDelayMs: Math.max(1000, c.intervalS * 1000 * c.batchSteps),
      sinks: [
        metrics,
        {
          onStep: (r: StepRecord) => {
            ready = true;
            metrics.paused.set(paused() ? 1 : 0);
            metrics.pendingApprovals.set(ctl?.approvals.open().length ?? 0);
            write({ type: "step", at: new Date().toISOString(), step: r.step, time: r.time, record: stepJson(r) });
            const { step, time } = r;
            explainer?.explain(r.state, (explanation) => {
              write({ type: "explanation", at: new Date().toISOString(), step, explanation });
              // Into the trace store too, beside the step: the report's timeline shows why it acted.
              streamSink?.onEvent({
                time,
                kind: "decision-explained",
                action: (ACTION_NAMES as readonly string[]).indexOf(explanation.actionName),
                podId: -1,
                podName: "",
                podUid: "",
                faultId: -1,
                detail: JSON.stringify(explanation),
              });
            });
          },
          onEvent: (e: LoopEvent) => write({ type: "event", at: new Date().toISOString(), event: e }),
        },
      ],
      onApproval: (a) => write({ type: "approval", at: new Date().toISOString(), approval: { ...a } }),
      onStoreError: (err) => {
        metrics.storeErrors.inc();
        note("store-error", err instanceof Error ? err.message : String(err));
      },
      onCommitted: (n) => note("store-committed", `${n} steps`),
      ...(explainer ? { settle: () => explainer!.settle() } : {}),
      onReady: (r) => {
        ctl = r;
        streamSink = r.sink;
        onStarted(r);
      },
    });
    const done: Promise<string | null> = loop.then(
      (r) => r.error,
      (err) => (err instanceof Error ? err.message : String(err)),
    );
    // A failure before the episode opened (the store refusing its row) ends the start.
    const first = await Promise.race([started, done.then((e) => ({ failed: e ?? "the loop ended at once" }))]);
    if ("failed" in first) throw new Error(`Controller did not start: ${first.failed}`);
    const { episodeId, approvals } = first;

    let chaos: ChaosLoop | null = null;
    if (c.chaos) {
      metrics.chaosConfigured(c.chaos.faults.map((f) => f.type));
      chaos = new ChaosLoop({
        backend,
        intervalS: c.chaos.intervalS,
        faults: c.chaos.faults,
        seed: c.chaos.seed,
        firstAfterS: c.chaos.firstAfterS,
        hold: () => (paused() ? "paused" : metrics.incidentOpen ? "an incident is open" : null),
        onInjected: (f: FaultInjection) => {
          metrics.chaosInjected(f.spec.type);
          note("chaos-injected", JSON.stringify(f));
        },
        onSkipped: (why) => note("chaos-skipped", why),
        onCleared: (f, by) => note("chaos-cleared", `fault ${f.id} (${f.spec.type}) cleared by ${by}`),
        onError: (what, err) => note("chaos-error", `${what}: ${err instanceof Error ? err.message : String(err)}`),
      });
      chaos.start();
    }

    server = createServer((req, res) => {
      void handle(req, res).catch((err) => send(res, 500, { error: String(err) }));
    });
    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://x");
      const route = `${req.method} ${url.pathname}`;
      if (route === "GET /health") return send(res, 200, { status: "alive" });
      if (route === "GET /ready") return send(res, ready ? 200 : 503, { ready });
      if (route === "GET /metrics") {
        metrics.storeBacklog.set(0);
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        return res.end(await metrics.registry.metrics());
      }
      if (route === "GET /pending") {
        return send(res, 200, url.searchParams.has("all") ? approvals.all() : approvals.open());
      }
      if (route === "POST /pause" || route === "POST /resume") {
        pausedByApi = route === "POST /pause";
        note(pausedByApi ? "paused" : "resumed", `by HTTP from ${req.socket.remoteAddress}`);
        return send(res, 200, {
          paused: paused(),
          killSwitch: existsSync(killSwitch),
          ...(pauseWatch ? { configMap: pauseWatch.paused } : {}),
        });
      }
      const m = /^POST \/(approve|reject)\/([^/]+)$/.exec(route);
      if (m) {
        const by = url.searchParams.get("by") ?? `http ${req.socket.remoteAddress}`;
        try {
          const a = m[1] === "approve" ? approvals.approve(m[2]!, by) : approvals.reject(m[2]!, by);
          return send(res, 200, a);
        } catch (err) {
          if (err instanceof ApprovalError)
            return send(res, err.code === "NotFound" ? 404 : 409, { error: err.message });
          throw err;
        }
      }
      return send(res, 404, { error: `No route ${route}` });
    };
    await new Promise<void>((res, rej) => {
      server!.once("error", rej);
      server!.listen(c.listen.port, c.listen.host, () => res());
    });
    const addr = server.address() as AddressInfo;
    const url = `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;
    if (testbedPrometheus) {
      // As a cluster's Prometheus scrapes the controller's and the agent's pods.
      const targets = [{ address: `${url.slice("http://".length)}`, job: "controller" }];
      if (c.agentUrl) targets.push({ address: new URL(c.agentUrl).host, job: "agent" });
      await testbedPrometheus.addScrapeTargets(targets);
    }
    note(
      "started",
      `${c.name}: ${c.mode}, ${c.backend}, listening on ${url}${testbedPrometheus ? `, Prometheus ${testbedPrometheus.url}` : ""}`,
    );

    let stopping: Promise<string[]> | null = null;
    const stop = () => {
      stopping ??= (async () => {
        const left: string[] = [];
        stopSignal.abort();
        if (chaos) left.push(...(await chaos.stop()));
        const err = await done;
        if (err !== null) left.push(`loop: ${err}`);
        await pauseWatch?.stop();
        await new Promise<void>((r) => server!.close(() => r()));
        server!.closeAllConnections();
        try {
          await closeBackend();
        } catch (e) {
          left.push(e instanceof Error ? e.message : String(e));
        }
        await openStore.finishRun(c.name, "interrupted").catch((e) => left.push(`store: ${String(e)}`));
        await openStore.close().catch((e) => left.push(`store: ${String(e)}`));
        note("stopped", left.length === 0 ? "clean" : left.join("; "));
        await explainer?.close();
        await new Promise<void>((r) => audit.end(() => r()));
        return left;
      })();
      return stopping;
    };
    return {
      url,
      prometheusUrl: testbedPrometheus?.url ?? null,
      runId: c.name,
      episodeId,
      metrics,
      approvals,
      onAudit: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      stop,
      done,
    };
  } catch (err) {
    await explainer?.close();
    await pauseWatch?.stop();
    server?.close();
    await closeBackend().catch(() => {});
    await store?.close().catch(() => {});
    audit.end();
    throw err;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function stepJson(r: StepRecord): object {
  const s = r.snapshot;
  return {
    // The state codec that fed the decision, by name ("none": the noop fallback decided).
    codec: codecName(r.codec),
    proposed: r.proposed,
    confidence: r.confidence,
    executed: r.executed,
    reason: r.reason,
    message: r.message,
    applied: r.applied,
    sloOk: r.sloOk,
    reward: r.reward,
    activeFaults: r.activeFaults,
    observed: {
      desiredReplicas: s.desiredReplicas,
      readyReplicas: s.readyReplicas,
      cpu: s.cpu,
      memory: s.memory,
      latencyMs: s.latencyMs,
      errorRate: s.errorRate,
      requestRate: s.requestRate,
      missing: s.missing,
    },
  };
}
