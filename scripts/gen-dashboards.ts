/** Writes cluster/grafana/*.json from cluster/grafana/dashboards.ts (dashboards.test.ts checks they match). */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildDashboards, dashboardText } from "../cluster/grafana/dashboards.ts";

for (const [file, d] of Object.entries(buildDashboards())) {
  const out = fileURLToPath(new URL(`../cluster/grafana/${file}`, import.meta.url));
  writeFileSync(out, dashboardText(d));
  console.log(`wrote ${out}`);
}
