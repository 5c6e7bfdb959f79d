/**
 * The byte scanner of upstream event streams, checked against references: eventsource-parser for
 * where events end and what they hold, JSON.parse for what is one well-formed object, and a walk
 * of the parsed object for the keys, values and text the scan reports — wherever the stream is cut.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { keyBits, keyIds, type ScanRules } from "../../src/gateway/json_scan.ts";
import { SseScanner } from "../../src/gateway/sse_scan.ts";
import { TextTally } from "../../src/gateway/text_tally.ts";
import { parseSseEvent } from "../../src/gateway/sse.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const KEYS = ["type", "usage", "delta", "text", "choices", "model"] as const;
const ID = keyIds(KEYS);
/** Text: `delta.text` at the top, or `choices[].delta.text`. */
const RULES: ScanRules = {
  keys: KEYS,
  keepValues: keyBits(ID.type, ID.model),
  keepNullRanges: keyBits(ID.usage),
  textKeys: keyBits(ID.text),
  isText: (depth, keyAt) =>
    (depth === 2 && keyAt[1] === ID.delta) ||
    (depth === 4 && keyAt[1] === ID.choices && keyAt[3] === ID.delta),
};

interface Scanned {
  readonly bytes: Uint8Array;
  readonly dataLines: number;
  readonly plainObject: boolean;
  readonly isDone: boolean;
  readonly seen: number;
  readonly nulls: number;
  readonly top: number;
  readonly filledArrays: number;
  readonly values: Record<string, string | number>;
  readonly nullMember?: string;
  readonly text: string;
  readonly eventName: number;
}

/** Scans `stream` cut into `pieces`; each event as the scanner reports it. */
function scanAll(stream: Uint8Array, cuts: readonly number[]): Scanned[] {
  const tally = new TextTally();
  const scanner = new SseScanner(RULES, tally);
  const events: Scanned[] = [];
  const bounds = [
    0,
    ...[...new Set(cuts)].filter((c) => c > 0 && c < stream.length).sort((a, b) => a - b),
    stream.length,
  ];
  for (let p = 0; p + 1 < bounds.length; p++) {
    // A copy: the scanner must not rely on seeing one buffer twice.
    const chunk = stream.slice(bounds[p], bounds[p + 1]);
    let from = 0;
    while (from < chunk.length) {
      const end = scanner.scan(chunk, from, bounds[p]);
      if (end < 0) break;
      tally.commit();
      const values: Record<string, string | number> = {};
      for (const key of ["type", "model"] as const) {
        const n = scanner.json.valueLength(ID[key]);
        values[key] = n >= 0 ? scanner.json.valueText(ID[key]) : n;
      }
      const usage = (scanner.json.nullRanges & keyBits(ID.usage)) !== 0
        ? decoder.decode(
          stream.subarray(scanner.json.nullStart[ID.usage], scanner.json.nullEnd[ID.usage]),
        )
        : undefined;
      events.push({
        bytes: stream.subarray(scanner.eventStart, scanner.eventEnd),
        dataLines: scanner.dataLines,
        plainObject: scanner.json.plainObject,
        isDone: scanner.isDone,
        seen: scanner.json.seen,
        nulls: scanner.json.nulls,
        top: scanner.json.top,
        filledArrays: scanner.json.filledArrays,
        values,
        nullMember: usage,
        text: "",
        eventName: scanner.eventNameLength,
      });
      from = end;
    }
  }
  // The text of all events, in order: the tally only ever grows.
  if (events.length > 0) (events[events.length - 1] as { text: string }).text = tally.text();
  return events;
}

function referenceEvents(text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed(text);
  return events;
}

const lineEnd = fc.constantFrom("\n", "\r\n", "\r");
const fieldValue = fc.string({ unit: "grapheme", maxLength: 12 }).map((s) =>
  s.replace(/[\r\n]/g, "")
);
const sseEvent = fc.record({
  lines: fc.array(
    fc.oneof(
      fieldValue.map((v) => `data: ${v}`),
      fieldValue.map((v) => `data:${v}`),
      fc.constant("data"),
      fieldValue.map((v) => `event: ${v}`),
      fieldValue.map((v) => `: ${v}`),
      fieldValue.map((v) => `id: ${v}`),
      fc.constant("retry: 10"),
      fieldValue.map((v) => `dat${v}`),
    ),
    { maxLength: 5 },
  ),
  ends: fc.array(lineEnd, { minLength: 6, maxLength: 6 }),
});

function wire(events: { lines: string[]; ends: string[] }[], tail: string): string {
  return events.map((e) => e.lines.map((l, i) => l + e.ends[i]).join("") + e.ends[5]).join("") +
    tail;
}

