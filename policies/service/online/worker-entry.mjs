// The online-learning job's worker thread: registers tsx (a worker inherits no TypeScript
// loader), runs one job (job.ts) and posts its result, or its error, back.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { runJob } = await import("./job.ts");
try {
  parentPort.postMessage({ ok: true, result: await runJob(workerData) });
} catch (err) {
  parentPort.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}
