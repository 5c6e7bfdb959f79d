/**
 * The gateway's floor: a bare pass-through proxy on Deno. Every request is sent on to UPSTREAM_URL
 * (same method, path, content type and body) with `fetch`, and the upstream's status, content type
 * and body stream are handed back untouched — no parsing, no pricing, no metrics, no spans.
 * Listens on PORT (127.0.0.1). GET /health answers 200 without calling the upstream.
 */
const port = Number(Deno.env.get("PORT") ?? "0");
const upstream = (Deno.env.get("UPSTREAM_URL") ?? "").replace(/\/$/, "");
if (!upstream) throw new Error("UPSTREAM_URL is required");

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
  const url = new URL(req.url);
  if (req.method === "GET" && url.pathname === "/health") return new Response("ok");
  const answer = await fetch(`${upstream}${url.pathname}${url.search}`, {
    method: req.method,
    headers: { "content-type": req.headers.get("content-type") ?? "application/json" },
    body: req.body,
    signal: req.signal,
  });
  return new Response(answer.body, {
    status: answer.status,
    headers: { "content-type": answer.headers.get("content-type") ?? "application/octet-stream" },
  });
});
