import assert from "node:assert/strict";
import {
  buildProviderDirectory,
  loadProviderDirectory,
  ProvidersError,
  providersJsonSchema,
  Secret,
} from "../../src/providers/providers.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { withJsonFile } from "../helpers/files.ts";

const EXAMPLE = new URL("../../src/providers/providers.example.json", import.meta.url).pathname;
const EXAMPLE_ENV = {
  OPENAI_API_KEY: "sk-openai",
  ANTHROPIC_API_KEY: "sk-ant",
  OPENROUTER_API_KEY: "sk-or",
  GROQ_API_KEY: "gsk",
};

Deno.test("the example providers file expresses OpenAI, Anthropic, vLLM, Ollama, OpenRouter and Groq", () => {
  const directory = loadProviderDirectory(EXAMPLE, EXAMPLE_ENV);
  assert.deepEqual(
    directory.providers.map((p) => [p.name, p.protocol]),
    [
      ["openai", "openai"],
      ["anthropic", "anthropic"],
      ["vllm", "openai"],
      ["ollama", "openai"],
      ["openrouter", "openai"],
      ["groq", "openai"],
    ],
  );
  const route = directory.route("llama-3.1-70b");
  assert.equal(route?.provider.name, "vllm");
  assert.equal(route?.upstreamModel, "meta-llama/Llama-3.1-70B-Instruct");
  assert.equal(directory.route("claude-sonnet-4-5")?.provider.protocol, "anthropic");
  assert.equal(directory.route("not-listed"), undefined);
  assert.equal(directory.providers.find((p) => p.name === "vllm")?.apiKey, undefined);
  assert.equal(directory.providers[0].apiKey?.reveal(), "sk-openai");
});

Deno.test("a provider's key variable that is not set stops start-up naming the variable, never a value", () => {
  const raw = {
    providers: [{
      name: "openai",
      protocol: "openai",
      base_url: "https://api.openai.com/v1",
      api_key_env: "OPENAI_API_KEY",
      models: ["gpt-4o"],
    }],
  };
  assert.throws(
    () => buildProviderDirectory(raw, { OPENAI_API_KEY: " " }, "p.json"),
    (e: Error) =>
      e instanceof ProvidersError &&
      e.message ===
        'p.json: providers.0.api_key_env: environment variable OPENAI_API_KEY (key of provider "openai") is not set',
  );
});

Deno.test("a bad providers file is refused naming the field", () => {
  const provider = {
    name: "p",
    protocol: "openai",
    base_url: "https://example.com/v1",
    models: ["gpt-4o"],
  };
  const cases: [unknown, RegExp][] = [
    [{ providers: [{ ...provider, protocol: "grpc" }] }, /providers\.0\.protocol/],
    [{ providers: [{ ...provider, base_url: "ftp://x" }] }, /providers\.0\.base_url/],
    [
      { providers: [{ ...provider, base_url: "https://user:secret@example.com/v1" }] },
      /providers\.0\.base_url: must not contain credentials/,
    ],
    [
      { providers: [{ ...provider, headers: { Authorization: "Bearer x" } }] },
      /providers\.0\.headers\.Authorization: is set by the gateway/,
    ],
    [{ providers: [{ ...provider, models: [] }] }, /providers\.0\.models/],
    [{ providers: [provider, { ...provider, name: "q" }] }, /already routed to provider "p"/],
    [{ providers: [provider, provider] }, /providers\.1\.name: duplicate "p"/],
    [{ providers: [{ ...provider, name: "Has Spaces" }] }, /providers\.0\.name/],
    [{ providers: [{ ...provider, api_key: "sk-inline" }] }, /providers\.0/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(() => buildProviderDirectory(raw, {}), message, JSON.stringify(raw));
  }
});

Deno.test("PROVIDERS_FILE errors stop the configuration naming the setting", async () => {
  await withJsonFile({ providers: [{ name: "x" }] }, (path) => {
    assert.throws(
      () => loadConfig({ PROVIDERS_FILE: path }),
      (e: Error) => e instanceof ConfigError && e.message.startsWith(`PROVIDERS_FILE: ${path}:`),
    );
  });
});

Deno.test("without a providers file every model is simulated", () => {
  const config = loadConfig({});
  assert.equal(config.providers.unroutedModels, "simulated");
  assert.equal(config.providers.route("gpt-4o"), undefined);
});

Deno.test("a secret prints, serializes and inspects as [redacted]", () => {
  const secret = new Secret("sk-live-123");
  assert.equal(String(secret), "[redacted]");
  assert.equal(JSON.stringify({ secret }), '{"secret":"[redacted]"}');
  assert.equal(Deno.inspect({ secret }).includes("sk-live-123"), false);
  assert.equal(secret.reveal(), "sk-live-123");
});

Deno.test("providers.schema.json is the JSON Schema of the providers file's validator", async () => {
  const path = new URL("../../src/providers/providers.schema.json", import.meta.url);
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(path)),
    providersJsonSchema(),
    'regenerate: deno eval \'import {providersJsonSchema} from "./src/providers/providers.ts"; ' +
      "console.log(JSON.stringify(providersJsonSchema(), null, 2))' > src/providers/providers.schema.json",
  );
});
