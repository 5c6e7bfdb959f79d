/** Overview row "Requests and errors": outcomes, errors, unpriced traffic, upstream failures, latency. */
import {
  COLOR,
  colorSeries,
  type Row,
  SIZE,
  stacked,
  statPanel,
  steps,
  thresholdLines,
  timeseriesPanel,
  UNIT,
} from "../defaults.ts";
import { app, METRIC, RATE_INTERVAL, RULE } from "../promql.ts";

/** InferenceUpstreamErrorRatioHigh fires above this share of failed upstream calls. */
export const UPSTREAM_FAILURE_RATIO_ALERT = 0.05;

/** The traffic row of the cost overview. */
export function trafficRow(): Row {
  const requests = (...matchers: string[]) =>
    `rate(${app(METRIC.requestsTotal, ...matchers)}[${RATE_INTERVAL}])`;
  return {
    title: "Requests and errors",
    panels: [
      stacked(timeseriesPanel({
        title: "Requests by status",
        description:
          "Requests per second by outcome (inference_requests_total). `ok` is green; every other " +
          "status is an error whose meaning is in docs/errors.md (budget_exceeded, " +
          "unknown_model, upstream_error, ...).",
        unit: UNIT.requestsPerSecond,
        span: SIZE.half,
        queries: [{ expr: `sum by (status) (${requests()})`, legend: "{{status}}" }],
      })).withOverride(colorSeries("^ok$", COLOR.ok)),
      statPanel({
        title: "Error ratio",
        description:
          "Share of requests in the last 5 minutes whose status is not `ok` (0 % when no error " +
          "series exists yet). Orange from 1 %, red from 5 %.",
        unit: UNIT.percent,
        span: SIZE.quarter,
        height: SIZE.chartHeight,
        thresholds: steps(COLOR.ok, [0.01, COLOR.warn], [0.05, COLOR.bad]),
        queries: [{
          // A counter appears at its first increment: with no error yet, no error series exists,
          // and `or vector(0)` turns that into the 0 it means.
          expr: `(sum (rate(${app(METRIC.requestsTotal, 'status!="ok"')}[5m])) or vector(0)) / ` +
            `sum (rate(${app(METRIC.requestsTotal)}[5m]))`,
          instant: true,
          legend: "errors",
        }],
      }),
      statPanel({
        title: "Requests in flight",
        description: "Requests being served right now, summed over app replicas " +
          "(inference_in_flight_requests). Near MAX_CONCURRENT_REQUESTS, new requests get 503.",
        unit: UNIT.requests,
        span: SIZE.quarter,
        height: SIZE.chartHeight,
        queries: [{ expr: `sum (${app(METRIC.inFlightRequests)})`, instant: true }],
      }),
      timeseriesPanel({
        title: "Unpriced requests by tenant",
        description:
          "Requests served for a model with no price (only with UNPRICED_POLICY=allow). Their cost " +
          "is unknown and missing from every USD panel, so any line here means spend is " +
          "under-reported: add the model to the price file.",
        unit: UNIT.requestsPerSecond,
        span: SIZE.quarter,
        queries: [{
          expr: `sum by (tenant) (rate(${app(METRIC.unpricedRequestsTotal)}[${RATE_INTERVAL}]))`,
          legend: "{{tenant}}",
        }],
      }).withOverride(colorSeries(".*", COLOR.warn)),
      thresholdLines(
        timeseriesPanel({
          title: "Upstream failure ratio by model",
          description:
            "Share of the requests that reached a provider and failed there (upstream_error, " +
            "timeout) over 5 minutes, per model: model:inference_upstream_failure_ratio:rate5m. " +
            "Above the dashed 5 % for 10 minutes (with at least 10 such requests), " +
            "InferenceUpstreamErrorRatioHigh fires. 0 % for models with traffic and no failure. " +
            "Client errors never reach a provider and are not counted.",
          unit: UNIT.percent,
          span: SIZE.quarter,
          queries: [{
            // The recorded ratio has no series while nothing fails (its numerator is empty):
            // models with traffic then show the 0 % that means.
            expr: `${RULE.upstreamFailureRatio} or on (model) 0 * sum by (model) (rate(${
              app(METRIC.requestsTotal, 'status=~"ok|upstream_error|timeout"')
            }[5m]))`,
            legend: "{{model}}",
          }],
        }),
        steps(COLOR.ok, [UPSTREAM_FAILURE_RATIO_ALERT, COLOR.bad]),
      ),
      timeseriesPanel({
        title: "Upstream errors by provider and kind",
        description:
          "Failed calls to upstream model providers per second, by provider and kind (connect, " +
          "timeout, status_4xx, status_5xx, protocol, mid_stream). Empty while only the simulated " +
          "backend serves traffic.",
        unit: UNIT.errorsPerSecond,
        span: SIZE.quarter,
        queries: [{
          expr: `sum by (provider, kind) (rate(${
            app(METRIC.upstreamErrorsTotal)
          }[${RATE_INTERVAL}]))`,
          legend: "{{provider}} {{kind}}",
        }],
      }).withOverride(colorSeries(".*", COLOR.bad)),
      timeseriesPanel({
        title: "Latency p95 by model",
        description: "95th percentile of end-to-end request duration per model " +
          "(inference_request_duration_seconds). Slow requests hold budget reservations longer.",
        unit: UNIT.seconds,
        span: SIZE.quarter,
        queries: [{
          expr: `histogram_quantile(0.95, sum by (model, le) (rate(${
            app(`${METRIC.requestDurationSeconds}_bucket`)
          }[${RATE_INTERVAL}])))`,
          legend: "{{model}}",
        }],
      }),
      timeseriesPanel({
        title: "Time to first token p95 by model",
        description: "95th percentile of the time from request start to the first streamed " +
          "content per model, streamed chat requests only " +
          "(inference_time_to_first_token_seconds). Empty while no client streams.",
        unit: UNIT.seconds,
        span: SIZE.quarter,
        queries: [{
          expr: `histogram_quantile(0.95, sum by (model, le) (rate(${
            app(`${METRIC.timeToFirstTokenSeconds}_bucket`)
          }[${RATE_INTERVAL}])))`,
          legend: "{{model}}",
        }],
      }),
    ],
  };
}
