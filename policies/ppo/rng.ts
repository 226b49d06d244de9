/**
 * The trainer's random stream: pure-rand's xoroshiro128+ (as the simulator's streams),
 * stepped without allocation through harness/core/rng.ts's `drawUniforms`, its state four int32s
 * that a checkpoint stores and restores. Never `Math.random`.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { drawUniforms, mixSeed } from "../../harness/core/rng.ts";

export class TrainRng {
  readonly state = new Int32Array(4);
  private readonly scratch = new Float64Array(2);

  constructor(seed: number) {
    // A stream apart from the simulator's (those jump 1-3 times from mixSeed(seed)).
    const g = xoroshiro128plus(mixSeed(seed ^ 0x5eed_99a));
    const s = g.getState();
    for (let i = 0; i < 4; i++) this.state[i] = s[i]!;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  uniform(): number {
    drawUniforms(this.state, this.scratch, 1);
    return this.scratch[0];
  }

  /** Standard normal (Box-Muller, two draws). */
  normal(): number {
    drawUniforms(this.state, this.scratch, 2);
    const u1 = 1 - this.scratch[0]; // (0, 1]
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * this.scratch[1]);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher-Yates shuffle of `a` in place. */
  shuffle(a: Int32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  getState(): number[] {
    return Array.from(this.state);
  }

  setState(s: readonly number[]): void {
    if (s.length !== 4) throw new Error(`Expected an RNG state of 4 integers, got ${s.length}`);
    for (let i = 0; i < 4; i++) this.state[i] = s[i]! | 0;
  }
}
