/**
 * Assembles every dashboard and, run as a program (`deno task dashboards`), writes them as JSON
 * into dashboards/generated/, the folder Grafana's provisioning loads. The drift test builds the
 * same JSON in memory and compares it with the committed files.
 */
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { costOverview } from "./overview/dashboard.ts";
import { stackHealth } from "./stack_health/dashboard.ts";
import { tenantDrilldown } from "./tenant/dashboard.ts";

/** One dashboard as Grafana loads it, and the file it is written to. */
export interface GeneratedDashboard {
  /** File name inside dashboards/generated/. */
  readonly file: string;
  readonly json: dashboard.Dashboard;
}

/** Where Grafana's dashboard provider reads the files from (mounted in compose). */
export const GENERATED_DIR = new URL("../generated/", import.meta.url);

/**
 * Numbers the panels 1, 2, 3... in layout order. Grafana needs unique panel ids within a
 * dashboard (links such as `viewPanel=` use them); the SDK leaves them unset.
 */
function numberPanels(json: dashboard.Dashboard): dashboard.Dashboard {
  let next = 1;
  for (const panel of json.panels ?? []) {
    panel.id = next++;
    if (panel.type === "row") {
      for (const nested of (panel as dashboard.RowPanel).panels) nested.id = next++;
    }
  }
  return json;
}

/** Builds every dashboard, in a fixed order. */
export function buildDashboards(): GeneratedDashboard[] {
  return [
    { file: "cost-overview.json", json: numberPanels(costOverview().build()) },
    { file: "tenant-drilldown.json", json: numberPanels(tenantDrilldown().build()) },
    { file: "stack-health.json", json: numberPanels(stackHealth().build()) },
  ];
}

/** The exact text committed for a dashboard: two-space JSON and a final newline. */
export function renderDashboard(json: dashboard.Dashboard): string {
  return `${JSON.stringify(json, null, 2)}\n`;
}

/**
 * Writes every dashboard into `dir` and removes JSON files no dashboard produces any more.
 * Returns the file names written.
 */
export async function writeDashboards(dir: URL = GENERATED_DIR): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const generated = buildDashboards();
  const wanted = new Set(generated.map((d) => d.file));
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".json") && !wanted.has(entry.name)) {
      await Deno.remove(new URL(entry.name, dir));
    }
  }
  for (const { file, json } of generated) {
    await Deno.writeTextFile(new URL(file, dir), renderDashboard(json));
  }
  return generated.map((d) => d.file);
}

if (import.meta.main) {
  const files = await writeDashboards();
  console.log(`dashboards: wrote ${files.map((f) => `dashboards/generated/${f}`).join(", ")}`);
}
