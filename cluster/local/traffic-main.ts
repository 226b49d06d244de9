/**
 * Entry of the testbed's traffic processes, forked by the harness with an IPC channel:
 * `balancer` (the Service/ingress) or `loadgen` (the clients). Each runs in its own process
 * so that neither shares an event loop with the replicas or with the controller loop it is
 * measuring. Messages in both directions are checked by the zod schemas in traffic-ipc.ts.
 * The process exits when its parent goes away (the IPC channel closes).
 */
import { startBalancer } from "./balancer.ts";
import { LoadGenerator } from "./loadgen.ts";
import { type ToParent, toBalancerSchema, toLoadgenSchema } from "./traffic-ipc.ts";

function send(msg: ToParent): void {
  process.send?.(msg);
}

const role = process.argv[2];
const config = JSON.parse(process.argv[3] ?? "{}") as Record<string, unknown>;
process.on("disconnect", () => process.exit(0));

if (role === "balancer") {
  const lb = await startBalancer({
    namespace: String(config.namespace ?? "chaos-rl"),
    port: Number(config.port ?? 0),
    metricsPort: Number(config.metricsPort ?? 0),
  });
  process.on("message", (raw) => {
    const msg = toBalancerSchema.parse(raw);
    lb.setEndpoints(msg.endpoints).then(
      () => send({ type: "ack", seq: msg.seq }),
      (err: Error) => send({ type: "error", message: err.message }),
    );
  });
  send({ type: "listening", port: lb.port, metricsPort: lb.metricsPort });
} else if (role === "loadgen") {
  const gen = new LoadGenerator({ url: String(config.url) });
  process.on("message", (raw) => {
    const msg = toLoadgenSchema.parse(raw);
    if (msg.type === "rate") {
      gen.setRate(msg.rps);
      send({ type: "ack", seq: msg.seq });
    } else send({ type: "window", seq: msg.seq, window: gen.takeWindow() });
  });
  send({ type: "listening", port: 0, metricsPort: 0 });
} else {
  process.stderr.write(`unknown traffic role ${role}\n`);
  process.exit(2);
}
