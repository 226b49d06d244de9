/**
 * What Chaos Mesh's controller reads from a chaos object, for the testbed's API facade
 * (kube-facade.ts): which fault, on which pod, for how long. It reads the CRD's own fields
 * (`action`, `stressors`, `delay.latency`, `duration`, `selector`), never the harness's
 * annotation, so an object written by hand (cluster/chaos/*.yaml) is injected the same way
 * as one the Kubernetes backend creates. Pure functions.
 */
import type { FaultSpec } from "../../harness/core/contract.ts";

/** The parts of a PodChaos, StressChaos or NetworkChaos this reads (CRD-validated before). */
export interface ChaosObjectLike {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: Record<string, unknown>;
}

/** Which pods a chaos object selects: named pods (the harness's way) or labels (mode `one`). */
export type ChaosTarget =
  | { readonly by: "names"; readonly names: readonly string[] }
  | { readonly by: "labels"; readonly labels: Readonly<Record<string, string>> };

export interface ReadChaos {
  readonly spec: FaultSpec;
  readonly target: ChaosTarget;
  /** The object's `duration`, seconds, or null when it has none (Chaos Mesh then never ends it). */
  readonly durationS: number | null;
}

const UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** A Go duration (`120s`, `1500ms`, `1m30s`) in seconds; throws on anything else. */
export function parseGoDuration(text: string): number {
  const re = /([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  if (text === "" || at !== text.length)
    throw new Error(`Expected a Go duration such as "30s", got ${JSON.stringify(text)}`);
  return total;
}

/** A Kubernetes memory quantity as Chaos Mesh's `size` takes it (`72MiB`, `256Mi`, `1GB`), bytes. */
export function parseSize(text: string): number {
  const m = /^([0-9.]+)\s*([KMGT]?)(i?)B?$/i.exec(text.trim());
  if (!m) throw new Error(`Expected a memory size such as "256MiB", got ${JSON.stringify(text)}`);
  const pow = "KMGT".indexOf(m[2]!.toUpperCase()) + 1;
  const base = m[3] !== "" ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** pow);
}

/**
 * The fault a chaos object asks for, as the testbed's injector (faults.ts) takes it. The
 * target's limits turn StressChaos's absolute strengths (workers × load % of one CPU, bytes)
 * back into the contract's shares of the pod's limits.
 */
export function readChaos(obj: ChaosObjectLike, limits: { cpuCores: number; memoryBytes: number }): ReadChaos {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const durationS = typeof spec.duration === "string" ? parseGoDuration(spec.duration) : null;
  const target = readTarget(spec.selector as Record<string, unknown> | undefined, obj.metadata?.namespace ?? "");
  const forS = durationS ?? 3600;
  switch (obj.kind) {
    case "PodChaos":
      if (spec.action === "pod-kill") return { spec: { type: "pod-kill" }, target, durationS };
      if (spec.action === "pod-failure") return { spec: { type: "pod-failure", durationS: forS }, target, durationS };
      throw new Error(`PodChaos action ${JSON.stringify(spec.action)} is not one the testbed injects`);
    case "StressChaos": {
      const st = (spec.stressors ?? {}) as {
        cpu?: { workers?: number; load?: number };
        memory?: { size?: string; options?: string[] };
      };
      if (st.cpu) {
        const cores = ((st.cpu.workers ?? 1) * (st.cpu.load ?? 100)) / 100;
        const load = Math.min(1, Math.max(0.01, cores / limits.cpuCores));
        return { spec: { type: "cpu-stress", durationS: forS, load }, target, durationS };
      }
      if (st.memory) {
        const size = st.memory.size ? parseSize(st.memory.size) : limits.memoryBytes;
        const opts = st.memory.options ?? [];
        const i = opts.indexOf("--time");
        const fillS = i >= 0 && opts[i + 1] ? parseGoDuration(opts[i + 1]!) : 60;
        // The share of the limit the stressor adds per minute.
        const ratePerMin = Math.min(1, Math.max(0.001, (size / limits.memoryBytes) * (60 / Math.max(1, fillS))));
        return { spec: { type: "memory-leak", ratePerMin }, target, durationS };
      }
      throw new Error("StressChaos without a cpu or memory stressor");
    }
    case "NetworkChaos": {
      if (spec.action !== "delay") {
        throw new Error(`NetworkChaos action ${JSON.stringify(spec.action)} is not one the testbed injects`);
      }
      const latency = (spec.delay as { latency?: string } | undefined)?.latency ?? "0ms";
      const delayMs = parseGoDuration(latency) * 1000;
      return { spec: { type: "network-delay", durationS: forS, delayMs }, target, durationS };
    }
    default:
      throw new Error(`${String(obj.kind)} is not a chaos kind the testbed injects`);
  }
}

function readTarget(sel: Record<string, unknown> | undefined, namespace: string): ChaosTarget {
  const pods = sel?.pods as Record<string, string[]> | undefined;
  if (pods) return { by: "names", names: pods[namespace] ?? [] };
  return { by: "labels", labels: (sel?.labelSelectors as Record<string, string> | undefined) ?? {} };
}
