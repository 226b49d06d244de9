/**
 * Numbers as the reports print them, the same in Markdown, HTML and the terminal: shares as
 * percentages (differences in percentage points), seconds with one decimal, replica-seconds
 * as whole numbers. Plain ASCII digits and a fixed thousands separator, independent of locale.
 */
import type { Interval } from "./bootstrap.ts";
import { type Format, METRICS, type MetricName } from "./metrics.ts";

const UNIT: Record<Format, string> = {
  share: "%",
  seconds: " s",
  replicaSeconds: "",
  perEpisode: "",
  number: "",
};

function digits(format: Format): number {
  return format === "share" || format === "seconds" ? 1 : format === "replicaSeconds" ? 0 : 2;
}

function scale(format: Format): number {
  return format === "share" ? 100 : 1;
}

function fixed(x: number, d: number): string {
  const s = (Object.is(x, -0) ? 0 : x).toFixed(d);
  // "-0.0" reads as a sign where there is none.
  const out = /^-0\.?0*$/.test(s) ? s.slice(1) : s;
  const [int, frac] = out.split(".");
  const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** `99.0%`, `12.3 s`, `4,533`, `1.25`; `-` for no value. */
export function formatValue(metric: MetricName, v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "-";
  const f = METRICS[metric].format;
  return `${fixed(v * scale(f), digits(f))}${UNIT[f]}`;
}

/** `99.0% [97.5, 100.0]`: the estimate, then the 95% interval in the same unit. */
export function formatInterval(metric: MetricName, iv: Interval): string {
  const v = formatValue(metric, iv.estimate);
  if (v === "-") return v;
  if (iv.lower === null || iv.upper === null) return v;
  const f = METRICS[metric].format;
  const d = digits(f);
  return `${v} [${fixed(iv.lower * scale(f), d)}, ${fixed(iv.upper * scale(f), d)}]`;
}

function signed(x: number, d: number): string {
  const s = fixed(x, d);
  return s.startsWith("-") || Number(s.replace(/,/g, "")) === 0 ? s : `+${s}`;
}

/** `+2.1 pp [+0.4, +3.9]`: a paired difference (shares in percentage points). */
export function formatDifference(metric: MetricName, iv: Interval): string {
  if (!Number.isFinite(iv.estimate)) return "-";
  const f = METRICS[metric].format;
  const d = digits(f);
  const k = scale(f);
  const unit = f === "share" ? " pp" : f === "seconds" ? " s" : "";
  const head = `${signed(iv.estimate * k, d)}${unit}`;
  if (iv.lower === null || iv.upper === null) return head;
  return `${head} [${signed(iv.lower * k, d)}, ${signed(iv.upper * k, d)}]`;
}

/** `p=0.002`, `p<0.001`. */
export function formatP(p: number | null): string {
  if (p === null) return "p=-";
  if (p < 0.001) return "p<0.001";
  return `p=${p.toFixed(3)}`;
}

/** A plain number for gate values: up to 4 significant digits. */
export function formatNumber(v: number | null): string {
  if (v === null) return "-";
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}
