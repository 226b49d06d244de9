/**
 * The harness's handle on a traffic process (traffic-main.ts): fork it, wait for it to
 * listen, send it requests and await their answers, stop it. A process that dies or
 * answers nothing within the deadline is one clear error: a request waiting when it dies
 * fails at once, and `exited` says how it ended (the testbed restarts it, testbed.ts).
 */
import { type ChildProcess, fork } from "node:child_process";
import { type BundleHold, holdBundles } from "./bundle.ts";
import type { ClientWindow } from "./loadgen.ts";
import { type ToBalancer, type ToLoadgen, type ToParent, toParentSchema } from "./traffic-ipc.ts";

type Reply = Extract<ToParent, { seq: number }>;
/** A request without its sequence number (distributes over the union, unlike `Omit`). */
type Request<T> = T extends unknown ? Omit<T, "seq"> : never;

/** How a traffic process ended. */
export interface TrafficExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class TrafficProcess {
  private readonly child: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private gone = false;
  /** Resolves when the process has exited, whoever ended it. */
  readonly exited: Promise<TrafficExit>;
  port = 0;
  metricsPort = 0;

  private constructor(child: ChildProcess, bundle: BundleHold) {
    this.child = child;
    child.on("message", (raw) => {
      const msg = toParentSchema.parse(raw);
      if ("seq" in msg) {
        this.waiting.get(msg.seq)?.resolve(msg);
        this.waiting.delete(msg.seq);
      }
    });
    // A send to a process that died meanwhile fails here, not as an uncaught 'error' event.
    child.on("error", (err) => this.failWaiting(err));
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.gone = true;
        bundle.release();
        this.failWaiting(new Error(`traffic process has exited (${signal ?? `code ${code}`})`));
        resolve({ code, signal });
      });
    });
  }

  /** Whether the process has exited. */
  get hasExited(): boolean {
    return this.gone;
  }

  private failWaiting(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(role: "balancer" | "loadgen", config: object, timeoutMs = 30_000): Promise<TrafficProcess> {
    const bundle = await holdBundles();
    const child = fork(bundle.path("traffic"), [role, JSON.stringify(config)], {
      execArgv: [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const t = new TrafficProcess(child, bundle);
    const listening = new Promise<Extract<ToParent, { type: "listening" }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role} did not start within ${timeoutMs} ms`)), timeoutMs);
      child.on("message", (raw) => {
        const msg = toParentSchema.parse(raw);
        if (msg.type === "listening") {
          clearTimeout(timer);
          resolve(msg);
        } else if (msg.type === "error") {
          clearTimeout(timer);
          reject(new Error(`${role}: ${msg.message}`));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${role} exited with code ${code} while starting`));
      });
    });
    try {
      const msg = await listening;
      t.port = msg.port;
      t.metricsPort = msg.metricsPort;
    } catch (err) {
      await t.stop();
      throw err;
    }
    return t;
  }

  private ask(msg: Request<ToBalancer | ToLoadgen>, timeoutMs = 10_000): Promise<Reply> {
    if (this.gone) return Promise.reject(new Error("traffic process has exited"));
    const seq = this.seq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new Error(`traffic process did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(seq, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ ...msg, seq });
    });
  }

  async setEndpoints(endpoints: ToBalancer["endpoints"]): Promise<void> {
    await this.ask({ type: "endpoints", endpoints });
  }

  async setRate(rps: number): Promise<void> {
    await this.ask({ type: "rate", rps });
  }

  async takeWindow(): Promise<ClientWindow> {
    const r = await this.ask({ type: "window" });
    if (r.type !== "window") throw new Error(`unexpected reply ${r.type}`);
    const w = r.window;
    return { ...w, p50Ms: w.p50Ms ?? Number.NaN, p95Ms: w.p95Ms ?? Number.NaN, p99Ms: w.p99Ms ?? Number.NaN };
  }

  async stop(): Promise<void> {
    if (this.gone) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }
}
