/**
 * The streaming scenario's timing client (scripts/bench/clients/stream_timing.ts), run as the
 * scenario runs it: its own process, against a small SSE server here on 127.0.0.1.
 */
import assert from "node:assert/strict";

const CLIENT = new URL("../../scripts/bench/clients/stream_timing.ts", import.meta.url);

interface Timings {
  readonly ttftMs: number[];
  readonly ttltMs: number[];
  readonly errors: number;
}

Deno.test("stream timing: the warm-up requests are sent on the schedule and left out of the times", async () => {
  const arrivals: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    arrivals.push(performance.now());
    const events = [
      'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n',
      "data: [DONE]\n\n",
    ];
    return new Response(events.join(""), { headers: { "content-type": "text/event-stream" } });
  });
  const dir = await Deno.makeTempDir();
  try {
    const spec = `${dir}/spec.json`;
    await Deno.writeTextFile(
      spec,
      JSON.stringify({
        url: `http://127.0.0.1:${server.addr.port}/v1/chat/completions`,
        headers: { "content-type": "application/json" },
        body: "{}",
        count: 3,
        rate: 20,
        warmup: 4,
      }),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-read", CLIENT.pathname, spec],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const timings = JSON.parse(new TextDecoder().decode(out.stdout)) as Timings;
    assert.equal(
      arrivals.length,
      7,
      "four warm-up requests and three timed ones reached the server",
    );
    assert.equal(timings.errors, 0);
    assert.equal(timings.ttftMs.length, 3, "only the timed requests are reported");
    assert.equal(timings.ttltMs.length, 3);
    for (const t of timings.ttftMs) assert.ok(Number.isFinite(t) && t >= 0, `time ${t}`);
    // One schedule for all seven, 50 ms apart, the warm-up first: not sent all at once (a few ms
    // apart). Measured from the second request, as a cold client's first one may leave late and
    // make the second late too; the margins leave room for a busy machine.
    const warmupMs = arrivals[3] - arrivals[1];
    assert.ok(warmupMs >= 50, `warm-up requests 2-4 arrived over ${warmupMs.toFixed(0)} ms`);
    const spanMs = arrivals[6] - arrivals[1];
    assert.ok(spanMs >= 150, `requests 2-7 arrived over ${spanMs.toFixed(0)} ms`);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
