/** The middle value (the upper one of an even count) of a benchmark's repetitions. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
