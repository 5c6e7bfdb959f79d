import assert from "node:assert/strict";
import { requestIdOf } from "../../src/http/request.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("a request without an id gets a fresh UUID version 7 whose first 48 bits are the time", () => {
  const before = Date.now();
  const id = requestIdOf(new Headers());
  const after = Date.now();
  assert.match(id, UUID_V7);
  const ms = parseInt(id.replaceAll("-", "").slice(0, 12), 16);
  assert.ok(ms >= before && ms <= after, `${ms} not within [${before}, ${after}]`);
});

Deno.test("fresh request ids sort in the order they were made, so the ledger's index grows at its end", () => {
  const ids = Array.from({ length: 2_000 }, () => requestIdOf(new Headers()));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
});

Deno.test("a client's safe x-request-id is kept; an unsafe one is replaced", () => {
  assert.equal(requestIdOf(new Headers({ "x-request-id": "client-42.a_b" })), "client-42.a_b");
  for (const unsafe of ["", "has space", "a".repeat(129), "tab\there", "semi;colon", 'quote"d']) {
    const id = requestIdOf(new Headers(unsafe ? { "x-request-id": unsafe } : {}));
    assert.match(id, UUID_V7, JSON.stringify(unsafe));
  }
});
