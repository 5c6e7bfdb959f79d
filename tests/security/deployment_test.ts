/**
 * The shipped deployment's security defaults, read from the very files compose runs: the app
 * container runs as a non-root user with narrow Deno permissions, writing only its data folder
 * (and those permissions are enough: the server starts, serves and records its spend ledger with
 * exactly them), every published port binds to 127.0.0.1 unless BIND_ADDRESS says otherwise, and
 * Grafana's anonymous users can only view.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";

const ROOT = new URL("../../", import.meta.url);

interface ComposeService {
  build?: { dockerfile?: string };
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  user?: string;
}

async function compose(): Promise<Record<string, ComposeService>> {
  const text = await Deno.readTextFile(new URL("stack/compose.yaml", ROOT));
  return (parseYaml(text) as { services: Record<string, ComposeService> }).services;
}

/** The flags of a `deno run …` argument list, up to the script. */
function denoFlags(args: readonly string[]): string[] {
  const run = args.indexOf("run");
  const script = args.findIndex((a, i) => i > run && !a.startsWith("-"));
  return args.slice(run + 1, script);
}

/** The one folder the app may write: its spend ledger's. */
const DATA_DIR = "/app/data";

function assertNarrow(flags: string[], where: string): void {
  for (const broad of ["-A", "--allow-all", "--allow-run", "--allow-ffi"]) {
    assert.ok(!flags.some((f) => f === broad || f.startsWith(`${broad}=`)), `${where}: ${broad}`);
  }
  const writes = flags.filter((f) => f === "--allow-write" || f.startsWith("--allow-write="));
  assert.deepEqual(writes, [`--allow-write=${DATA_DIR}`], `${where}: writes beyond ${DATA_DIR}`);
  assert.ok(
    flags.some((f) => f.startsWith("--allow-read=")),
    `${where}: reads are not narrowed to a folder`,
  );
  assert.ok(!flags.includes("--allow-read"), `${where}: unrestricted --allow-read`);
}

Deno.test("the app image runs as a non-root user with no run, FFI or unrestricted read permission, writing only its data folder", async () => {
  const dockerfile = await Deno.readTextFile(new URL("stack/app/Dockerfile", ROOT));
  const lines = dockerfile.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const users = lines.filter((l) => l.startsWith("USER "));
  assert.ok(users.length > 0, "the Dockerfile sets no USER");
  const last = users.at(-1)!.slice(5).trim();
  assert.ok(!["root", "0", "0:0"].includes(last), `the image runs as ${last}`);
  const cmd = lines.find((l) => l.startsWith("CMD "));
  assert.ok(cmd, "the Dockerfile has a CMD");
  assertNarrow(denoFlags(JSON.parse(cmd.slice(4))), "Dockerfile CMD");

  const app = (await compose()).app;
  assert.equal(app.build?.dockerfile, "stack/app/Dockerfile");
  assert.ok(!app.user || !["root", "0", "0:0"].includes(app.user), "compose overrides the user");
  if (app.command) assertNarrow(denoFlags(app.command), "compose app command");
});

Deno.test("every port compose publishes binds to 127.0.0.1 unless BIND_ADDRESS is set", async () => {
  const services = await compose();
  let published = 0;
  for (const [name, service] of Object.entries(services)) {
    for (const port of service.ports ?? []) {
      published++;
      assert.match(
        port,
        /^(\$\{BIND_ADDRESS:-127\.0\.0\.1\}|127\.0\.0\.1):/,
        `${name} publishes ${port} on every interface`,
      );
    }
  }
  assert.ok(published >= 5, `only ${published} published ports found`);
});

Deno.test("Grafana lets anonymous users only view, allows no sign-up, and takes its admin password from the environment", async () => {
  const grafana = Object.entries(await compose()).find(([name]) => name.includes("grafana"));
  assert.ok(grafana, "compose has a Grafana service");
  const env = grafana[1].environment ?? {};
  // Anonymous viewing is on by default (the port is on loopback unless BIND_ADDRESS says
  // otherwise), and never more than Viewer.
  assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE, "Viewer");
  assert.equal(String(env.GF_USERS_ALLOW_SIGN_UP), "false");
  // admin/admin when unset, which Grafana asks to change at the first login (docs/stack.md, Grafana login).
  assert.equal(env.GF_SECURITY_ADMIN_PASSWORD, "${GRAFANA_ADMIN_PASSWORD:-admin}");
});

Deno.test("the server starts, serves and records its ledger with exactly the container's permissions", async () => {
  const app = (await compose()).app;
  // The container's folders here: the checkout for /app, and for its data volume a temporary
  // folder inside it (git-ignored), as /app/data is inside /app.
  const scratch = new URL(".stack-data/", ROOT).pathname;
  await Deno.mkdir(scratch, { recursive: true });
  const data = await Deno.makeTempDir({ dir: scratch, prefix: "deployment-data-" });
  const flags = denoFlags(app.command ?? []).map((f) =>
    f.replace(/^--allow-read=\/app,/, `--allow-read=${new URL(".", ROOT).pathname},`)
      .replace(new RegExp(`(?<=[=,])${DATA_DIR}$`), data)
  );
  assert.ok(flags.includes(`--allow-write=${data}`), `compose's app flags: ${flags.join(" ")}`);
  // Compose's default, for when .env names no other ledger: `${LEDGER_URL:-sqlite:/app/data/…}`.
  const ledgerUrl = /^\$\{LEDGER_URL:-([^}]+)\}$/.exec(app.environment?.LEDGER_URL ?? "")?.[1] ??
    "";
  assert.ok(ledgerUrl.startsWith(`sqlite:${DATA_DIR}/`), `compose's LEDGER_URL: ${ledgerUrl}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "src/main.ts"],
    cwd: ROOT,
    env: {
      PORT: "0",
      HOST: "127.0.0.1",
      NO_COLOR: "1",
      LEDGER_URL: ledgerUrl.replace(DATA_DIR, data),
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  try {
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    while (!url && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      log += value;
      url = /"msg":"listening","url":"([^"]+)"/.exec(log)?.[1];
    }
    assert.ok(url, `the server did not start with ${flags.join(" ")}:\n${log}`);
    const res = await fetch(`${url}/v1/inference`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "Explain transformers in 3 sentences" }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).cost_usd, 0.0000069);
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    await metrics.body?.cancel();
    const spend = await fetch(`${url}/v1/spend?group_by=`);
    assert.equal(spend.status, 200);
    assert.equal((await spend.json()).total.requests, 1);
  } finally {
    child.kill("SIGTERM");
    // Keep reading stderr until it closes: the shutdown lines need somewhere to go.
    while (!(await reader.read()).done) { /* drain */ }
    assert.equal((await child.status).code, 0);
    await Deno.remove(data, { recursive: true });
  }
});
