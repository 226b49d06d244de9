/**
 * Stop conditions for real backends (local and cluster), as AWS FIS has them: when the
 * service has been out of its SLO for longer than a limit, or its error rate passes a
 * ceiling, every fault is aborted at once and no new one is injected for the rest of the
 * episode. The policy under test keeps acting; only the chaos stops. Checked once per
 * observation on the values the loop sees; the backend records the trip as a
 * `stop-condition` event and its cleared faults as usual.
 */
import { type Slo, type Snapshot, sloHolds } from "../harness/core/contract.ts";

export interface StopConditionLimits {
  /** Abort the chaos once the SLO has been broken for longer than this, seconds. */
  readonly sloBrokenForS?: number | undefined;
  /** Abort the chaos as soon as the error rate is above this, 0..1. */
  readonly errorRateAbove?: number | undefined;
}

export class StopConditions {
  private brokenSinceS: number | null = null;
  /** Why the chaos was stopped, once it has been; then it stays stopped. */
  reason: string | null = null;

  constructor(
    private readonly limits: StopConditionLimits,
    private readonly slo: Slo,
  ) {}

  get enabled(): boolean {
    return this.limits.sloBrokenForS !== undefined || this.limits.errorRateAbove !== undefined;
  }

  /** The reason when this observation trips a condition for the first time, else null. */
  check(s: Readonly<Snapshot>): string | null {
    if (this.reason !== null || !this.enabled) return null;
    const ceiling = this.limits.errorRateAbove;
    if (ceiling !== undefined && s.errorRate > ceiling) {
      this.reason = `error rate ${s.errorRate.toFixed(4)} above the stop ceiling ${ceiling}`;
      return this.reason;
    }
    const limit = this.limits.sloBrokenForS;
    if (limit === undefined) return null;
    if (sloHolds(s as Snapshot, this.slo)) {
      this.brokenSinceS = null;
      return null;
    }
    this.brokenSinceS ??= s.time;
    if (s.time - this.brokenSinceS > limit) {
      this.reason = `SLO broken for ${(s.time - this.brokenSinceS).toFixed(1)} s, longer than the stop limit ${limit} s`;
      return this.reason;
    }
    return null;
  }
}
