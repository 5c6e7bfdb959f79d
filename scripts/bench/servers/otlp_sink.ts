/**
 * A minimal OTLP/HTTP sink for benchmarks on a machine without the native collector: it reads
 * every export body in full (so the exporter does all of its work) and answers 200 with an empty
 * response. Listens on PORT (127.0.0.1). Not a collector: it decodes nothing.
 */
const port = Number(Deno.env.get("PORT") ?? "4318");
let exports = 0;
let bytes = 0;

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
  const { pathname } = new URL(req.url);
  if (req.method === "GET" && pathname === "/health") return Response.json({ exports, bytes });
  if (req.method === "POST" && pathname.startsWith("/v1/")) {
    bytes += (await req.arrayBuffer()).byteLength;
    exports++;
    const json = (req.headers.get("content-type") ?? "").includes("json");
    return json
      ? Response.json({})
      : new Response(new Uint8Array(), { headers: { "content-type": "application/x-protobuf" } });
  }
  await req.body?.cancel();
  return new Response("not found", { status: 404 });
});
