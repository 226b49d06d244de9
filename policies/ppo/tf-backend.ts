/**
 * Loads tfjs with the fastest backend this machine has: `@tensorflow/tfjs-node` (native
 * TensorFlow) when it is installed, else `@tensorflow/tfjs-backend-wasm` (XNNPACK, one
 * thread: deterministic). tfjs-node is optional: its install script downloads libtensorflow,
 * which fails on machines without full internet access, so it is never a dependency.
 *
 * The wasm binaries ship in the backend package's `dist/`; Node needs their path set
 * explicitly (`setWasmPaths`) before the backend initialises.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs";

export type TfBackendName = "tensorflow" | "wasm" | "cpu";

let ready: Promise<TfBackendName> | null = null;

/**
 * Initialises tfjs once per process and returns the backend in use. `prefer` forces one
 * ("wasm" skips the tfjs-node probe; "cpu" is tfjs's pure-JS backend, for debugging).
 */
export function initTf(prefer?: TfBackendName): Promise<TfBackendName> {
  ready ??= pick(prefer);
  return ready;
}

async function pick(prefer?: TfBackendName): Promise<TfBackendName> {
  if (prefer === undefined || prefer === "tensorflow") {
    try {
      // A variable specifier keeps TypeScript and bundlers from requiring the package.
      const name = "@tensorflow/tfjs-node";
      await import(name);
      if (await tf.setBackend("tensorflow")) {
        await tf.ready();
        return "tensorflow";
      }
    } catch {
      // Not installed (the usual case): fall through to wasm.
    }
  }
  if (prefer !== "cpu") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
    // Emscripten reads the binaries from this folder with fs (no fetch of a file path in Node).
    wasm.setWasmPaths(join(dist, "/"));
    wasm.setThreadsCount(1);
    if (await tf.setBackend("wasm")) {
      await tf.ready();
      return "wasm";
    }
  }
  await tf.setBackend("cpu");
  await tf.ready();
  return "cpu";
}

export { tf };
