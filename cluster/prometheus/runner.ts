/**
 * Runs Debian's `prometheus` for the local testbed: on a loopback port, with a generated
 * config and a temporary data directory, scraping the targets the caller names. Start
 * returns once the server answers `/-/ready`; `stop()` ends the
 * process and deletes the directory. The same happens on error, on `process.exit` and on
 * SIGINT/SIGTERM when nobody else handles them, so no server or data directory outlives
 * the harness (a SIGKILL of the harness is the one case this cannot cover).
 *
 * Targets come through a file_sd file rather than the config itself, so `setTargets()` can
 * follow replicas that come and go (new ports after a restart) without a reload.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { stringify } from "yaml";
import { activeTargets } from "./api.ts";
import { PrometheusError, PrometheusErrorCode } from "./errors.ts";

/** One endpoint to scrape. */
export interface ScrapeTarget {
  /** `host:port`, e.g. `127.0.0.1:41234`. */
  readonly address: string;
  /** @default "/metrics" */
  readonly metricsPath?: string;
  /** The `job` label. @default "testbed" */
  readonly job?: string;
  /** Extra target labels (e.g. `namespace`, `pod` for a replica, as Kubernetes discovery would add). */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface PrometheusOptions {
  readonly targets: readonly ScrapeTarget[];
  /** Scrape interval, seconds: short enough for the loop's step (a few scrapes per step). @default 1 */
  readonly scrapeIntervalS?: number;
  /** Loopback port to listen on; a port in use is an error. @default a free port */
  readonly port?: number;
  /** The executable, a path or a name looked up on PATH. @default "prometheus" */
  readonly binary?: string;
  /** How long to wait for `/-/ready` and for the targets to load, ms (a busy 2-core machine is slow). @default 60000 */
  readonly readyTimeoutMs?: number;
  /** Aborting it while starting stops the server and throws. */
  readonly signal?: AbortSignal;
}

export interface RunningPrometheus {
  /** Base URL, e.g. `http://127.0.0.1:41235`. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The temporary directory holding config, targets file and TSDB; deleted by `stop()`. */
  readonly dir: string;
  readonly scrapeIntervalS: number;
  /**
   * Replaces the scraped targets and resolves once Prometheus has loaded the new set. Prometheus
   * batches discovery updates every 5 s, so this takes up to ~5 s, as on a real cluster.
   */
  setTargets(targets: readonly ScrapeTarget[], signal?: AbortSignal): Promise<void>;
  /**
   * Resolves once every active target has been scraped after `sinceMs` (epoch ms; default:
   * now), each seen so at some check, not necessarily all at the same one: the event to wait
   * for after changing what an exporter shows. With `requireUp`
   * (default true) every scrape must have succeeded; without, a target that is down (a
   * frozen or killed replica) counts once Prometheus has tried it. A timeout is a transient
   * `PrometheusError`.
   */
  waitForScrape(options?: {
    sinceMs?: number;
    timeoutMs?: number;
    requireUp?: boolean;
    signal?: AbortSignal;
  }): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and deletes `dir`. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_JOB = "testbed";
const POLL_MS = 25;
const KILL_AFTER_MS = 10_000;

/** Finds the executable as a shell would; null when absent. */
export function findExecutable(binary: string): string | null {
  const candidates = binary.includes("/")
    ? [binary]
    : (process.env.PATH ?? "").split(delimiter).map((d) => join(d || ".", binary));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  return null;
}

/** Asks the kernel for a free loopback port, or checks that `port` is free. */
async function reservePort(port: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE" || e.code === "EACCES") {
        reject(
          new PrometheusError(
            PrometheusErrorCode.PortInUse,
            `Cannot start Prometheus: port 127.0.0.1:${port} is ${e.code === "EACCES" ? "not allowed" : "in use"}; choose another port or leave it out to use a free one`,
          ),
        );
      } else reject(e);
    });
    server.listen(port, "127.0.0.1", () => {
      const got = (server.address() as { port: number }).port;
      server.close(() => resolve(got));
    });
  });
}

