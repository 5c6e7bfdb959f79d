/**
 * Shared defaults of every dashboard: the provisioned datasources, units, colours, panel sizes and
 * the panel constructors each row module starts from. A row module picks a constructor, gives it a
 * title, a description, a unit and its queries, and adds only what is particular to that panel.
 */
import * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder, PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import * as barGauge from "@grafana/grafana-foundation-sdk/bargauge";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

/**
 * Datasources as stack/grafana/provisioning/datasources/datasources.yaml provisions them. A test
 * fails when a dashboard names a uid (or the Alertmanager name) that file does not provision.
 */
export const DATASOURCE = {
  prometheus: { type: "prometheus", uid: "prometheus" },
  jaeger: { type: "jaeger", uid: "jaeger" },
  alertmanager: { type: "alertmanager", uid: "alertmanager" },
} as const satisfies Record<string, common.DataSourceRef>;

/**
 * Grafana's own annotation store (the "Annotations & Alerts" toggle every dashboard has); a
 * built-in datasource, not a provisioned one.
 */
export const GRAFANA_BUILTIN_DATASOURCE = { type: "grafana", uid: "-- Grafana --" } as const;

/** The alert-groups panel selects its Alertmanager by datasource name, not uid. */
export const ALERTMANAGER_DATASOURCE_NAME = "Alertmanager";

/** Tags every generated dashboard carries, so they can be found and linked together. */
export const DASHBOARD_TAGS = ["inference-cost-tracker", "generated"];

/** Grafana unit ids. Custom `count:` units scale with K/M/B and append the word. */
export const UNIT = {
  usd: "currencyUSD",
  seconds: "s",
  percent: "percentunit",
  requestsPerSecond: "reqps",
  tokensPerSecond: "count:tokens/s",
  spansPerSecond: "count:spans/s",
  errorsPerSecond: "count:errors/s",
  notificationsPerSecond: "count:notifications/s",
  requests: "count:requests",
  rows: "count:rows",
  alerts: "count:alerts",
  samples: "count:samples",
  bytes: "bytes",
  upDown: "bool_yes_no",
  /** A ratio shown as "2.5×". */
  multiple: "suffix:×",
  /** Jaeger reports span durations in milliseconds. */
  milliseconds: "ms",
} as const;

/** Named colours of Grafana's palette, used with the same meaning everywhere. */
export const COLOR = {
  ok: "green",
  warn: "orange",
  bad: "red",
  info: "blue",
  neutral: "text",
} as const;

/** Grid sizes: the dashboard is 24 columns wide. */
export const SIZE = {
  full: 24,
  half: 12,
  third: 8,
  quarter: 6,
  statHeight: 5,
  chartHeight: 9,
  tableHeight: 10,
} as const;

/** One Prometheus query of a panel; refIds are given in order (A, B, ...). */
export interface PromQuery {
  readonly expr: string;
  readonly legend?: string;
  /** An instant query (stat, bar gauge, table); otherwise a range query. */
  readonly instant?: boolean;
  /** Also fetch exemplars (the trace_id links into Jaeger). */
  readonly exemplar?: boolean;
  readonly format?: "time_series" | "table";
}

/** What every panel states: a title, what question it answers, and the unit of its values. */
export interface PanelBasics {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly span?: number;
  readonly height?: number;
}

/** A Prometheus panel: the basics plus its queries. */
export interface PromPanel extends PanelBasics {
  readonly queries: readonly PromQuery[];
}

/** Threshold steps from a base colour: `steps(COLOR.ok, [0.8, COLOR.warn], [1, COLOR.bad])`. */
export function steps(
  base: string,
  ...rest: ReadonlyArray<readonly [number, string]>
): cog.Builder<dashboard.ThresholdsConfig> {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...rest.map(([value, color]) => ({ value, color }))]);
}

/** A colour scheme: thresholds, the classic palette, or one fixed colour. */
export function colors(
  mode: "thresholds" | "palette" | "fixed",
  fixed?: string,
): cog.Builder<dashboard.FieldColor> {
  const builder = new dashboard.FieldColorBuilder().mode(
    mode === "thresholds"
      ? dashboard.FieldColorModeId.Thresholds
      : mode === "palette"
      ? dashboard.FieldColorModeId.PaletteClassic
      : dashboard.FieldColorModeId.Fixed,
  );
  return fixed ? builder.fixedColor(fixed) : builder;
}

/** A series override that gives every series matching `regexp` a fixed colour. */
export function colorSeries(regexp: string, color: string) {
  return {
    matcher: { id: "byRegexp", options: regexp },
    properties: [{ id: "color", value: { mode: "fixed", fixedColor: color } }],
  };
}

function refId(index: number): string {
  return String.fromCharCode("A".charCodeAt(0) + index);
}

