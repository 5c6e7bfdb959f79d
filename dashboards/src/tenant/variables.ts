/** The drill-down's template variables: one tenant, any of its models. */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { DATASOURCE } from "../defaults.ts";
import { app, METRIC } from "../promql.ts";

/** Matchers every drill-down query adds to select the chosen tenant (and models). */
export const TENANT = 'tenant="$tenant"';
export const MODELS = 'model=~"$model"';

/** `label_values(...)` queries, as Grafana's Prometheus datasource runs them. */
// From the request counter, not the cost counter: the app starts every tenant × model cost series
// at zero, so the cost counter lists every configured pair, used or not.
export const TENANT_VALUES = `label_values(${app(METRIC.requestsTotal)}, tenant)`;
export const MODEL_VALUES = `label_values(${app(METRIC.requestsTotal, TENANT)}, model)`;

/** The tenant (single) and model (multi, default all) variables. */
export function tenantVariables(): dashboard.QueryVariableBuilder[] {
  return [
    new dashboard.QueryVariableBuilder("tenant")
      .label("Tenant")
      .description("The tenant to drill into: every tenant that sent requests in the time range.")
      .datasource(DATASOURCE.prometheus)
      .query(TENANT_VALUES)
      .definition(TENANT_VALUES)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(false)
      .includeAll(false),
    new dashboard.QueryVariableBuilder("model")
      .label("Model")
      .description("Models this tenant used; All keeps every one.")
      .datasource(DATASOURCE.prometheus)
      .query(MODEL_VALUES)
      .definition(MODEL_VALUES)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue(".*"),
  ];
}
