/**
 * Clients that abuse the HTTP layer, against the real server over raw TCP: oversized headers,
 * slow-loris headers and bodies, lying Content-Lengths. Each is refused or cut off, and the server
 * stays up and keeps serving everyone else at normal speed.
 */
import assert from "node:assert/strict";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { eventually, within } from "../helpers/poll.ts";
import { parseExposition, total } from "../helpers/prom.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function addressOf(server: RunningServer): { hostname: string; port: number } {
  const url = new URL(server.url);
  return { hostname: url.hostname, port: Number(url.port) };
}

/** Sends raw bytes and reads until the response head and `Content-Length` body are in, or EOF. */
async function rawExchange(
  server: RunningServer,
  data: string | Uint8Array,
  timeoutMs = 5000,
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect(addressOf(server));
  const timer = setTimeout(() => conn.close(), timeoutMs);
  let received = "";
  try {
    await conn.write(typeof data === "string" ? encoder.encode(data) : data).catch(() => {});
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      received += decoder.decode(buf.subarray(0, n));
      const headEnd = received.indexOf("\r\n\r\n");
      if (headEnd === -1) continue;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(received)?.[1] ?? 0);
      if (received.length - headEnd - 4 >= length) break;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer or the server */ }
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
  return { status, body: received.slice(received.indexOf("\r\n\r\n") + 4) };
}

const BODY = JSON.stringify({ prompt: "Explain transformers in 3 sentences" });

function post(body = BODY, headers = ""): string {
  return `POST /v1/inference HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${encoder.encode(body).length}\r\n${headers}Connection: close\r\n\r\n${body}`;
}

/** 20 ordinary requests, each answered 200 promptly. */
async function othersAreServed(server: RunningServer): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/inference`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: BODY,
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).input_tokens, 6);
    // Generous for a loaded CI machine; a client blocked behind the abusers would wait for ever.
    assert.ok(performance.now() - started < 3000, "an ordinary request was slow");
  }
}

async function scrape(server: RunningServer) {
  return parseExposition(await (await fetch(`${server.url}/metrics`)).text());
}

async function withServer(env: Record<string, string>, fn: (s: RunningServer) => Promise<void>) {
  const server = await startServer(env);
  let code: number | undefined;
  try {
    await fn(server);
  } finally {
    code = await server.stop();
  }
  assert.equal(code, 0, "the server exited cleanly after the abuse");
}

Deno.test("oversized request headers are refused by the HTTP layer before any handler runs", async () => {
  await withServer({}, async (server) => {
    const cases = [
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(512 * 1024)}\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: x\r\n${
        Array.from({ length: 5000 }, (_, i) => `X-H${i}: v`).join("\r\n")
      }\r\n\r\n`,
      post(BODY, `X-Big: ${"b".repeat(1024 * 1024)}\r\n`),
    ];
    for (const raw of cases) {
      const { status } = await rawExchange(server, raw);
      assert.ok(status === 400 || status === 431, `got ${status}`);
    }
    const m = await scrape(server);
    assert.equal(total(m, "inference_requests_total"), 0, "no handler ran");
    await othersAreServed(server);
  });
});

Deno.test("300 slow-loris connections that never finish their headers do not slow other clients", async () => {
  await withServer({}, async (server) => {
    const held: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        const conn = await Deno.connect(addressOf(server));
        held.push(conn);
        await conn.write(encoder.encode(`POST /v1/inference HTTP/1.1\r\nHost: x\r\nX-Slow: `));
      }
      await othersAreServed(server);
      const m = await scrape(server);
      assert.equal(total(m, "inference_in_flight_requests"), 0, "no handler is held by them");
    } finally {
      for (const conn of held) conn.close();
    }
    await othersAreServed(server);
  });
});

Deno.test("a body that trickles in is cut off after BODY_TIMEOUT_MS with 408 request_timeout and frees its slot", async () => {
  await withServer(
    { MAX_CONCURRENT_REQUESTS: "4", BODY_TIMEOUT_MS: "1000" },
    async (server) => {
      const slow = Array.from({ length: 4 }, async () => {
        const conn = await Deno.connect(addressOf(server));
        const started = performance.now();
        try {
          await conn.write(encoder.encode(
            "POST /v1/inference HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
              'Content-Length: 100000\r\n\r\n{"prompt":"',
          ));
          // One byte every 100 ms until the server answers.
          const trickle = setInterval(() => conn.write(encoder.encode("a")).catch(() => {}), 100);
          const giveUp = setTimeout(() => conn.close(), 10_000);
          const buf = new Uint8Array(4096);
          let received = "";
          try {
            while (!received.includes("\r\n\r\n{")) {
              const n = await conn.read(buf);
              if (n === null) break;
              received += decoder.decode(buf.subarray(0, n));
            }
          } catch {
            // closed by giveUp: the server never cut the body off
          } finally {
            clearInterval(trickle);
            clearTimeout(giveUp);
          }
          return { received, elapsedMs: performance.now() - started };
        } finally {
          try {
            conn.close();
          } catch { /* closed by giveUp */ }
        }
      });
      await eventually("4 slow bodies holding every slot", within(15_000), async () => {
        const m = await scrape(server);
        return total(m, "inference_in_flight_requests") === 4;
      });
      const answers = await Promise.all(slow);
      for (const { received, elapsedMs } of answers) {
        assert.match(received, /^HTTP\/1\.1 408 /);
        assert.match(received, /"type":"request_timeout"/);
        assert.ok(elapsedMs >= 900 && elapsedMs < 5000, `cut off after ${elapsedMs} ms`);
      }
      await othersAreServed(server);
      const m = await scrape(server);
      assert.equal(total(m, "inference_in_flight_requests"), 0);
      assert.equal(total(m, "inference_requests_total", { status: "bad_request" }), 4);
      assert.equal(total(m, "inference_input_tokens_total"), 20 * 6, "only the 20 were billed");
    },
  );
});

Deno.test("a declared Content-Length over MAX_BODY_BYTES is refused with 413 before the body is sent", async () => {
  await withServer({}, async (server) => {
    const started = performance.now();
    const { status, body } = await rawExchange(
      server,
      "POST /v1/inference HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: 50000000\r\n\r\n",
    );
    assert.equal(status, 413);
    assert.equal(JSON.parse(body).error.type, "payload_too_large");
    assert.ok(performance.now() - started < 2000);
    await othersAreServed(server);
  });
});

Deno.test("a Content-Length shorter than the body reads only what it declares and bills nothing", async () => {
  await withServer({}, async (server) => {
    const body = JSON.stringify({ prompt: "x".repeat(100) });
    const raw = `POST /v1/inference HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: 20\r\nConnection: close\r\n\r\n${body}`;
    const { status, body: answer } = await rawExchange(server, raw);
    assert.equal(status, 400);
    assert.equal(JSON.parse(answer).error.type, "invalid_json");
    const m = await scrape(server);
    assert.equal(total(m, "inference_input_tokens_total"), 0);
    await othersAreServed(server);
  });
});
