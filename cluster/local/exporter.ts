/**
 * The HTTP endpoint Prometheus scrapes for the testbed's cluster-level series: kube-state-
 * metrics at `/metrics/kube-state-metrics`, cAdvisor at `/metrics/cadvisor` (the kubelet's
 * path), on loopback. Port 0 by default: the kernel picks a free one.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { renderCadvisorMetrics, renderKubeStateMetrics } from "./kube-metrics.ts";
import type { Supervisor } from "./supervisor.ts";

export const KSM_PATH = "/metrics/kube-state-metrics";
export const CADVISOR_PATH = "/metrics/cadvisor";

export interface Exporter {
  readonly port: number;
  close(): Promise<void>;
}

export async function startExporter(s: Supervisor, port = 0): Promise<Exporter> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    let body: string | null = null;
    if (path === KSM_PATH) body = renderKubeStateMetrics(s);
    else if (path === CADVISOR_PATH) body = renderCadvisorMetrics(s);
    if (body === null) {
      res.writeHead(404).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(body);
  });
  await listen(server, port);
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Listens on loopback; a port in use is one clear error naming it. */
export function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new Error(`port ${port} on 127.0.0.1 is already in use`) : err),
    );
    server.listen(port, "127.0.0.1", () => resolve());
  });
}
