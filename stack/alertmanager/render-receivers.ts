/**
 * Adds the optional Slack and email receivers to alertmanager.yml from the environment, because
 * Alertmanager expands no variables in its config (prometheus/alertmanager#504). Secrets go into
 * files beside the output, 0600, read by Alertmanager through `api_url_file` and
 * `auth_password_file`, so the rendered config holds none.
 *
 *   deno run --allow-read --allow-write --allow-env=ALERT_* --ignore-env=LOG_STREAM,LOG_TOKENS \
 *     --allow-sys=uid \
 *     stack/alertmanager/render-receivers.ts --out DIR [--in stack/alertmanager/alertmanager.yml] \
 *     [--owner UID:GID]
 *
 * Writes DIR/alertmanager.yml (and DIR/secrets/*). Run it where Alertmanager will read DIR at the
 * same path (paths in the output are absolute). compose runs it as the one-shot service
 * `alertmanager-config` before Alertmanager, `deno task stack` likewise. --owner gives the
 * written files to Alertmanager's user when this runs as root (only root may give files away; as
 * anyone else the files stay theirs, the user who then runs Alertmanager). Environment:
 *
 *   ALERT_SLACK_WEBHOOK_URL   Slack incoming webhook: every receiver also posts to Slack
 *   ALERT_SLACK_CHANNEL       optional channel override (#cost-alerts)
 *   ALERT_EMAIL_TO            with ALERT_EMAIL_FROM and ALERT_SMTP_SMARTHOST (host:port): critical
 *                             alerts (the `oncall` receiver) are also emailed
 *   ALERT_SMTP_USERNAME, ALERT_SMTP_PASSWORD   optional SMTP login
 *   ALERT_SMTP_REQUIRE_TLS    true (default) or false
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";

/** The receivers that get each channel: Slack everywhere, email only where alerts page. */
const SLACK_RECEIVERS = ["alert-receiver", "oncall"];
const EMAIL_RECEIVERS = ["oncall"];

interface Receiver {
  name: string;
  [kind: string]: unknown;
}
interface AlertmanagerConfig {
  templates?: string[];
  receivers: Receiver[];
  [key: string]: unknown;
}

/** A missing or inconsistent setting; the message names the variable. */
export class ReceiverSettingsError extends Error {
  override name = "ReceiverSettingsError";
}

/** What the environment asks for, validated. */
export interface ReceiverSettings {
  slack?: { webhookUrl: string; channel?: string };
  email?: {
    to: string;
    from: string;
    smarthost: string;
    username?: string;
    password?: string;
    requireTls: boolean;
  };
}

/** Reads the ALERT_* variables; throws naming the first one that is missing or wrong. */
export function receiverSettings(env: (name: string) => string | undefined): ReceiverSettings {
  const get = (name: string) => {
    const value = env(name)?.trim();
    return value ? value : undefined;
  };
  const settings: ReceiverSettings = {};
  const slackUrl = get("ALERT_SLACK_WEBHOOK_URL");
  if (slackUrl) {
    if (!/^https?:\/\/\S+$/.test(slackUrl)) {
      throw new ReceiverSettingsError("ALERT_SLACK_WEBHOOK_URL must be an http(s) URL");
    }
    settings.slack = { webhookUrl: slackUrl, channel: get("ALERT_SLACK_CHANNEL") };
  }
  const emailNames = ["ALERT_EMAIL_TO", "ALERT_EMAIL_FROM", "ALERT_SMTP_SMARTHOST"] as const;
  const [to, from, smarthost] = emailNames.map(get);
  if (to || from || smarthost) {
    const missing = emailNames.filter((name) => !get(name));
    if (missing.length > 0) {
      throw new ReceiverSettingsError(`email alerts need ${missing.join(" and ")} as well`);
    }
    if (!/^[^\s:]+:\d+$/.test(smarthost!)) {
      throw new ReceiverSettingsError("ALERT_SMTP_SMARTHOST must be host:port");
    }
    const tls = get("ALERT_SMTP_REQUIRE_TLS") ?? "true";
    if (tls !== "true" && tls !== "false") {
      throw new ReceiverSettingsError("ALERT_SMTP_REQUIRE_TLS must be true or false");
    }
    const username = get("ALERT_SMTP_USERNAME");
    const password = get("ALERT_SMTP_PASSWORD");
    if (Boolean(username) !== Boolean(password)) {
      throw new ReceiverSettingsError(
        "ALERT_SMTP_USERNAME and ALERT_SMTP_PASSWORD go together",
      );
    }
    settings.email = {
      to: to!,
      from: from!,
      smarthost: smarthost!,
      username,
      password,
      requireTls: tls === "true",
    };
  }
  return settings;
}

