/** Plain-text tables for the terminal: right-aligned numbers, 3 decimals below 10. */

export type Columns<K extends string> = readonly (readonly [K, string])[];

export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) < 10 ? v.toFixed(3) : v.toFixed(1);
  }
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return v.toISOString().replace(/\.\d+Z$/, "Z");
  return String(v);
}

export function formatTable<K extends string>(
  rows: readonly Partial<Record<K, unknown>>[],
  columns: Columns<K>,
): string {
  const cells = rows.map((r) => columns.map(([k]) => formatCell(r[k])));
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
