/**
 * The ceiling: a bare Hono app on Deno answering POST /v1/inference with a reply of the same JSON
 * shape as the real route, without tokens, prices, metrics or spans. Listens on PORT (127.0.0.1)
 * and prints `listening <port>` once ready.
 */
import { Hono } from "hono";

const app = new Hono();
app.post("/v1/inference", async (c) => {
  const body = await c.req.json<{ prompt: string; model?: string }>();
  return c.json({
    text: `Response to: ${body.prompt.slice(0, 50)}...`,
    model: body.model ?? "gpt-4o-mini",
    input_tokens: 6,
    output_tokens: 10,
    cost_usd: 0.0000069,
  });
});
app.get("/health", (c) => c.json({ status: "ok" }));

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? "0"),
  onListen: ({ port }) => console.log(`listening ${port}`),
}, app.fetch);
