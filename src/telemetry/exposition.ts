/**
 * Serving /metrics in the format the scraper asks for. The registry renders OpenMetrics (with
 * `trace_id` exemplars); a scraper that does not accept OpenMetrics gets the classic text format
 * 0.0.4, derived line by line: exemplars and `# EOF` dropped, counter families renamed to their
 * `_total` sample name as that format expects.
 */
import client from "prom-client";

/** Content type of the classic Prometheus text format. */
export const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
/** Content type of OpenMetrics 1.0. */
export const OPENMETRICS_TEXT = client.Registry.OPENMETRICS_CONTENT_TYPE;

/** True when an Accept header lets us answer OpenMetrics (Prometheus sends this by default). */
export function acceptsOpenMetrics(accept: string | null | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some((part) => {
    const [type, ...params] = part.trim().split(";").map((s) => s.trim());
    if (type !== "application/openmetrics-text") return false;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

const EXEMPLAR_SUFFIX = / # \{[^{}]*\} \S+(?: \S+)?$/;

/** Converts OpenMetrics text as rendered by prom-client to the classic text format 0.0.4. */
export function openMetricsToText(openMetrics: string): string {
  const lines = openMetrics.split("\n");
  const counters = new Set<string>();
  for (const line of lines) {
    if (line.startsWith("# TYPE ") && line.endsWith(" counter")) counters.add(line.split(" ")[2]);
  }
  const out: string[] = [];
  for (const line of lines) {
    if (line === "" || line === "# EOF") continue;
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      const nameEnd = line.indexOf(" ", 7);
      const name = line.slice(7, nameEnd);
      out.push(
        counters.has(name) ? `${line.slice(0, 7)}${name}_total${line.slice(nameEnd)}` : line,
      );
    } else if (!line.startsWith("#")) {
      out.push(line.replace(EXEMPLAR_SUFFIX, ""));
    }
  }
  return out.join("\n") + "\n";
}

/** Renders the registry for a scraper's Accept header: [body, content type]. */
export async function renderMetrics(
  registry: client.Registry<client.OpenMetricsContentType>,
  accept: string | null | undefined,
): Promise<[string, string]> {
  const openMetrics = await registry.metrics();
  return acceptsOpenMetrics(accept)
    ? [openMetrics, OPENMETRICS_TEXT]
    : [openMetricsToText(openMetrics), PROMETHEUS_TEXT];
}
