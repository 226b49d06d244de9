/**
 * Network delay in the traffic path, for kernels without `netem` (this one answers
 * "Specified qdisc kind is unknown"): a TCP proxy in front of one replica that holds every
 * chunk the replica sends for `delayMs` before passing it on, the way Chaos Mesh's
 * NetworkChaos delays a pod's egress (and as toxiproxy's latency toxic does). Order is
 * kept: chunks of one connection leave in the order they came, each `delayMs` late.
 */

import type { AddressInfo } from "node:net";
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface DelayProxy {
  readonly port: number;
  readonly upstreamPort: number;
  delayMs: number;
  close(): Promise<void>;
}

export async function startDelayProxy(upstreamPort: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const state = { delayMs };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    let open = true;
    const closeBoth = () => {
      if (!open) return;
      open = false;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      setTimeout(() => {
        if (open) client.write(chunk);
      }, state.delayMs);
    });
    // The end travels behind the data it follows.
    upstream.on("end", () => setTimeout(() => client.end(), state.delayMs));
    client.on("end", () => upstream.end());
    client.on("error", closeBoth);
    upstream.on("error", closeBoth);
    client.on("close", () => setTimeout(closeBoth, state.delayMs));
    upstream.on("close", () => setTimeout(closeBoth, state.delayMs + 1));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    upstreamPort,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v: number) {
      state.delayMs = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
