import { describe, expect, it } from "vitest";
import { RateEstimate } from "./progress.ts";

describe("RateEstimate", () => {
  it("ignores the start-up before the first episode, and gives no ETA until every worker finished one", () => {
    let now = 0;
    const e = new RateEstimate(() => now);
    e.start(100, 2);
    // Thread start-up and model loading: 30 s before the first episode ends.
    now = 30_000;
    e.update(1);
    expect(e.rate(1)).toBeNull();
    expect(e.etaS(1)).toBeNull();
    now = 30_500;
    e.update(2);
    expect(e.etaS(2)).toBeNull();
    // Then an episode every 0.5 s: 98 left at 2/s is 49 s, not the 30x more a rate from t=0 gives.
    now = 31_000;
    e.update(3);
    expect(e.rate(3)).toBeCloseTo(2, 9);
    expect(e.etaS(3)).toBe(49);
  });
});
