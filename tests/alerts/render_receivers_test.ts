/**
 * stack/alertmanager/render-receivers.ts: the ALERT_* environment becomes Slack and email
 * receivers that amtool accepts, secrets stay out of the rendered config, and a half-set email
 * configuration is refused naming what is missing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { stackBinaries } from "../../scripts/stack/binaries.ts";
import {
  receiverSettings,
  ReceiverSettingsError,
  renderReceivers,
} from "../../stack/alertmanager/render-receivers.ts";
import { REPO_ROOT } from "./rule_files.ts";

const { amtool } = await stackBinaries(REPO_ROOT);
const SOURCE_DIR = join(REPO_ROOT, "stack/alertmanager");
const source = await Deno.readTextFile(join(SOURCE_DIR, "alertmanager.yml"));

const envOf = (values: Record<string, string>) => (name: string) => values[name];

interface Rendered {
  templates: string[];
  receivers: Array<{
    name: string;
    webhook_configs: Array<{ url: string }>;
    slack_configs?: Array<Record<string, unknown>>;
    email_configs?: Array<Record<string, unknown>>;
  }>;
}

Deno.test("with no ALERT_* variables only the webhook receivers remain, templates made absolute", () => {
  const { config, secrets } = renderReceivers(
    source,
    SOURCE_DIR,
    "/out",
    receiverSettings(envOf({})),
  );
  const rendered = parse(config) as Rendered;
  assert.deepEqual(secrets, []);
  assert.deepEqual(rendered.templates, [join(SOURCE_DIR, "templates/*.tmpl")]);
  for (const receiver of rendered.receivers) {
    assert.deepEqual(Object.keys(receiver).sort(), ["name", "webhook_configs"]);
  }
});

Deno.test("Slack goes to every receiver, email to oncall only, and amtool accepts the result", async () => {
  const env = {
    ALERT_SLACK_WEBHOOK_URL: "https://hooks.slack.example/services/T0/B0/secret-token",
    ALERT_SLACK_CHANNEL: "#llm-cost",
    ALERT_EMAIL_TO: "oncall@example.com",
    ALERT_EMAIL_FROM: "alertmanager@example.com",
    ALERT_SMTP_SMARTHOST: "smtp.example.com:587",
    ALERT_SMTP_USERNAME: "alertmanager",
    ALERT_SMTP_PASSWORD: "smtp-password-value",
  };
  const outDir = await Deno.makeTempDir({ prefix: "ict-am-render-" });
  try {
    const { config, secrets } = renderReceivers(
      source,
      SOURCE_DIR,
      outDir,
      receiverSettings(envOf(env)),
    );
    assert.ok(!config.includes(env.ALERT_SLACK_WEBHOOK_URL), "the Slack URL is a secret");
    assert.ok(!config.includes(env.ALERT_SMTP_PASSWORD), "the SMTP password is a secret");
    const rendered = parse(config) as Rendered;
    const byName = Object.fromEntries(rendered.receivers.map((r) => [r.name, r]));
    for (const name of ["alert-receiver", "oncall"]) {
      assert.equal(byName[name].webhook_configs[0].url, "http://alert-receiver:9095/alerts");
      assert.equal(byName[name].slack_configs?.[0].channel, "#llm-cost");
      assert.equal(
        byName[name].slack_configs?.[0].api_url_file,
        join(outDir, "secrets/slack_webhook_url"),
      );
    }
    assert.equal(byName["alert-receiver"].email_configs, undefined);
    assert.equal(byName.oncall.email_configs?.[0].to, "oncall@example.com");
    assert.equal(
      byName.oncall.email_configs?.[0].auth_password_file,
      join(outDir, "secrets/smtp_password"),
    );
    assert.deepEqual(
      secrets.map((s) => [s.path, s.content]),
      [
        [join(outDir, "secrets/slack_webhook_url"), env.ALERT_SLACK_WEBHOOK_URL],
        [join(outDir, "secrets/smtp_password"), env.ALERT_SMTP_PASSWORD],
      ],
    );

    await Deno.mkdir(join(outDir, "secrets"));
    for (const secret of secrets) await Deno.writeTextFile(secret.path, secret.content);
    await Deno.writeTextFile(join(outDir, "alertmanager.yml"), config);
    const check = await new Deno.Command(amtool, {
      args: ["check-config", join(outDir, "alertmanager.yml")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(check.stdout) + new TextDecoder().decode(check.stderr);
    assert.equal(check.code, 0, output);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("a half-set email configuration is refused, naming what is missing", () => {
  assert.throws(
    () => receiverSettings(envOf({ ALERT_EMAIL_TO: "oncall@example.com" })),
    (error: Error) =>
      error instanceof ReceiverSettingsError &&
      error.message === "email alerts need ALERT_EMAIL_FROM and ALERT_SMTP_SMARTHOST as well",
  );
  assert.throws(
    () =>
      receiverSettings(envOf({
        ALERT_EMAIL_TO: "a@example.com",
        ALERT_EMAIL_FROM: "b@example.com",
        ALERT_SMTP_SMARTHOST: "smtp.example.com:25",
        ALERT_SMTP_USERNAME: "user",
      })),
    /ALERT_SMTP_USERNAME and ALERT_SMTP_PASSWORD go together/,
  );
  assert.throws(
    () => receiverSettings(envOf({ ALERT_SLACK_WEBHOOK_URL: "hooks.slack.com/x" })),
    /ALERT_SLACK_WEBHOOK_URL must be an http\(s\) URL/,
  );
});

/** Runs the script as compose's alertmanager-config service does (its flags, a clean env). */
async function runScript(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${SOURCE_DIR}`,
      "--allow-write",
      "--allow-env=ALERT_*",
      "--ignore-env=LOG_STREAM,LOG_TOKENS",
      "--allow-sys=uid",
      join(SOURCE_DIR, "render-receivers.ts"),
      ...args,
    ],
    cwd: REPO_ROOT,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("run as a one-shot it writes the config, gives the secrets to --owner when root, and amtool accepts it", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "ict-am-oneshot-" });
  try {
    const { code, stderr } = await runScript(
      [`--in=${join(SOURCE_DIR, "alertmanager.yml")}`, `--out=${outDir}`, "--owner=65534:65534"],
      { ALERT_SLACK_WEBHOOK_URL: "https://hooks.slack.example/services/T0/B0/x" },
    );
    assert.equal(code, 0, stderr);
    assert.match(stderr, /wrote .*alertmanager\.yml \(webhook \+ Slack\)/);
    // Only root may give files away; anyone else keeps them, and runs Alertmanager as themselves.
    const expectedUid = Deno.uid() === 0 ? 65534 : Deno.uid();
    const secret = await Deno.stat(join(outDir, "secrets/slack_webhook_url"));
    assert.equal(secret.uid, expectedUid);
    assert.equal(secret.mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(join(outDir, "secrets"))).uid, expectedUid);
    assert.equal((await Deno.stat(join(outDir, "alertmanager.yml"))).mode! & 0o044, 0o044);
    const check = await new Deno.Command(amtool, {
      args: ["check-config", join(outDir, "alertmanager.yml")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(check.code, 0, new TextDecoder().decode(check.stdout));
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("a malformed --owner or a bad ALERT_* setting exits 2 naming it, writing nothing", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "ict-am-oneshot-" });
  try {
    const owner = await runScript([`--out=${outDir}`, "--owner=nobody"], {});
    assert.equal(owner.code, 2);
    assert.match(owner.stderr, /--owner must be UID:GID, got nobody/);
    const email = await runScript([`--out=${outDir}`], { ALERT_EMAIL_TO: "oncall@example.com" });
    assert.equal(email.code, 2);
    assert.match(email.stderr, /email alerts need ALERT_EMAIL_FROM and ALERT_SMTP_SMARTHOST/);
    assert.deepEqual([...Deno.readDirSync(outDir)], []);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
