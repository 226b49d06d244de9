/**
 * For runner.test.ts: a process that starts Prometheus, prints
 * `{"pid":P,"dir":D,"port":N}` on stdout and waits, so the test can signal it and check
 * that its signal handling stopped the server and deleted the directory.
 */
import { startPrometheus } from "./runner.ts";

const prom = await startPrometheus({ targets: [] });
process.stdout.write(`${JSON.stringify({ pid: prom.pid, dir: prom.dir, port: prom.port })}\n`);
// Keeps the event loop alive until a signal arrives.
setInterval(() => {}, 60_000);
