/**
 * Test support: the agent service at the HTTP level, as the controller's tests need it: a
 * valid `/predict` reply with a fixed action, a 500, or no reply at all. One copy, shared by
 * the tests of the controller's dependencies (controller.test.ts, controller-kube.test.ts).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ACTION_NAMES } from "../core/contract.ts";

export type FakeAgentMode = "ok" | "500" | "hang";

export interface FakeAgent {
  readonly url: string;
  set(mode: FakeAgentMode): void;
  close(): Promise<void>;
}

export async function startFakeAgent(action: number): Promise<FakeAgent> {
  let mode: FakeAgentMode = "ok";
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (mode === "hang") return; // never answers
      if (mode === "500") {
        res.writeHead(500, { "content-type": "application/json" });
        res.end('{"title":"boom"}');
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          action,
          actionName: ACTION_NAMES[action],
          confidence: 0.9,
          probs: null,
          value: null,
          model: { sha256: "x", codec: "obs-v1" },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (m) => {
      mode = m;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
