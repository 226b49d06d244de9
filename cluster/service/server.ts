/**
 * The demo service (issue 13, part 1): a small HTTP API with the endpoints a Kubernetes
 * deployment expects, so that load moves CPU, latency and memory like a real one.
 * - `GET /health`: liveness; 200 while the event loop answers.
 * - `GET /ready`: readiness; 503 during warm-up, 200 after.
 * - `GET /api/work`: burns `WORK_MS` of CPU and allocates `ALLOC_KIB` per request.
 * - `GET /metrics`: prom-client's exposition: `http_requests_total{code,route}`, the
 *   `http_request_duration_seconds` histogram, and the process CPU/memory series.
 * node:http rather than a framework: four routes, and a replica starts in ~0.1 s more.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { type ServiceOptions, type ServiceOptionsInput, serviceOptionsSchema } from "./options.ts";
import { type CpuWork, calibrateCpuWork, touchMemory } from "./work.ts";

/** Buckets around the SLOs the scenarios use (300 ms by default): fine below, coarse above. */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10];

const ROUTES = new Set(["/health", "/ready", "/api/work", "/metrics"]);

export interface DemoService {
  readonly server: Server;
  readonly port: number;
  readonly options: ServiceOptions;
  readonly registry: Registry;
  readonly work: CpuWork;
  close(): Promise<void>;
}

export async function startDemoService(input: ServiceOptionsInput = {}): Promise<DemoService> {
  const options = serviceOptionsSchema.parse(input);
  const work = calibrateCpuWork();
  const registry = new Registry();
  // No pod label here: as on a cluster, Prometheus adds namespace/pod/container from the scrape target.
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests served, by status code and route.",
    labelNames: ["code", "route"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from request arrival to the end of the response, seconds.",
    labelNames: ["code", "route"] as const,
    buckets: LATENCY_BUCKETS_S,
    registers: [registry],
  });
  const readyAt = Date.now() + options.WARMUP_MS;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const path = (req.url ?? "/").split("?", 1)[0]!;
    if (req.method !== "GET") return send(res, 405, "method not allowed\n");
    switch (path) {
      case "/health":
        return send(res, 200, "ok\n");
      case "/ready":
        return Date.now() >= readyAt ? send(res, 200, "ready\n") : send(res, 503, "warming up\n");
      case "/api/work": {
        const mem = touchMemory(options.ALLOC_KIB);
        const x = work.burn(options.WORK_MS);
        return send(res, 200, `{"result":${x ^ mem[0]!}}\n`, "application/json");
      }
      case "/metrics": {
        const body = await registry.metrics();
        return send(res, 200, body, registry.contentType);
      }
      default:
        return send(res, 404, "not found\n");
    }
  };

  const server = createServer((req, res) => {
    const end = duration.startTimer();
    const path = (req.url ?? "/").split("?", 1)[0]!;
    const route = ROUTES.has(path) ? path : "other";
    handle(req, res).then(
      (code) => {
        const labels = { code: String(code), route };
        requests.inc(labels);
        end(labels);
      },
      (err: unknown) => {
        if (!res.headersSent) send(res, 500, `${err instanceof Error ? err.message : String(err)}\n`);
        const labels = { code: "500", route };
        requests.inc(labels);
        end(labels);
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.PORT, options.HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    options,
    registry,
    work,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, code: number, body: string, type = "text/plain; charset=utf-8"): number {
  res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
  return code;
}
