/**
 * The Service in front of the replicas: an HTTP reverse proxy that spreads requests round-
 * robin over the endpoints it is given (ready, not drained, not terminating; the supervisor
 * decides), through each replica's delaying proxy while a network-delay fault is on it.
 *
 * It is also where the testbed measures what clients get, as an ingress or a mesh does:
 * `http_requests_total{namespace,pod,code,route}` and the
 * `http_request_duration_seconds` histogram, labelled with the upstream pod, include the
 * network delay and the failures of a pod that died with requests in flight (502), which
 * the replica's own instrumentation cannot see. Requests with no endpoint at all are 503
 * with `pod=""`. These are the per-pod request series the PromQL collector reads (the
 * replicas' own series are scraped under `kubernetes_pod_name`, see testbed.ts).
 */
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Histogram, Registry } from "prom-client";
import { LATENCY_BUCKETS_S } from "../service/server.ts";
import { type DelayProxy, startDelayProxy } from "./delay-proxy.ts";

export interface BalancerEndpoint {
  readonly pod: string;
  readonly port: number;
  /** Network delay on this replica's traffic, ms (0: none). */
  readonly delayMs?: number;
}

export interface Balancer {
  readonly port: number;
  readonly metricsPort: number;
  readonly registry: Registry;
  setEndpoints(eps: readonly BalancerEndpoint[]): Promise<void>;
  close(): Promise<void>;
}

const UPSTREAM_TIMEOUT_MS = 10_000;

export async function startBalancer(o: { namespace: string; port?: number; metricsPort?: number }): Promise<Balancer> {
  const registry = new Registry();
  const requests = new Counter({
    name: "http_requests_total",
    help: "Requests through the ingress, by upstream pod, status code and route.",
    labelNames: ["namespace", "pod", "code", "route"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from a request's arrival at the ingress to the end of its response, seconds.",
    labelNames: ["namespace", "pod", "code", "route"] as const,
    buckets: LATENCY_BUCKETS_S,
    registers: [registry],
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  let endpoints: { pod: string; target: number }[] = [];
  const proxies = new Map<string, DelayProxy>();
  let next = 0;

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const route = (req.url ?? "/").split("?", 1)[0]!;
    const end = duration.startTimer();
    let finished = false;
    const finish = (pod: string, code: number) => {
      if (finished) return;
      finished = true;
      const labels = { namespace: o.namespace, pod, code: String(code), route };
      requests.inc(labels);
      end(labels);
    };
    if (endpoints.length === 0) {
      res.writeHead(503).end("no ready endpoint\n");
      finish("", 503);
      return;
    }
    const ep = endpoints[next++ % endpoints.length]!;
    const up = request(
      {
        host: "127.0.0.1",
        port: ep.target,
        path: req.url,
        method: req.method,
        headers: req.headers,
        agent,
        timeout: UPSTREAM_TIMEOUT_MS,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.once("end", () => finish(ep.pod, upRes.statusCode ?? 502));
        upRes.once("error", () => finish(ep.pod, 502));
      },
    );
    const fail = (code: number) => {
      if (finished) return;
      if (!res.headersSent) res.writeHead(code).end("upstream failed\n");
      else res.destroy();
      finish(ep.pod, code);
    };
    up.once("timeout", () => {
      up.destroy();
      fail(504);
    });
    up.once("error", () => fail(502));
    req.pipe(up);
  };

  const server: Server = createServer(forward);
  server.keepAliveTimeout = 65_000;
  const metrics: Server = createServer(async (_req, res) => {
    const body = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType }).end(body);
  });
  await listenOn(server, o.port ?? 0);
  await listenOn(metrics, o.metricsPort ?? 0);

  return {
    port: (server.address() as AddressInfo).port,
    metricsPort: (metrics.address() as AddressInfo).port,
    registry,
    async setEndpoints(eps) {
      const next: { pod: string; target: number }[] = [];
      for (const e of eps) {
        const delay = e.delayMs ?? 0;
        let proxy = proxies.get(e.pod);
        if (delay > 0 && proxy && proxy.upstreamPort !== e.port) {
          await proxy.close();
          proxies.delete(e.pod);
          proxy = undefined;
        }
        if (delay > 0 && !proxy) {
          proxy = await startDelayProxy(e.port, delay);
          proxies.set(e.pod, proxy);
        }
        if (delay > 0) proxy!.delayMs = delay;
        next.push({ pod: e.pod, target: delay > 0 ? proxy!.port : e.port });
      }
      for (const [pod, proxy] of proxies) {
        if (!eps.some((e) => e.pod === pod && (e.delayMs ?? 0) > 0)) {
          proxies.delete(pod);
          await proxy.close();
        }
      }
      endpoints = next;
    },
    async close() {
      for (const p of proxies.values()) await p.close();
      proxies.clear();
      agent.destroy();
      await Promise.all([closeServer(server), closeServer(metrics)]);
    },
  };
}

function listenOn(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new Error(`port ${port} on 127.0.0.1 is already in use`) : err),
    );
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
