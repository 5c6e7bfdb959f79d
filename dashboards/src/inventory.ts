/**
 * Every query the generated dashboards run, listed from their JSON: panel targets (Prometheus,
 * Jaeger), alert-group panels (Alertmanager) and template variables. The structure and end-to-end
 * tests walk this list, so a panel added to a row is checked without touching the tests.
 */
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";

/** Where a panel's data comes from. */
export type QuerySource = "prometheus" | "jaeger" | "alertmanager";

/** One query of one panel. */
export interface PanelQuery {
  readonly dashboardUid: string;
  readonly dashboardTitle: string;
  readonly panelId: number;
  readonly panelTitle: string;
  readonly panelType: string;
  readonly source: QuerySource;
  readonly datasourceUid: string;
  readonly refId: string;
  /** The PromQL, for Prometheus queries. */
  readonly expr?: string;
  readonly instant?: boolean;
  readonly exemplar?: boolean;
  /** The raw target (Jaeger search fields) or the panel options (alert groups). */
  readonly raw: Record<string, unknown>;
}

/** One template variable query. */
export interface VariableQuery {
  readonly dashboardUid: string;
  readonly name: string;
  readonly datasourceUid: string;
  readonly query: string;
  readonly multi: boolean;
  readonly includeAll: boolean;
  readonly allValue?: string;
}

/** A stable name for a query in messages and in the tests' lists of exceptions. */
export function queryKey(q: Pick<PanelQuery, "dashboardUid" | "panelTitle" | "refId">): string {
  return `${q.dashboardUid} / ${q.panelTitle} / ${q.refId}`;
}

/** The non-row panels of a dashboard, in layout order. */
export function panels(json: dashboard.Dashboard): dashboard.Panel[] {
  const found: dashboard.Panel[] = [];
  for (const panel of json.panels ?? []) {
    if (panel.type === "row") found.push(...(panel as dashboard.RowPanel).panels);
    else found.push(panel as dashboard.Panel);
  }
  return found;
}

function sourceOf(type: string | undefined): QuerySource {
  if (type === "prometheus" || type === "jaeger" || type === "alertmanager") return type;
  throw new Error(`unexpected datasource type ${JSON.stringify(type)}`);
}

/** Every panel query of a dashboard. Alert-group panels count as one Alertmanager query. */
export function panelQueries(json: dashboard.Dashboard): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const panel of panels(json)) {
    const base = {
      dashboardUid: json.uid ?? "",
      dashboardTitle: json.title ?? "",
      panelId: panel.id ?? 0,
      panelTitle: panel.title ?? "",
      panelType: panel.type,
    };
    if (panel.type === "alertGroups") {
      out.push({
        ...base,
        source: "alertmanager",
        datasourceUid: panel.datasource?.uid ?? "",
        refId: "A",
        raw: panel.options as Record<string, unknown>,
      });
      continue;
    }
    for (const target of panel.targets ?? []) {
      const t = target as unknown as Record<string, unknown> & {
        refId?: string;
        datasource?: { type?: string; uid?: string };
        expr?: string;
        instant?: boolean;
        exemplar?: boolean;
      };
      const datasource = t.datasource ?? panel.datasource;
      out.push({
        ...base,
        source: sourceOf(datasource?.type),
        datasourceUid: datasource?.uid ?? "",
        refId: t.refId ?? "",
        expr: t.expr,
        instant: t.instant,
        exemplar: t.exemplar,
        raw: t,
      });
    }
  }
  return out;
}

/** Every template variable query of a dashboard. */
export function variableQueries(json: dashboard.Dashboard): VariableQuery[] {
  return (json.templating?.list ?? []).filter((v) => v.type === "query").map((v) => ({
    dashboardUid: json.uid ?? "",
    name: v.name,
    datasourceUid: v.datasource?.uid ?? "",
    query: typeof v.query === "string" ? v.query : String(v.query?.query ?? ""),
    multi: v.multi ?? false,
    includeAll: v.includeAll ?? false,
    allValue: v.allValue,
  }));
}

/** Values for Grafana's variables when a query runs outside Grafana. */
export interface QueryContext {
  /** Template variables: one value, or several for a multi-value variable. */
  readonly variables: Readonly<Record<string, string | readonly string[]>>;
  /** Seconds covered by the time range ($__range). */
  readonly rangeSeconds: number;
  /** Step of the range query ($__interval), in seconds. */
  readonly intervalSeconds: number;
  /** The datasource's scrape interval, in seconds (Grafana's default: 15). */
  readonly scrapeIntervalSeconds: number;
}

/**
 * Escapes regex characters for a regex matcher inside a PromQL double-quoted string, where the
 * backslash itself must be doubled: `claude-3.5` becomes `claude-3\\.5` in the query text.
 */
function escapeRegex(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}]/g, "\\\\$&");
}

/**
 * Replaces Grafana's variables in a Prometheus query as Grafana does: `$__rate_interval` is
 * max($__interval + scrape interval, 4 × scrape interval); a multi-value variable inside a regex
 * matcher becomes `(a|b)` with regex characters escaped as Grafana's Prometheus datasource does.
 */
export function interpolate(expr: string, context: QueryContext): string {
  const rateInterval = Math.max(
    context.intervalSeconds + context.scrapeIntervalSeconds,
    4 * context.scrapeIntervalSeconds,
  );
  let out = expr
    .replaceAll("$__rate_interval", `${rateInterval}s`)
    .replaceAll("$__range", `${context.rangeSeconds}s`)
    .replaceAll("$__interval", `${context.intervalSeconds}s`);
  const names = Object.keys(context.variables).sort((a, b) => b.length - a.length);
  for (const name of names) {
    const value = context.variables[name];
    const text = typeof value === "string"
      ? value
      : value.length === 1
      ? escapeRegex(value[0])
      : `(${value.map(escapeRegex).join("|")})`;
    out = out.replaceAll(`\${${name}}`, text).replaceAll(`$${name}`, text);
  }
  const left = out.match(/\$\{?[A-Za-z_]\w*/);
  if (left) throw new Error(`no value for ${left[0]} in: ${expr}`);
  return out;
}

/** `label_values(selector, label)` → its parts, the only variable query form the dashboards use. */
export function parseLabelValues(query: string): { selector: string; label: string } {
  const match = query.match(/^label_values\((.+),\s*([A-Za-z_]\w*)\)$/s);
  if (!match) throw new Error(`not a label_values(selector, label) query: ${query}`);
  return { selector: match[1].trim(), label: match[2] };
}
