/**
 * CPU and memory limits for a replica, the way a container runtime sets them: one cgroup
 * per pod with a CFS quota and a memory limit, usage read back the way cAdvisor does.
 *
 * - `v1` (this kind of machine): `cpu.cfs_quota_us`, `memory.limit_in_bytes`, usage from
 *   `cpuacct.usage` and `memory.usage_in_bytes` minus `total_inactive_file` (cAdvisor's
 *   working set), OOM kills from `memory.oom_control`, pause by the `freezer` controller.
 * - `v2`: `cpu.max`, `memory.max` with `memory.oom.group` (kubelet's setting: an OOM kills
 *   the whole container), `cpu.stat`, `memory.current`, `memory.events`, `cgroup.freeze`.
 * - `none`: no writable hierarchy (no root, a read-only mount). Nothing is limited; usage is
 *   summed from /proc over the pod's processes and pause is SIGSTOP. The reason is kept so
 *   the run records which mechanism stood in.
 *
 * Groups live under the harness's own cgroup (never the root), one parent per testbed
 * (`chaos-rl-<id>`), so that everything a testbed made can be found and removed by name.
 * Processes join a group by writing their own pid before `exec` (see `joinCommand`); the
 * harness never moves itself.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type CgroupMode = "v1" | "v2" | "none";

export interface CgroupLimits {
  /** CPU limit in cores (Kubernetes `limits.cpu`: 0.5 = 500m). */
  readonly cpuCores: number;
  /** Memory limit in bytes (Kubernetes `limits.memory`). */
  readonly memoryBytes: number;
}

export interface PodCgroup {
  readonly name: string;
  readonly limits: CgroupLimits;
  /** Files a new process writes its pid into to join the group (empty in `none` mode). */
  readonly procsFiles: readonly string[];
  /** Pids in the group (for `none`: the ones registered with `track`). */
  pids(): number[];
  /** For `none` mode: processes the pod started, since no group lists them. */
  track(pid: number): void;
  /** CPU time used by the group so far, seconds (cAdvisor `container_cpu_usage_seconds_total`). */
  cpuSeconds(): number;
  /** Usage minus inactive file cache, bytes (cAdvisor `container_memory_working_set_bytes`). */
  workingSetBytes(): number;
  /** OOM kills inside the group so far. */
  oomKills(): number;
  freeze(): void;
  thaw(): void;
  /** SIGKILLs every process of the group (thawing first: a frozen task cannot die). */
  killAll(): void;
  /** Kills what is left and removes the group's directories. */
  remove(): void;
}

export interface CgroupDriver {
  readonly mode: CgroupMode;
  /** Why this mode (e.g. "cgroup v1 cpu, cpuacct, memory, freezer writable", or what failed). */
  readonly detail: string;
  /** The testbed's parent group per controller (empty in `none` mode), for leftover checks. */
  readonly roots: readonly string[];
  create(pod: string, limits: CgroupLimits): PodCgroup;
  /** Removes the testbed's parent groups (pods' groups must be removed first). */
  close(): void;
}

const CFS_PERIOD_US = 100_000;
const V1_CONTROLLERS = ["cpu", "cpuacct", "memory", "freezer"] as const;
type V1Controller = (typeof V1_CONTROLLERS)[number];

/** Mount points of the cgroup v1 controllers and of the v2 hierarchy, from /proc/self/mountinfo. */
export function parseMountinfo(text: string): { v1: Map<string, string>; v2: string | null } {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of text.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mountPoint = pre.split(" ")[4]!;
    const [fsType, , superOpts] = post.split(" ");
    if (fsType === "cgroup2") v2 ??= mountPoint;
    if (fsType === "cgroup") {
      for (const opt of (superOpts ?? "").split(",")) {
        if ((V1_CONTROLLERS as readonly string[]).includes(opt)) v1.set(opt, mountPoint);
      }
    }
  }
  return { v1, v2 };
}