/** A file the rendered config names, with its content (secrets only). */
export interface SecretFile {
  path: string;
  content: string;
}

/**
 * The config with the receivers the settings ask for; relative template globs made absolute
 * against the source config's folder, since the output lives elsewhere.
 */
export function renderReceivers(
  sourceText: string,
  sourceDir: string,
  outDir: string,
  settings: ReceiverSettings,
): { config: string; secrets: SecretFile[] } {
  const config = parse(sourceText) as AlertmanagerConfig;
  config.templates = (config.templates ?? []).map((glob) =>
    isAbsolute(glob) ? glob : join(sourceDir, glob)
  );
  const byName = new Map(config.receivers.map((r) => [r.name, r]));
  const secrets: SecretFile[] = [];
  const append = (names: string[], kind: string, entry: Record<string, unknown>) => {
    for (const name of names) {
      const receiver = byName.get(name);
      if (!receiver) throw new ReceiverSettingsError(`alertmanager.yml has no receiver ${name}`);
      // A copy each: the same object twice would come out as a YAML anchor and alias.
      receiver[kind] = [...(receiver[kind] as unknown[] ?? []), structuredClone(entry)];
    }
  };

  if (settings.slack) {
    const file = join(outDir, "secrets", "slack_webhook_url");
    secrets.push({ path: file, content: settings.slack.webhookUrl });
    append(SLACK_RECEIVERS, "slack_configs", {
      api_url_file: file,
      ...(settings.slack.channel ? { channel: settings.slack.channel } : {}),
      send_resolved: true,
      title: '{{ template "ict.title" . }}',
      title_link: '{{ template "ict.group.dashboard" . }}',
      text: '{{ template "ict.text" . }}',
    });
  }
  if (settings.email) {
    const { email } = settings;
    const login: Record<string, string> = {};
    if (email.username && email.password) {
      const file = join(outDir, "secrets", "smtp_password");
      secrets.push({ path: file, content: email.password });
      Object.assign(login, { auth_username: email.username, auth_password_file: file });
    }
    append(EMAIL_RECEIVERS, "email_configs", {
      to: email.to,
      from: email.from,
      smarthost: email.smarthost,
      ...login,
      require_tls: email.requireTls,
      send_resolved: true,
      headers: { Subject: '{{ template "ict.title" . }}' },
      html: '{{ template "ict.email.html" . }}',
      text: '{{ template "ict.text" . }}',
    });
  }

  const header = [
    "# Rendered by stack/alertmanager/render-receivers.ts from alertmanager.yml and the ALERT_*",
    "# environment; do not edit (render again). Secrets are in the files *_file names, not here.",
  ].join("\n");
  return { config: `${header}\n${stringify(config, { lineWidth: 0 })}`, secrets };
}

/** Reads an environment variable only when --allow-env grants it. */
function envIfAllowed(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      in: { type: "string", default: join(import.meta.dirname ?? ".", "alertmanager.yml") },
      out: { type: "string" },
      owner: { type: "string" },
    },
  });
  if (!values.out) {
    console.error("render-receivers: --out DIR is required");
    Deno.exit(2);
  }
  const owner = values.owner === undefined ? undefined : /^(\d+):(\d+)$/.exec(values.owner);
  if (owner === null) {
    console.error(`render-receivers: --owner must be UID:GID, got ${values.owner}`);
    Deno.exit(2);
  }
  try {
    const source = resolve(values.in);
    const outDir = resolve(values.out);
    const settings = receiverSettings(envIfAllowed);
    const { config, secrets } = renderReceivers(
      await Deno.readTextFile(source),
      dirname(source),
      outDir,
      settings,
    );
    await Deno.mkdir(join(outDir, "secrets"), { recursive: true, mode: 0o700 });
    for (const secret of secrets) {
      await Deno.writeTextFile(secret.path, secret.content, { mode: 0o600 });
    }
    await Deno.writeTextFile(join(outDir, "alertmanager.yml"), config);
    if (owner && Deno.uid() === 0) {
      const [uid, gid] = [Number(owner[1]), Number(owner[2])];
      for (const path of [join(outDir, "secrets"), ...secrets.map((s) => s.path)]) {
        await Deno.chown(path, uid, gid);
      }
    }
    const channels = [settings.slack && "Slack", settings.email && "email"].filter(Boolean);
    console.error(
      `render-receivers: wrote ${join(outDir, "alertmanager.yml")} (webhook${
        channels.map((c) => ` + ${c}`).join("")
      })`,
    );
  } catch (error) {
    console.error(`render-receivers: ${error instanceof Error ? error.message : error}`);
    Deno.exit(error instanceof ReceiverSettingsError ? 2 : 1);
  }
}