/** The file_sd document: one group per (job, path, labels). */
function targetGroups(targets: readonly ScrapeTarget[]): object[] {
  return targets.map((t) => ({
    targets: [t.address],
    labels: { job: t.job ?? DEFAULT_JOB, __metrics_path__: t.metricsPath ?? "/metrics", ...t.labels },
  }));
}

function scrapeUrl(t: ScrapeTarget): string {
  return `http://${t.address}${t.metricsPath ?? "/metrics"}`;
}

function configYaml(scrapeIntervalS: number, targetsFile: string): string {
  const interval = `${Math.round(scrapeIntervalS * 1000)}ms`;
  return stringify({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: "1m" },
    scrape_configs: [
      {
        job_name: DEFAULT_JOB,
        // The testbed's exporters speak for the pods they describe, as kube-state-metrics
        // does: their own `namespace`/`pod` labels win over the target's.
        honor_labels: true,
        file_sd_configs: [{ files: [targetsFile] }],
      },
    ],
  });
}

function writeAtomically(path: string, text: string): void {
  // Prometheus watches the file: a rename is one event with the whole content.
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

// Servers started by this process, for the exit and signal handlers.
const live = new Set<{ child: ChildProcess; dir: string; stop(): Promise<void> }>();
let handlersInstalled = false;

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Last resort on process.exit(): synchronous, so SIGKILL and rmSync.
  process.on("exit", () => {
    for (const p of live) {
      p.child.kill("SIGKILL");
      rmSync(p.dir, { recursive: true, force: true });
    }
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      // Someone else (the CLI's deferred Ctrl-C) owns this signal: they exit in their own
      // time and the exit handler above cleans up. Otherwise stop cleanly, then die of the
      // signal as the default action would.
      if (process.listenerCount(sig) > 1) return;
      void Promise.allSettled([...live].map((p) => p.stop())).then(() => {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      });
    };
    process.on(sig, onSignal);
  }
}

/**
 * Starts Prometheus and resolves once `/-/ready` answers (typically ~0.2 s). The targets are
 * scraped from up to ~5 s later (see {@link RunningPrometheus.waitForScrape}).
 */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const binaryName = options.binary ?? "prometheus";
  const binary = findExecutable(binaryName);
  if (binary === null) {
    throw new PrometheusError(
      PrometheusErrorCode.NotInstalled,
      `Prometheus is not installed: no executable "${binaryName}" on PATH; install the Debian package: apt-get install prometheus`,
    );
  }
  const scrapeIntervalS = options.scrapeIntervalS ?? 1;
  if (!(scrapeIntervalS >= 0.1)) {
    throw new RangeError(`Expected scrapeIntervalS to be at least 0.1 s, got ${scrapeIntervalS}`);
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  // An explicit port that is taken is the caller's error; a free one picked here can still be
  // taken by someone else before Prometheus binds it, so that case tries again.
  const attempts = options.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = await reservePort(options.port ?? 0);
    try {
      return await startOnPort(binary, port, scrapeIntervalS, readyTimeoutMs, options);
    } catch (e) {
      if (attempt < attempts && e instanceof PrometheusError && e.code === PrometheusErrorCode.PortInUse) continue;
      throw e;
    }
  }
}