Deno.test("events end where EventSource ends them and hold what it reads, however the stream is cut", () => {
  fc.assert(
    fc.property(
      fc.array(sseEvent, { maxLength: 6 }),
      fieldValue.map((v) => `data: ${v}`),
      fc.array(fc.nat({ max: 400 }), { maxLength: 8 }),
      (events, tail, cuts) => {
        const text = wire(events, tail);
        const stream = encoder.encode(text);
        const scanned = scanAll(stream, cuts);
        // The events tile the stream up to the unfinished one.
        let at = 0;
        for (const e of scanned) {
          assert.equal(e.bytes.byteOffset, at);
          at += e.bytes.length;
        }
        // Read one at a time, the events with data are EventSource's.
        const mine = scanned.map((e) => parseSseEvent(decoder.decode(e.bytes)))
          .filter((e) => e !== undefined);
        const theirs = referenceEvents(text).map((e) => ({ event: e.event, data: e.data }));
        assert.deepEqual(mine, theirs);
        assert.deepEqual(
          scanned.filter((e) => e.dataLines > 0).length,
          theirs.length,
          "data lines are counted",
        );
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("an event split at every byte, with CRLF, comments and multi-line data, scans the same", () => {
  const text = ': hello\r\n\r\nevent: message_start\r\ndata: {"type":"x",\r\ndata: "delta":' +
    '{"text":"Hi \\"you\\" \\u00e9"}}\r\n\r\ndata: [DONE]\r\r';
  const stream = encoder.encode(text);
  const whole = scanAll(stream, []);
  assert.equal(whole.length, 3);
  assert.equal(whole[1].plainObject, true);
  assert.equal(whole[1].values.type, "x");
  assert.equal(whole[2].isDone, true);
  assert.equal(whole[2].text, 'Hi "you" é');
  for (let cut = 1; cut < stream.length; cut++) {
    for (const second of [cut + 1, cut + 7]) {
      // A CRLF cut after its CR may leave the LF to the next event: the events read the same.
      const read = (e: Scanned) => ({ ...e, bytes: parseSseEvent(decoder.decode(e.bytes)) });
      assert.deepEqual(
        scanAll(stream, [cut, second]).map(read),
        whole.map(read),
        `cut at ${cut} and ${second}`,
      );
    }
  }
});

/** Whether JSON.parse reads `data` as an object whose keys the scan may compare as bytes. */
function expectedPlain(data: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return false;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  // Keys written with escapes, or nesting deeper than 32, are left to a full read.
  let depth = 0;
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === "{" || c === "[") max = Math.max(max, ++depth);
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      let escaped = false;
      while (data[++i] !== '"') {
        if (data[i] === "\\") {
          escaped = true;
          i++;
        }
      }
      let next = i + 1;
      while (/\s/.test(data[next])) next++;
      if (escaped && data[next] === ":") return false;
    }
  }
  return max <= 32;
}

function scanData(data: string): Scanned {
  const lines = data.split("\n").map((line) => `data: ${line}\n`).join("");
  const events = scanAll(encoder.encode(`${lines}\n`), []);
  assert.equal(events.length, 1);
  return events[0];
}

const jsonish = fc.string({
  unit: fc.constantFrom(...'{}[]:,"\\ atrufnls0123456789-.eE+/ubé'),
  maxLength: 40,
});

Deno.test("only data JSON.parse reads as one object counts as a plain object", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        jsonish,
        fc.json({ maxDepth: 4 }),
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ a: v }, null, 2)),
        fc.tuple(fc.json({ maxDepth: 3 }), fc.nat(), jsonish).map(([json, at, noise]) => {
          const i = at % (json.length + 1);
          return json.slice(0, i) + noise + json.slice(i + 1);
        }),
      ),
      (data) => {
        fc.pre(!/\r/.test(data));
        assert.equal(scanData(data).plainObject, expectedPlain(data), JSON.stringify(data));
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("edge cases of JSON are judged as JSON.parse judges them", () => {
  const cases = [
    '{"a":-0.5e+10}',
    '{"a":01}',
    '{"a":1.}',
    '{"a":.5}',
    '{"a":"\\x"}',
    '{"a":"\\u12G4"}',
    '{"a":"\\u00e9\\n\\/"}',
    '{"a":[]}',
    '{"a":[,]}',
    '{"a":1,}',
    "{}",
    "  {}  ",
    "{} x",
    "[]",
    '"s"',
    "",
    '{"a":tru}',
    '{"a":nulll}',
    '{"a"\n:\n1}',
    '{"a":"b\nc"}',
    `${"[".repeat(31)}${"]".repeat(31)}`,
    `{"a":${"[".repeat(31)}${"]".repeat(31)}}`,
    `{"a":${"[".repeat(32)}${"]".repeat(32)}}`,
  ];
  for (const data of cases) {
    assert.equal(scanData(data).plainObject, expectedPlain(data), JSON.stringify(data));
  }
});

/** What the scan should report about `value` (a parsed object), walked in document order. */
function reference(value: Record<string, unknown>) {
  let seen = 0, nulls = 0, top = 0, filledArrays = 0;
  let text = "";
  const walk = (v: unknown, path: (string | null)[]) => {
    if (Array.isArray(v)) {
      if (path.length === 1 && v.length > 0 && path[0] !== null) {
        const id = (ID as Record<string, number>)[path[0]];
        if (id) filledArrays |= 1 << id;
      }
      v.forEach((x) => walk(x, [...path, null]));
    } else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const id = (ID as Record<string, number>)[k];
        if (id) {
          if (x === null) nulls |= 1 << id;
          else seen |= 1 << id;
          if (path.length === 0) top |= 1 << id;
        }
        const keys = [...path, k];
        if (
          typeof x === "string" && k === "text" &&
          ((keys.length === 2 && keys[0] === "delta") ||
            (keys.length === 4 && keys[0] === "choices" && keys[2] === "delta"))
        ) text += x;
        walk(x, keys);
      }
    }
  };
  walk(value, []);
  const values: Record<string, string | number> = {};
  for (const key of ["type", "model"]) {
    const v = value[key];
    values[key] = typeof v !== "string"
      ? -1
      : JSON.stringify(v).includes("\\") || encoder.encode(v).length > 64
      ? -2
      : v;
  }
  return { seen, nulls, top, filledArrays, values, text };
}

