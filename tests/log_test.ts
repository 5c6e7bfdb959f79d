import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";

function lines(
  level: Parameters<typeof createLogger>[0],
  log: (l: ReturnType<typeof createLogger>) => void,
) {
  const out: string[] = [];
  log(createLogger(level, (line) => out.push(line)));
  return out;
}

Deno.test("a log line is one JSON object: time, level, msg, then the fields in order", () => {
  const before = Date.now();
  const [line] = lines("info", (l) =>
    l.info("request", {
      request_id: "r-1",
      cost_usd: 0.0000069,
      tenant: 'quote " and \\ backslash',
      trace_id: undefined,
      nested: { a: [1, 2] },
    }));
  const parsed = JSON.parse(line);
  assert.deepEqual(Object.keys(parsed), [
    "time",
    "level",
    "msg",
    "request_id",
    "cost_usd",
    "tenant",
    "nested",
  ]);
  assert.equal(parsed.level, "info");
  assert.equal(parsed.msg, "request");
  assert.equal(parsed.cost_usd, 0.0000069);
  assert.equal(parsed.tenant, 'quote " and \\ backslash');
  assert.deepEqual(parsed.nested, { a: [1, 2] });
  const time = Date.parse(parsed.time);
  assert.ok(time >= before && time <= Date.now(), parsed.time);
  assert.equal(parsed.time, new Date(time).toISOString());
});

Deno.test("a line without fields, or with none defined, closes after msg", () => {
  const out = lines("debug", (l) => {
    l.warn('a "quoted"\nmessage');
    l.error("x", {});
    l.debug("y", { gone: undefined });
  });
  assert.deepEqual(out.map((l) => Object.keys(JSON.parse(l))), [
    ["time", "level", "msg"],
    ["time", "level", "msg"],
    ["time", "level", "msg"],
  ]);
  assert.equal(JSON.parse(out[0]).msg, 'a "quoted"\nmessage');
});

Deno.test("a field named time, level or msg replaces that key in place", () => {
  const [line] = lines("info", (l) => l.info("m", { level: "custom", extra: 1 }));
  const parsed = JSON.parse(line);
  assert.deepEqual(Object.keys(parsed), ["time", "level", "msg", "extra"]);
  assert.equal(parsed.level, "custom");
});

Deno.test("lines below the level are dropped", () => {
  const out = lines("warn", (l) => {
    l.debug("a");
    l.info("b");
    l.warn("c");
    l.error("d");
  });
  assert.deepEqual(out.map((l) => JSON.parse(l).msg), ["c", "d"]);
});