/** Builds the Prometheus queries of a panel, each naming the provisioned datasource. */
export function promQueries(queries: readonly PromQuery[]): DataqueryBuilder[] {
  return queries.map((query, index) => {
    const builder = new DataqueryBuilder()
      .datasource(DATASOURCE.prometheus)
      .refId(refId(index))
      .expr(query.expr)
      .legendFormat(query.legend ?? "__auto");
    if (query.instant) builder.instant();
    else builder.range();
    if (query.exemplar) builder.exemplar(true);
    if (query.format === "table") builder.format(PromQueryFormat.Table);
    return builder;
  });
}

/** A time series panel with a legend table, a shared tooltip and zero-based axis. */
export function timeseriesPanel(panel: PromPanel): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(panel.title)
    .description(panel.description)
    .datasource(DATASOURCE.prometheus)
    .targets(promQueries(panel.queries))
    .unit(panel.unit)
    .span(panel.span ?? SIZE.half)
    .height(panel.height ?? SIZE.chartHeight)
    .colorScheme(colors("palette"))
    .thresholds(steps(COLOR.ok))
    .fillOpacity(10)
    .lineWidth(1)
    .showPoints(common.VisibilityMode.Never)
    .axisSoftMin(0)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Bottom)
        .calcs(["lastNotNull", "max"]),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
}

/** Stacks the series of a time series panel (parts of one total, such as cost by model). */
export function stacked(panel: timeseries.PanelBuilder): timeseries.PanelBuilder {
  return panel
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .fillOpacity(40);
}

/** Draws the panel's thresholds on a time series as dashed lines (an alert's limit). */
export function thresholdLines(
  panel: timeseries.PanelBuilder,
  thresholds: cog.Builder<dashboard.ThresholdsConfig>,
): timeseries.PanelBuilder {
  return panel
    .thresholds(thresholds)
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
    );
}

/** A single-number panel of the last value, coloured by thresholds. */
export function statPanel(
  panel: PromPanel & { thresholds?: cog.Builder<dashboard.ThresholdsConfig> },
): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(panel.title)
    .description(panel.description)
    .datasource(DATASOURCE.prometheus)
    .targets(promQueries(panel.queries))
    .unit(panel.unit)
    .span(panel.span ?? SIZE.quarter)
    .height(panel.height ?? SIZE.statHeight)
    .colorScheme(colors("thresholds"))
    .thresholds(panel.thresholds ?? steps(COLOR.info))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(common.BigValueTextMode.Auto)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
}

/** Horizontal bars, one per series, for ranking (top models) or filling up (budget used). */
export function barGaugePanel(
  panel: PromPanel & { thresholds?: cog.Builder<dashboard.ThresholdsConfig> },
): barGauge.PanelBuilder {
  return new barGauge.PanelBuilder()
    .title(panel.title)
    .description(panel.description)
    .datasource(DATASOURCE.prometheus)
    .targets(promQueries(panel.queries))
    .unit(panel.unit)
    .span(panel.span ?? SIZE.half)
    .height(panel.height ?? SIZE.chartHeight)
    .colorScheme(colors("thresholds"))
    .thresholds(panel.thresholds ?? steps(COLOR.info))
    .min(0)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .showUnfilled(true)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
}

/** A table panel; the caller sets its datasource and queries. */
export function tablePanel(panel: PanelBasics): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(panel.title)
    .description(panel.description)
    .unit(panel.unit)
    .span(panel.span ?? SIZE.full)
    .height(panel.height ?? SIZE.tableHeight)
    .thresholds(steps(COLOR.neutral))
    .showHeader(true);
}

/** A row of a dashboard: its title and panels, laid out left to right, top to bottom. */
export interface Row {
  readonly title: string;
  readonly panels: ReadonlyArray<cog.Builder<dashboard.Panel>>;
}

/** Dashboard-wide settings: time range, refresh, tags, cursor sync, read-only. */
export function dashboardDefaults(
  title: string,
  uid: string,
  description: string,
): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(DASHBOARD_TAGS)
    .timezone("utc")
    .time({ from: "now-6h", to: "now" })
    .refresh("30s")
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .readonly()
    .annotation(
      new dashboard.AnnotationQueryBuilder()
        .name("Annotations & Alerts")
        .datasource(GRAFANA_BUILTIN_DATASOURCE)
        .type("dashboard")
        .builtIn(1)
        .enable(true)
        .hide(true)
        .iconColor("rgba(0, 211, 255, 1)"),
    )
    .link(
      new dashboard.DashboardLinkBuilder("Inference cost dashboards")
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([DASHBOARD_TAGS[0]])
        .asDropdown(true)
        .includeVars(false)
        .keepTime(true),
    );
}

/** Adds rows to a dashboard in order. */
export function withRows(builder: dashboard.DashboardBuilder, rows: readonly Row[]) {
  for (const row of rows) {
    builder.withRow(new dashboard.RowBuilder(row.title));
    for (const panel of row.panels) builder.withPanel(panel);
  }
  return builder;
}