/** The process's own group path per v1 controller, and its v2 path (`0::/...`), from /proc/self/cgroup. */
export function parseProcCgroup(text: string): { v1: Map<string, string>; v2: string | null } {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "0" && m[2] === "") v2 = m[3]!;
    for (const c of m[2]!.split(",")) v1.set(c, m[3]!);
  }
  return { v1, v2 };
}

function read(path: string): string {
  return readFileSync(path, "utf8").trim();
}

function statField(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

function pidsOf(file: string): number[] {
  try {
    return read(file).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** rmdir, retrying while the kernel still counts exiting tasks in the group. */
function removeDir(dir: string, procs: string): void {
  if (!existsSync(dir)) return;
  const deadline = Date.now() + 5_000;
  for (;;) {
    killPids(pidsOf(procs));
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`could not remove cgroup ${dir}: ${(err as Error).message}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

// ---------------------------------------------------------------------------
// v1

function createV1(testbedId: string, mounts: Map<string, string>, own: Map<string, string>): CgroupDriver {
  const roots = V1_CONTROLLERS.map((c) => join(mounts.get(c)!, own.get(c) ?? "/", `chaos-rl-${testbedId}`));
  const rootOf = (c: V1Controller) => roots[V1_CONTROLLERS.indexOf(c)]!;
  for (const r of roots) mkdirSync(r, { recursive: true });
  return {
    mode: "v1",
    detail: `cgroup v1 (${V1_CONTROLLERS.map((c) => `${c} at ${mounts.get(c)}`).join(", ")})`,
    roots,
    create(pod, limits) {
      const dir = (c: V1Controller) => join(rootOf(c), pod);
      for (const c of V1_CONTROLLERS) mkdirSync(dir(c), { recursive: true });
      writeFileSync(join(dir("cpu"), "cpu.cfs_period_us"), String(CFS_PERIOD_US));
      writeFileSync(join(dir("cpu"), "cpu.cfs_quota_us"), String(Math.round(limits.cpuCores * CFS_PERIOD_US)));
      writeFileSync(join(dir("memory"), "memory.limit_in_bytes"), String(limits.memoryBytes));
      const procsFiles = V1_CONTROLLERS.map((c) => join(dir(c), "cgroup.procs"));
      const memProcs = join(dir("memory"), "cgroup.procs");
      const freezerState = join(dir("freezer"), "freezer.state");
      const g: PodCgroup = {
        name: pod,
        limits,
        procsFiles,
        pids: () => pidsOf(memProcs),
        track: () => {},
        cpuSeconds: () => Number(read(join(dir("cpuacct"), "cpuacct.usage"))) / 1e9,
        workingSetBytes: () => {
          const usage = Number(read(join(dir("memory"), "memory.usage_in_bytes")));
          const inactive = statField(read(join(dir("memory"), "memory.stat")), "total_inactive_file");
          return Math.max(0, usage - inactive);
        },
        oomKills: () => statField(read(join(dir("memory"), "memory.oom_control")), "oom_kill"),
        freeze: () => writeFileSync(freezerState, "FROZEN"),
        thaw: () => writeFileSync(freezerState, "THAWED"),
        killAll: () => {
          killPids(g.pids());
          g.thaw();
        },
        remove: () => {
          g.thaw();
          for (const c of V1_CONTROLLERS) removeDir(dir(c), join(dir(c), "cgroup.procs"));
        },
      };
      return g;
    },
    close() {
      for (const r of roots) removeDir(r, join(r, "cgroup.procs"));
    },
  };
}

// ---------------------------------------------------------------------------
// v2

function createV2(testbedId: string, mount: string, own: string): CgroupDriver {
  const root = join(mount, own, `chaos-rl-${testbedId}`);
  mkdirSync(root, { recursive: true });
  // The no-internal-process rule: controllers are enabled for the children of a group with no processes.
  writeFileSync(join(root, "cgroup.subtree_control"), "+cpu +memory");
  return {
    mode: "v2",
    detail: `cgroup v2 at ${mount}`,
    roots: [root],
    create(pod, limits) {
      const dir = join(root, pod);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "cpu.max"), `${Math.round(limits.cpuCores * CFS_PERIOD_US)} ${CFS_PERIOD_US}`);
      writeFileSync(join(dir, "memory.max"), String(limits.memoryBytes));
      writeFileSync(join(dir, "memory.oom.group"), "1");
      const procs = join(dir, "cgroup.procs");
      const g: PodCgroup = {
        name: pod,
        limits,
        procsFiles: [procs],
        pids: () => pidsOf(procs),
        track: () => {},
        cpuSeconds: () => statField(read(join(dir, "cpu.stat")), "usage_usec") / 1e6,
        workingSetBytes: () => {
          const usage = Number(read(join(dir, "memory.current")));
          return Math.max(0, usage - statField(read(join(dir, "memory.stat")), "inactive_file"));
        },
        oomKills: () => statField(read(join(dir, "memory.events")), "oom_kill"),
        freeze: () => writeFileSync(join(dir, "cgroup.freeze"), "1"),
        thaw: () => writeFileSync(join(dir, "cgroup.freeze"), "0"),
        killAll: () => {
          // cgroup.kill (Linux 5.14+) kills the whole group atomically; fall back to pid by pid.
          try {
            writeFileSync(join(dir, "cgroup.kill"), "1");
          } catch {
            killPids(g.pids());
          }
        },
        remove: () => {
          g.killAll();
          removeDir(dir, procs);
        },
      };
      return g;
    },
    close() {
      removeDir(root, join(root, "cgroup.procs"));
    },
  };
}

// ---------------------------------------------------------------------------
// none

/** CPU seconds and resident bytes of one process from /proc (0 when it is gone). */
function procUsage(pid: number): { cpuS: number; rssBytes: number } {
  try {
    const stat = read(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the command.
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rss = statField(read(`/proc/${pid}/status`).replace(/:\s+/g, " ").replace(/ kB$/gm, ""), "VmRSS");
    return { cpuS: ticks / 100, rssBytes: rss * 1024 };
  } catch {
    return { cpuS: 0, rssBytes: 0 };
  }
}

function createNone(detail: string): CgroupDriver {
  return {
    mode: "none",
    detail,
    roots: [],
    create(pod, limits) {
      const tracked = new Set<number>();
      // CPU of processes that have exited still counts, as it would in a cgroup.
      let exitedCpuS = 0;
      const last = new Map<number, number>();
      const live = () => [...tracked].filter((p) => existsSync(`/proc/${p}`));
      const g: PodCgroup = {
        name: pod,
        limits,
        procsFiles: [],
        pids: live,
        track: (pid) => tracked.add(pid),
        cpuSeconds: () => {
          let sum = 0;
          for (const pid of tracked) {
            const { cpuS } = procUsage(pid);
            if (existsSync(`/proc/${pid}`)) last.set(pid, cpuS);
            else {
              exitedCpuS += last.get(pid) ?? 0;
              last.delete(pid);
              tracked.delete(pid);
            }
            sum += last.get(pid) ?? 0;
          }
          return exitedCpuS + sum;
        },
        workingSetBytes: () => live().reduce((s, p) => s + procUsage(p).rssBytes, 0),
        oomKills: () => 0,
        freeze: () => signalAll(live(), "SIGSTOP"),
        thaw: () => signalAll(live(), "SIGCONT"),
        killAll: () => killPids(live()),
        remove: () => killPids(live()),
      };
      return g;
    },
    close() {},
  };
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone.
    }
  }
}

// ---------------------------------------------------------------------------

export interface CgroupOptions {
  /** Names the testbed's parent group `chaos-rl-<id>`. */
  readonly testbedId: string;
  /** `auto` tries v2 (when the unified hierarchy has cpu and memory), then v1, then none. @default "auto" */
  readonly mode?: CgroupMode | "auto";
  /** For tests: the files read instead of /proc/self/mountinfo and /proc/self/cgroup. */
  readonly procRoot?: string;
}

/** Picks and prepares the cgroup mechanism; never throws: what failed is kept in `detail` of `none`. */
/** What stands in when no hierarchy is writable (named in the detail, so a run says it). */
export const NONE_FALLBACK =
  "fallback: CPU and memory limits not enforced, usage summed from /proc, pod-failure by SIGSTOP/SIGCONT";

export function openCgroups(o: CgroupOptions): CgroupDriver {
  const want = o.mode ?? "auto";
  if (want === "none") return createNone(`cgroups not requested (mode none); ${NONE_FALLBACK}`);
  const proc = o.procRoot ?? "/proc/self";
  const failures: string[] = [];
  let mounts: ReturnType<typeof parseMountinfo>;
  let own: ReturnType<typeof parseProcCgroup>;
  try {
    mounts = parseMountinfo(readFileSync(join(proc, "mountinfo"), "utf8"));
    own = parseProcCgroup(readFileSync(join(proc, "cgroup"), "utf8"));
  } catch (err) {
    return createNone(`no cgroup information: ${(err as Error).message}`);
  }
  if (want === "auto" || want === "v2") {
    const v2 = mounts.v2;
    const controllers = v2 && existsSync(join(v2, "cgroup.controllers")) ? read(join(v2, "cgroup.controllers")) : "";
    if (v2 && /\bcpu\b/.test(controllers) && /\bmemory\b/.test(controllers)) {
      try {
        return createV2(o.testbedId, v2, own.v2 ?? "/");
      } catch (err) {
        failures.push(`v2: ${(err as Error).message}`);
      }
    } else failures.push(`v2: no cgroup2 hierarchy with the cpu and memory controllers`);
  }
  if (want === "auto" || want === "v1") {
    const missing = V1_CONTROLLERS.filter((c) => !mounts.v1.has(c));
    if (missing.length === 0) {
      try {
        return createV1(o.testbedId, mounts.v1, own.v1);
      } catch (err) {
        failures.push(`v1: ${(err as Error).message}`);
      }
    } else failures.push(`v1: controllers not mounted: ${missing.join(", ")}`);
  }
  return createNone(`no writable cgroups (${failures.join("; ")}); ${NONE_FALLBACK}`);
}

/** Every `chaos-rl-*` group left under the v1 controllers or the v2 hierarchy (for leftover checks). */
export function strayCgroups(prefix = "chaos-rl-"): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 4) return;
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.startsWith(prefix)) found.push(join(dir, e));
      else walk(join(dir, e), depth + 1);
    }
  };
  let mounts: ReturnType<typeof parseMountinfo>;
  try {
    mounts = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return [];
  }
  for (const m of new Set([...mounts.v1.values(), ...(mounts.v2 ? [mounts.v2] : [])])) walk(m, 0);
  return found;
}

/**
 * A shell prefix that moves the shell into the group and then `exec`s the command, so the
 * command and all it forks are inside from their first instruction.
 */
export function joinCommand(g: PodCgroup, argv: readonly string[]): string[] {
  if (g.procsFiles.length === 0) return [...argv];
  const writes = g.procsFiles.map((f) => `echo $$ > '${f}'`).join(" && ");
  return ["/bin/sh", "-c", `${writes} && exec "$@"`, "sh", ...argv];
}

/**
 * Which limit mechanism a testbed would get here, opened and closed at once: lets a run say
 * before its first episode that limits fall back (and to what), instead of only in the trace.
 */
export function probeLimits(mode: CgroupMode | "auto" = "auto"): { mode: CgroupMode; detail: string } {
  const d = openCgroups({ testbedId: `${process.pid}-probe`, mode });
  d.close();
  return { mode: d.mode, detail: d.detail };
}