const word = fc.string({ unit: "grapheme", maxLength: 8 });
const key = fc.constantFrom(...KEYS, "other", "x_y", "typ", "usages");
const leaf = fc.oneof(
  word,
  fc.constant(null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
);
// Integer-like keys would be reordered by JavaScript objects; none are generated.
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("tree"), { maxLength: 3 }),
    fc.dictionary(key, tie("tree"), { maxKeys: 4 }),
  ),
}));

Deno.test("keys, kept values, null members and text are reported as a walk of the object finds them", () => {
  fc.assert(
    fc.property(
      fc.dictionary(key, tree, { maxKeys: 6 }),
      fc.boolean(),
      fc.array(fc.nat({ max: 300 }), { maxLength: 4 }),
      (object, spaced, cuts) => {
        const data = spaced ? JSON.stringify(object, null, 1) : JSON.stringify(object);
        const lines = data.split("\n").map((line) => `data: ${line}\n`).join("");
        const [event] = scanAll(encoder.encode(`${lines}\n`), cuts);
        assert.equal(event.plainObject, true, data);
        const want = reference(object);
        assert.deepEqual(
          {
            seen: event.seen,
            nulls: event.nulls,
            top: event.top,
            filledArrays: event.filledArrays,
            values: event.values,
            text: event.text,
          },
          want,
          data,
        );
        // A top-level `"usage": null` on one line is found with its key.
        if (object.usage === null && !spaced) assert.equal(event.nullMember, '"usage":null');
        if (object.usage !== null) assert.equal(event.nullMember, undefined);
      },
    ),
    { numRuns: 1500 },
  );
});

Deno.test("an escaped key is left to a full read", () => {
  assert.equal(scanData('{"us\\u0061ge":{"x":1}}').plainObject, false);
  assert.equal(scanData('{"a":{"b\\"c":1}}').plainObject, false);
  assert.equal(scanData('{"a":{"b":"c\\"d"}}').plainObject, true);
});

Deno.test("[DONE] is the end marker with spaces around it, and nothing else is", () => {
  assert.equal(scanData("[DONE]").isDone, true);
  assert.equal(scanData("  [DONE] ").isDone, true);
  assert.equal(scanData("[DONE]\n").isDone, true);
  for (const data of ["[DONE", "[DONE]x", "[DO NE]", '"[DONE]"', "{}"]) {
    assert.equal(scanData(data).isDone, false, data);
  }
  const [comment] = scanAll(encoder.encode(": [DONE]\n\n"), []);
  assert.equal(comment.isDone, false);
});

Deno.test("a value longer than 64 bytes or escaped is kept as unusable, not cut short", () => {
  assert.equal(scanData(`{"type":"${"a".repeat(64)}"}`).values.type, "a".repeat(64));
  assert.equal(scanData(`{"type":"${"a".repeat(65)}"}`).values.type, -2);
  assert.equal(scanData('{"type":"a\\nb"}').values.type, -2);
  assert.equal(scanData('{"type":5}').values.type, -1);
  assert.equal(scanData('{"x":{"type":"nested"}}').values.type, -1);
});

Deno.test("an event name too long to keep is marked so; an empty one is none", () => {
  const [long] = scanAll(encoder.encode(`event: ${"e".repeat(70)}\ndata: {}\n\n`), []);
  assert.equal(long.eventName, -2);
  const [empty] = scanAll(encoder.encode("event:\ndata: {}\n\n"), []);
  assert.equal(empty.eventName, -1);
  const [named] = scanAll(encoder.encode("event: ping\ndata: {}\n\n"), []);
  assert.equal(named.eventName, 4);
});

Deno.test("a byte-order mark opening the stream is not part of the first event", () => {
  const stream = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode('data: {"type":"a"}\n\n')]);
  const [event] = scanAll(stream, []);
  assert.equal(event.plainObject, true);
  assert.equal(decoder.decode(event.bytes), 'data: {"type":"a"}\n\n');
});
