/**
 * Plain-text tables for the terminal: right-aligned numbers with the same decimals down a
 * column (3 when every value is below 10, else 1; none when every value is an integer), so
 * that `1`, `0.450` and `0.987` never share a column.
 */

export type Columns<K extends string> = readonly (readonly [K, string])[];

/** One value; `decimals` fixes a number's decimals (a column's), else they follow its size. */
export function formatCell(v: unknown, decimals?: number): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (decimals !== undefined) return v.toFixed(decimals);
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) < 10 ? v.toFixed(3) : v.toFixed(1);
  }
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return v.toISOString().replace(/\.\d+Z$/, "Z");
  return String(v);
}

/** The decimals of a numeric column: 0 for integers only, 3 when all are below 10, else 1. */
export function columnDecimals(values: readonly unknown[]): number | undefined {
  const numbers = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (numbers.length === 0 || numbers.every(Number.isInteger)) return undefined;
  return numbers.every((v) => Math.abs(v) < 10) ? 3 : 1;
}

export function formatTable<K extends string>(
  rows: readonly Partial<Record<K, unknown>>[],
  columns: Columns<K>,
): string {
  const decimals = columns.map(([k]) => columnDecimals(rows.map((r) => r[k])));
  const cells = rows.map((r) => columns.map(([k], i) => formatCell(r[k], decimals[i])));
  const numeric = columns.map(([k]) => rows.length > 0 && rows.every((r) => r[k] == null || typeof r[k] === "number"));
  const widths = columns.map(([, h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const lines = [
    columns.map(([, h], i) => pad(h, i)).join("  "),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.map((c) => c.map(pad).join("  ")),
  ];
  if (rows.length === 0) lines.push("(no rows)");
  return lines.map((l) => l.trimEnd()).join("\n");
}
