/**
 * A Jaeger trace search as a panel query. The foundation SDK has no Jaeger query type, so this is
 * the small builder its README describes for datasources it lacks; the fields are those of
 * Grafana's Jaeger datasource in "search" mode.
 */
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import type * as common from "@grafana/grafana-foundation-sdk/common";
import { DATASOURCE } from "./defaults.ts";

/** The service name the app's spans carry (OTEL_SERVICE_NAME's default). */
export const APP_SERVICE = "inference-cost-tracker";

/** A Jaeger search, as Grafana stores it in a panel target. */
export interface JaegerSearchQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  queryType: "search";
  service: string;
  operation?: string;
  /** logfmt, e.g. `inference.tenant="team-chat"`. */
  tags?: string;
  limit?: number;
}

/** Builds a Jaeger search target. */
export class JaegerSearchBuilder implements cog.Builder<cog.Dataquery> {
  private readonly query: JaegerSearchQuery;

  constructor(service: string) {
    this.query = {
      refId: "A",
      datasource: DATASOURCE.jaeger,
      queryType: "search",
      service,
      _implementsDataqueryVariant() {},
    };
  }

  /** The span name to search for. */
  operation(operation: string): this {
    this.query.operation = operation;
    return this;
  }

  /** Span attributes that must match, in logfmt. */
  tags(tags: string): this {
    this.query.tags = tags;
    return this;
  }

  /** How many traces to return at most. */
  limit(limit: number): this {
    this.query.limit = limit;
    return this;
  }

  build(): JaegerSearchQuery {
    return this.query;
  }
}
