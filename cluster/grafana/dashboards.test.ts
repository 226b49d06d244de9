/**
 * The dashboards' files against their code and against Prometheus's parser: the committed
 * JSON is what dashboards.ts builds (regenerate with `npx tsx scripts/gen-dashboards.ts`),
 * every panel has a query, ids and grid positions are sound, every variable a query uses is
 * defined, and every query, expanded, is accepted by a real Prometheus. That each query also
 * returns series from the project's exporters is dashboards.live.test.ts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { queryInstant } from "../prometheus/api.ts";
import { findExecutable, type RunningPrometheus, startPrometheus } from "../prometheus/runner.ts";
import { buildDashboards, dashboardText } from "./dashboards.ts";
import {
  dashboardQueries,
  defaultVariables,
  expandQuery,
  LAYOUT_PANEL_TYPES,
  legendOf,
  loadDashboard,
  parseDashboard,
} from "./model.ts";

const dir = import.meta.dirname;
const built = buildDashboards();
const files = Object.keys(built);
const interval = { stepS: 15, rangeS: 3600, scrapeIntervalS: 15 };

describe("cluster/grafana/*.json", () => {
  it("are exactly what dashboards.ts builds (npx tsx scripts/gen-dashboards.ts)", () => {
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .sort(),
    ).toEqual([...files].sort());
    for (const f of files) expect(readFileSync(join(dir, f), "utf8"), f).toBe(dashboardText(built[f]!));
  });

  for (const f of files) {
    describe(f, () => {
      const d = loadDashboard(join(dir, f));

      it("has unique panel ids and positions inside the 24-column grid, without overlap", () => {
        const ids = d.panels.map((p) => p.id);
        expect(new Set(ids).size).toBe(ids.length);
        const cells = new Set<string>();
        for (const p of d.panels) {
          const { x, y, w, h } = p.gridPos;
          expect(x >= 0 && w > 0 && x + w <= 24, `${p.title}: x ${x} w ${w}`).toBe(true);
          for (let i = x; i < x + w; i++) {
            for (let j = y; j < y + h; j++) {
              expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false);
              cells.add(`${i},${j}`);
            }
          }
        }
      });

      it("gives every panel but the layout ones a query, a title, a description and a unit", () => {
        for (const p of d.panels.filter((x) => !LAYOUT_PANEL_TYPES.has(x.type))) {
          expect(p.targets.length, p.title).toBeGreaterThan(0);
          expect(p.title).not.toBe("");
          expect(p.description, p.title).toBeTruthy();
          expect(p.fieldConfig?.defaults.unit, p.title).toBeTruthy();
        }
      });

      it("queries the data source cluster/kind/up.sh provisions (grafana-values.yaml's uid)", () => {
        const values = parseYaml(readFileSync(join(dir, "../kind/grafana-values.yaml"), "utf8"));
        const uid = values.datasources["datasources.yaml"].datasources[0].uid;
        const used = new Set(
          JSON.stringify(built[f]).match(/"uid":"[^"]*","type":"prometheus"|"type":"prometheus","uid":"[^"]*"/g),
        );
        expect([...used].map((u) => u.match(/"uid":"([^"]*)"/)![1])).toEqual([uid]);
      });

      it("uses only variables it defines (and Grafana's built-in ones)", () => {
        const vars = defaultVariables(d);
        for (const q of dashboardQueries(d)) expect(() => expandQuery(q.expr, vars, interval), q.where).not.toThrow();
      });
    });
  }
});

describe("the dashboard model", () => {
  it("expands variables as Grafana does, and names an unknown one", () => {
    const i = { stepS: 2, rangeS: 600, scrapeIntervalS: 1 };
    expect(
      expandQuery(
        'rate(x{ns="$namespace",d="$' + '{deployment}"}[$__rate_interval])',
        { namespace: "a", deployment: "b" },
        i,
      ),
    ).toBe('rate(x{ns="a",d="b"}[4s])');
    // step + scrape wins over 4 scrapes for long steps; $__range and $__interval as durations.
    expect(
      expandQuery("x[$__rate_interval] [$__range] [$__interval]", {}, { stepS: 10, rangeS: 600, scrapeIntervalS: 1 }),
    ).toBe("x[11s] [600s] [10s]");
    expect(() => expandQuery('x{a="$nope"}', {}, i)).toThrow(/Unknown dashboard variable \$nope/);
  });

  it("fills legends from labels, and shows the label set for __auto", () => {
    expect(legendOf("{{pod}} {{code}}", { pod: "p-1", code: "200" })).toBe("p-1 200");
    expect(legendOf("__auto", { __name__: "up", job: "x" })).toBe('up{job="x"}');
  });

  it("refuses a file that is not a dashboard, naming the file and the field", () => {
    expect(() => parseDashboard({ uid: "x", title: "t", panels: [{ type: "stat" }] }, "bad.json")).toThrow(
      /bad\.json: not a Grafana dashboard: .* at panels\.0\.gridPos/,
    );
  });
});

const hasPrometheus = findExecutable("prometheus") !== null;

describe.skipIf(!hasPrometheus)("every query is accepted by Prometheus", () => {
  let prom: RunningPrometheus;
  beforeAll(async () => {
    prom = await startPrometheus({ targets: [] });
  });
  afterAll(async () => {
    await prom?.stop();
  });

  for (const f of files) {
    it(f, async () => {
      const d = parseDashboard(JSON.parse(dashboardText(built[f]!)), f);
      const vars = defaultVariables(d);
      const refused: string[] = [];
      for (const q of dashboardQueries(d)) {
        try {
          await queryInstant(prom.url, expandQuery(q.expr, vars, interval), Date.now() / 1000, { timeoutMs: 30_000 });
        } catch (e) {
          refused.push(`${q.where}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      expect(refused).toEqual([]);
    });
  }

  it("and a broken query is refused (the check can fail)", async () => {
    await expect(
      queryInstant(prom.url, "sum by (pod (rate(x[1m]))", Date.now() / 1000, { timeoutMs: 30_000 }),
    ).rejects.toThrow(/refused the query/);
  });
});
