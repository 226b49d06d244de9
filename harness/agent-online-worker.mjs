// The agent service's online-learning job on a worker thread (policies/service/online/
// updater.ts starts it): registers tsx (a worker inherits no TypeScript loader), runs one job
// (fine-tune, export, paired evaluation) and posts its result, or its error, back. It lives in
// harness/ because it wires the policy-side job to the loop-side evaluation.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { runJob } = await import("../policies/service/online/job.ts");
const { evaluatePaired } = await import("./agent-validation.ts");
try {
  parentPort.postMessage({ ok: true, result: await runJob(workerData, evaluatePaired) });
} catch (err) {
  parentPort.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}
