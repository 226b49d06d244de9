// The gradient worker thread's entry: registers tsx (a worker inherits no TypeScript loader
// from the bin or a test runner), then runs the worker loop of grad-worker.ts.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { runGradWorker } = await import("./grad-worker.ts");
runGradWorker(workerData);
