/**
 * Calibrated CPU work: `/api/work` must cost a known amount of CPU time per request so that
 * request rate moves CPU utilisation (and, past the CPU limit, latency) the way a real API
 * does. The loop is calibrated once at start-up against the process's own CPU clock, so a
 * throttled container does the same work and simply takes longer in wall time.
 */

/** A data-dependent integer loop the JIT cannot fold away. */
function spin(iterations: number, seed: number): number {
  let x = seed | 1;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}

export interface CpuWork {
  /** Iterations of the loop per CPU millisecond, as measured. */
  readonly iterationsPerMs: number;
  /** Burns about `ms` of CPU time; returns a value so the work is not dead code. */
  burn(ms: number): number;
}

/**
 * Measures the loop's speed over about `sampleMs` of process CPU time (user + system).
 * CPU time, not wall time: a calibration under a CPU quota or on a busy machine must not
 * mistake waiting for work.
 */
export function calibrateCpuWork(sampleMs = 30): CpuWork {
  let iterations = 10_000;
  let sink = 0;
  let perMs = 0;
  for (;;) {
    const start = process.cpuUsage();
    sink ^= spin(iterations, iterations);
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000;
    if (ms >= sampleMs) {
      perMs = iterations / ms;
      break;
    }
    iterations *= 2;
  }
  const iterationsPerMs = perMs;
  return {
    iterationsPerMs,
    burn(ms: number): number {
      return spin(Math.round(ms * iterationsPerMs), ms + sink) ^ sink;
    },
  };
}

/** Allocates `kib` KiB and writes every page, so the allocation is resident, not just reserved. */
export function touchMemory(kib: number): Buffer {
  const buf = Buffer.allocUnsafe(kib * 1024);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = i & 0xff;
  return buf;
}
