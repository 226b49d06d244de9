/** Log-axis helpers shared by the charts with log scales (MTTR, the timeline's latency and errors). */

/** Vega's default format prints 10 as "1e+1" on a log axis: every tick as a plain number instead. */
export const TICK_LABEL = "format(datum.value, ',~r')";

/**
 * Axis ticks on the 1-2-5 series from `lo` to `hi`, from `min` up (0 first when the domain
 * starts at 0), thinned to each decade's 1 and 3, then
 * to its 1 alone, when there would be more than `most` (labels would touch).
 */
export function logTicks(lo: number, hi: number, min = 1, most = 9): number[] {
  const series = (mantissas: readonly number[]) => {
    const out: number[] = lo <= 0 ? [0] : [];
    for (let e = -4; e <= 6; e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(3));
        // Below `min` a symlog axis is linear: 0 is the only tick worth a label there.
        if (v >= Math.max(lo, min) - 1e-9 && v <= hi + 1e-9) out.push(v);
      }
    }
    return out;
  };
  const ticks = series([1, 2, 5]);
  if (ticks.length <= most) return ticks;
  const thin = series([1, 3]);
  return thin.length <= most ? thin : series([1]);
}

/** The 1-2-5 value at or below `x` (> 0). */
export function niceBelow(x: number): number {
  const e = 10 ** Math.floor(Math.log10(x));
  return [5, 2, 1].map((m) => m * e).find((v) => v <= x) ?? e;
}
