import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBS_V1 } from "../../harness/core/contract.ts";
import { createPolicy, preparePolicy } from "../index.ts";
import { loadOnnxModel, type OnnxPolicyModel } from "../onnx-model.ts";
import { DEFAULT_MODEL, resolveModelPath } from "../rl.ts";
import { steadySnapshot, testContext } from "../test-helpers.ts";
import { buildAgentApp } from "./app.ts";
import { AgentUnavailableError } from "./client.ts";

const quiet = { logger: { warn: () => {} } };
const snapshot = steadySnapshot();
const states = [
  [0.3, 0, 0, 0.5, 0.3, 0.05, 0, 1, 0.3],
  [0.1, 0.1, 0.1, 0.95, 0.9, 0.8, 0.3, 0, 0.3],
  [1, 0, 0, 0.05, 0.1, 0.01, 0, 1, 1],
].map((s) => Float32Array.from(s));

let model: OnnxPolicyModel;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  model = await loadOnnxModel(resolveModelPath(DEFAULT_MODEL), quiet);
  app = await buildAgentApp({ model });
  url = await app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await app?.close();
  await model?.dispose();
});

/** A server that accepts the request and never answers, for the timeout. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("rl policy with params.url", () => {
  it("decides what the local rl policy decides, through the running service", async () => {
    await preparePolicy("rl", {}, quiet);
    const local = createPolicy("rl", {}, testContext);
    // A generous timeout: this test is about the answers, and a busy machine is slow to the first one.
    const params = { url, timeoutMs: 10_000 };
    await preparePolicy("rl", params, quiet);
    const remote = createPolicy("rl", params, testContext);
    expect(states).toHaveLength(3);
    for (const s of states) {
      expect(s).toHaveLength(OBS_V1.dim);
      const [a, b] = [await local.decide(s, snapshot), await remote.decide(s, snapshot)];
      expect(b.action).toBe(a.action);
      expect(b.confidence).toBeCloseTo(a.confidence, 6);
    }
  });

  it("throws AgentUnavailableError when nothing listens (the loop's fallback takes the step)", async () => {
    const down = await silentServer();
    const deadUrl = down.url;
    await down.close();
    const remote = createPolicy("rl", { url: deadUrl, timeoutMs: 5_000 }, testContext);
    const err = await remote.decide(states[0]!, snapshot).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AgentUnavailableError);
    expect((err as Error).message).toContain("ECONNREFUSED");
  });

  it("throws after timeoutMs when the service does not answer", async () => {
    const silent = await silentServer();
    try {
      const remote = createPolicy("rl", { url: silent.url, timeoutMs: 50 }, testContext);
      await expect(remote.decide(states[0]!, snapshot)).rejects.toThrow(/no answer within 50 ms/);
    } finally {
      await silent.close();
    }
  });

  it("throws on a non-200 answer, with the status", async () => {
    const remote = createPolicy("rl", { url: `${url}/nowhere`, timeoutMs: 5_000 }, testContext);
    await expect(remote.decide(states[0]!, snapshot)).rejects.toThrow(/HTTP 404/);
  });

  it("refuses a url that is not a URL at parse time", () => {
    expect(() => createPolicy("rl", { url: "localhost 8080" }, testContext)).toThrow();
  });
});
