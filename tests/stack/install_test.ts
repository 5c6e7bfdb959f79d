/** scripts/install-stack.sh: the pinned versions, built from the mapped Go modules, cached. */
import assert from "node:assert/strict";
import { stackBinaries } from "../../scripts/stack/binaries.ts";
import { REPO_ROOT, run, versionPins } from "./helpers.ts";

const pins = await versionPins();
const binaries = await stackBinaries(REPO_ROOT);

Deno.test("install-stack.sh --print-paths names an executable for every component", async () => {
  for (const [name, path] of Object.entries(binaries)) {
    const info = await Deno.stat(path);
    assert.ok(info.isFile && (info.mode! & 0o111) !== 0, `${name}: ${path} is not executable`);
    assert.ok(!path.startsWith(REPO_ROOT), `${name} is cached inside the work tree: ${path}`);
  }
});

Deno.test("each binary reports the version pinned in stack/versions.env", async () => {
  const expectations: Array<[string, string[], RegExp]> = [
    [binaries.prometheus, ["--version"], new RegExp(`version ${pins.PROMETHEUS_VERSION} `)],
    [binaries.promtool, ["--version"], new RegExp(`version ${pins.PROMETHEUS_VERSION} `)],
    [binaries.alertmanager, ["--version"], new RegExp(`version ${pins.ALERTMANAGER_VERSION} `)],
    [binaries.amtool, ["--version"], new RegExp(`version ${pins.ALERTMANAGER_VERSION} `)],
    [binaries.otelcol, ["--version"], new RegExp(`version ${pins.OTELCOL_VERSION}$`, "m")],
    [binaries.jaeger, ["version"], new RegExp(`"gitVersion":\\s*"v${pins.JAEGER_VERSION}"`)],
    [
      binaries["docker-compose"],
      ["version"],
      new RegExp(`version v${pins.DOCKER_COMPOSE_VERSION}$`, "m"),
    ],
  ];
  for (const [binary, args, pattern] of expectations) {
    const { code, output } = await run(binary, args);
    assert.equal(code, 0, output);
    assert.match(output, pattern, binary);
  }
});

Deno.test("prometheus and promtool are built from the module version mapped from the image version", async () => {
  const [major, minor, patch] = pins.PROMETHEUS_VERSION.split(".").map(Number);
  const moduleVersion = `v0.${major}${String(minor).padStart(2, "0")}.${patch}`;
  for (const binary of [binaries.prometheus, binaries.promtool]) {
    const { code, output } = await run("go", ["version", "-m", binary]);
    assert.equal(code, 0, output);
    const main = /^\s+mod\s+(\S+)\s+(\S+)/m.exec(output);
    assert.deepEqual(main?.slice(1), ["github.com/prometheus/prometheus", moduleVersion]);
  }
});

Deno.test("jaeger is built from the v1 module tag paired with its 2.x image", async () => {
  const [, minor, patch] = pins.JAEGER_VERSION.split(".").map(Number);
  const tag = `v1.${63 + minor}.${patch}`;
  const download = await run("go", [
    "mod",
    "download",
    "-json",
    `github.com/jaegertracing/jaeger@${tag}`,
  ]);
  assert.equal(download.code, 0, download.output);
  const goMod = await Deno.readTextFile(JSON.parse(download.output).GoMod);
  const wanted = /^\s+go\.opentelemetry\.io\/collector\/otelcol (\S+)$/m.exec(goMod)?.[1];
  // Built inside a copy of that tag's source, the binary's dependencies are that tag's go.mod.
  const { output } = await run("go", ["version", "-m", binaries.jaeger]);
  assert.match(output, /^\s+path\s+github\.com\/jaegertracing\/jaeger\/cmd\/jaeger$/m);
  const built = /^\s+dep\s+go\.opentelemetry\.io\/collector\/otelcol\s+(\S+)/m.exec(output)?.[1];
  assert.ok(wanted, `no otelcol requirement in jaeger ${tag}'s go.mod`);
  assert.equal(built, wanted);
});

Deno.test("a second install run is a no-op that finishes in seconds", async () => {
  const started = performance.now();
  const { code, output } = await run("bash", ["scripts/install-stack.sh"]);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(code, 0, output);
  assert.equal((output.match(/: cached in /g) ?? []).length, 5, output);
  assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`);
});

Deno.test("install-stack.sh rejects an unknown component with a non-zero exit", async () => {
  const { code, output } = await run("bash", ["scripts/install-stack.sh", "grafana"]);
  assert.notEqual(code, 0);
  assert.match(output, /unknown argument: grafana/);
});
