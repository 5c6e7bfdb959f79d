/** The query inventory and the Grafana variable substitution the end-to-end test relies on. */
import assert from "node:assert/strict";
import { buildDashboards } from "../src/index.ts";
import {
  interpolate,
  panelQueries,
  panels,
  parseLabelValues,
  type QueryContext,
  variableQueries,
} from "../src/inventory.ts";

const context: QueryContext = {
  variables: {},
  rangeSeconds: 600,
  intervalSeconds: 15,
  scrapeIntervalSeconds: 15,
};

Deno.test("$__rate_interval is four scrape intervals, or one step plus one scrape if larger", () => {
  assert.equal(interpolate("rate(x[$__rate_interval])", context), "rate(x[60s])");
  assert.equal(
    interpolate("rate(x[$__rate_interval])", { ...context, intervalSeconds: 120 }),
    "rate(x[135s])",
  );
});

Deno.test("$__range and $__interval become the range and the step in seconds", () => {
  assert.equal(interpolate("increase(x[$__range]) $__interval", context), "increase(x[600s]) 15s");
});

Deno.test("a multi-value variable becomes an escaped regex alternation", () => {
  const expr = interpolate('x{model=~"$model", tenant="$tenant"}', {
    ...context,
    variables: { model: ["gpt-4o", "claude-3.5-sonnet"], tenant: "team-chat" },
  });
  // In the query text the regex escape's backslash is itself escaped: `\\.`.
  assert.equal(expr, 'x{model=~"(gpt-4o|claude-3\\\\.5-sonnet)", tenant="team-chat"}');
});

Deno.test("a variable without a value is an error, not a query for the literal text", () => {
  assert.throws(() => interpolate('x{tenant="$tenant"}', context), /no value for \$tenant/);
});

Deno.test("label_values queries split into their selector and label", () => {
  assert.deepEqual(parseLabelValues('label_values(up{job="a", x="$y"}, instance)'), {
    selector: 'up{job="a", x="$y"}',
    label: "instance",
  });
  assert.throws(() => parseLabelValues("query_result(up)"), /not a label_values/);
});

Deno.test("the inventory lists every target of every panel, and every variable", () => {
  for (const { json } of buildDashboards()) {
    const targets = panels(json).reduce(
      (n, p) => n + (p.type === "alertGroups" ? 1 : (p.targets ?? []).length),
      0,
    );
    const queries = panelQueries(json);
    assert.equal(queries.length, targets, json.uid);
    for (const q of queries) {
      assert.ok(q.refId, `${q.panelTitle}: no refId`);
      if (q.source === "prometheus") assert.ok(q.expr, `${q.panelTitle}: no expr`);
    }
    assert.equal(variableQueries(json).length, (json.templating?.list ?? []).length);
  }
});
