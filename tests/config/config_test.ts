import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../src/config.ts";

Deno.test("defaults: port 8000 on 127.0.0.1, reject unpriced, 1 MiB bodies, echo model", () => {
  const config = loadConfig({});
  assert.equal(config.port, 8000);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.unpricedPolicy, "reject");
  assert.equal(config.maxBodyBytes, 1 << 20);
  assert.equal(config.sim.mode, "echo");
  assert.equal(config.serviceName, "inference-cost-tracker");
});

Deno.test("a bad setting is refused with its name", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "eighty" }, /^PORT:/],
    [{ PORT: "70000" }, /^PORT:/],
    [{ UNPRICED_POLICY: "maybe" }, /^UNPRICED_POLICY:/],
    [{ SIM_MODE: "fast" }, /^SIM_MODE:/],
    [{ BUDGET_STORE: "redis" }, /^REDIS_URL:/],
    [{ PRICING_FILE: "/nonexistent/prices.json" }, /^PRICING_FILE:.*cannot read/],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => loadConfig(env), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("a price file with a bad field stops start-up naming file and field", () => {
  const path = Deno.makeTempFileSync({ suffix: ".json" });
  try {
    Deno.writeTextFileSync(
      path,
      JSON.stringify({
        pricing_version: "x",
        effective_date: "2026-01-01",
        currency: "USD",
        models: {
          m: {
            provider: "p",
            tokenizer: "o200k_base",
            input: "cheap",
            output: 1,
            max_output_tokens: 1,
          },
        },
      }),
    );
    assert.throws(() => loadConfig({ PRICING_FILE: path }), /PRICING_FILE: .*models\.m\.input/);
  } finally {
    Deno.removeSync(path);
  }
});