async function startOnPort(
  binary: string,
  port: number,
  scrapeIntervalS: number,
  readyTimeoutMs: number,
  options: PrometheusOptions,
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "chaos-rl-prometheus-"));
  const targetsFile = join(dir, "targets.json");
  const configFile = join(dir, "prometheus.yml");
  writeAtomically(targetsFile, JSON.stringify(targetGroups(options.targets)));
  writeFileSync(configFile, configYaml(scrapeIntervalS, targetsFile));

  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // POST /-/quit and /-/reload; stop() still uses signals.
      "--web.enable-lifecycle",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  // Keep the last lines of its log for error messages.
  const logTail: string[] = [];
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    for (const line of chunk.split("\n")) if (line.trim() !== "") logTail.push(line);
    if (logTail.length > 20) logTail.splice(0, logTail.length - 20);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    child.once("error", (e) => resolve(e.message));
  });
  let exitStatus: number | string | null = null;
  void exited.then((s) => {
    exitStatus = s;
  });

  let stopping: Promise<void> | null = null;
  const entry = {
    child,
    dir,
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (exitStatus === null) {
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
          await exited;
          clearTimeout(killer);
        }
        rmSync(dir, { recursive: true, force: true });
        live.delete(entry);
      })();
      return stopping;
    },
  };
  live.add(entry);
  installProcessHandlers();

  const failed = (what: string) => {
    const log = logTail.join(" | ");
    if (/address already in use/.test(log)) {
      return new PrometheusError(
        PrometheusErrorCode.PortInUse,
        `Cannot start Prometheus: port 127.0.0.1:${port} is in use; choose another port or leave it out to use a free one`,
      );
    }
    return new PrometheusError(PrometheusErrorCode.StartFailed, `Prometheus ${what}${log ? `: ${log}` : ""}`);
  };

  let started = false;
  // Waits, polling an endpoint every POLL_MS, until `check` holds; fails fast when the process dies.
  const until = async (check: () => Promise<boolean>, what: string, timeoutMs: number, signal?: AbortSignal) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      if (exitStatus !== null) throw failed(`exited (${exitStatus}) before ${what}`);
      try {
        if (await check()) return;
      } catch (e) {
        if (!(e instanceof PrometheusError && e.transient)) throw e;
      }
      if (Date.now() > deadline) {
        // Before ready, a start that failed; after, a server too slow for the wait (transient).
        if (!started) throw failed(`did not ${what} within ${timeoutMs} ms`);
        throw new PrometheusError(PrometheusErrorCode.Unavailable, `Prometheus did not ${what} within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };

  const callOpts = { timeoutMs: 2_000 };
  const isReady = async () => {
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      // Not listening yet (connection refused) is the normal case while it starts.
      return false;
    }
  };
  const targetsLoaded = async (targets: readonly ScrapeTarget[]) => {
    const want = new Set(targets.map(scrapeUrl));
    const have = await activeTargets(url, callOpts);
    return have.length === want.size && have.every((t) => want.has(t.scrapeUrl));
  };

  let currentTargets = options.targets;
  const handle: RunningPrometheus = {
    url,
    port,
    pid: child.pid ?? -1,
    dir,
    scrapeIntervalS,
    async setTargets(targets, signal) {
      currentTargets = targets;
      writeAtomically(targetsFile, JSON.stringify(targetGroups(targets)));
      await until(() => targetsLoaded(targets), "load the new targets", readyTimeoutMs, signal);
    },
    async waitForScrape(o = {}) {
      const since = o.sinceMs ?? Date.now();
      const requireUp = o.requireUp ?? true;
      // What the last check still missed, for the timeout's message.
      let lacking = "";
      // A target counts once one check saw it scraped since `since`: on a busy machine the
      // targets' scrapes may fail and succeed in turn, and need not all be up at one instant.
      const seen = new Set<string>();
      const check = async () => {
        const have = await activeTargets(url, callOpts);
        for (const t of have) {
          if ((t.health === "up" || !requireUp) && Date.parse(t.lastScrape) >= since) seen.add(t.scrapeUrl);
        }
        const behind = have.filter((t) => !seen.has(t.scrapeUrl));
        lacking =
          have.length !== currentTargets.length
            ? `${have.length} of ${currentTargets.length} targets discovered`
            : behind.map((t) => `${t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ""}`).join(", ");
        return have.length === currentTargets.length && behind.length === 0;
      };
      try {
        await until(check, "scrape every target", o.timeoutMs ?? readyTimeoutMs, o.signal);
      } catch (e) {
        if (e instanceof PrometheusError && lacking !== "") e.message += `: ${lacking}`;
        throw e;
      }
    },
    stop: () => entry.stop(),
    [Symbol.asyncDispose]: () => entry.stop(),
  };

  try {
    // Ready only: Prometheus's discovery manager hands targets to the scrapers in batches
    // every 5 s (also for static configs), so the first scrape comes up to ~5 s after this.
    // Callers that need data wait for it with waitForScrape().
    await until(isReady, "become ready", readyTimeoutMs, options.signal);
    started = true;
  } catch (e) {
    await entry.stop();
    throw e;
  }
  return handle;
}
