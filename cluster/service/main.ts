/**
 * Entry point of one demo-service process (a replica of the testbed, or the container).
 * Settings come from the environment (options.ts). Prints one JSON line
 * `{"event":"listening","port":N,"pid":P}` on stdout once it accepts connections, so a
 * supervisor that asked for port 0 learns which port it got. SIGTERM closes the server
 * gracefully, as a kubelet's termination would.
 */
import { startDemoService } from "./server.ts";

const service = await startDemoService(process.env);
process.stdout.write(`${JSON.stringify({ event: "listening", port: service.port, pid: process.pid })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  service.close().then(() => process.exit(0));
  // A connection that never finishes must not keep a terminating pod alive forever.
  setTimeout(() => process.exit(0), 5_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// An orphaned replica (its supervisor killed with SIGKILL) exits instead of lingering:
// Node has no PR_SET_PDEATHSIG, so watch for the re-parenting.
const parent = process.ppid;
if (process.env.EXIT_WITH_PARENT === "1") {
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 500).unref();
}
