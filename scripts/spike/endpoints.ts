/**
 * Where the spike finds the stack: a flag, else the environment (compose's spike service sets
 * it), else the native stack that `deno task stack` runs from this checkout (its URLs, random
 * ports included, are in .stack-data/stack.json; used while its Prometheus answers there), else the
 * default ports on 127.0.0.1, which both `deno task stack` and `docker compose up` publish.
 */

/** The four URLs the spike talks to. */
export interface StackTargets {
  app: string;
  prometheus: string;
  alertmanager: string;
  receiver: string;
}

/** Default ports of both the native and the compose stack. */
export const DEFAULT_TARGETS: StackTargets = {
  app: "http://127.0.0.1:8000",
  prometheus: "http://127.0.0.1:9090",
  alertmanager: "http://127.0.0.1:9093",
  receiver: "http://127.0.0.1:9095",
};

/** The native stack's state file under the default data folder of this checkout. */
export const NATIVE_STATE_FILE = new URL("../../.stack-data/stack.json", import.meta.url);

interface NativeState {
  urls?: {
    app?: string;
    prometheus: string;
    alertmanager: string;
    alertReceiver: string;
  };
}

/**
 * The running native stack's URLs, or undefined when there is no state file or its Prometheus does
 * not answer (a stack that was killed leaves its file behind). Without the app, the app's default.
 */
export async function nativeStackTargets(
  stateFile: URL | string = NATIVE_STATE_FILE,
): Promise<StackTargets | undefined> {
  let state: NativeState;
  try {
    state = JSON.parse(await Deno.readTextFile(stateFile));
  } catch {
    return undefined;
  }
  if (!state.urls) return undefined;
  try {
    const ready = await fetch(`${state.urls.prometheus}/-/ready`, {
      signal: AbortSignal.timeout(2_000),
    });
    await ready.body?.cancel();
    if (!ready.ok) return undefined;
  } catch {
    return undefined;
  }
  return {
    app: state.urls.app ?? DEFAULT_TARGETS.app,
    prometheus: state.urls.prometheus,
    alertmanager: state.urls.alertmanager,
    receiver: state.urls.alertReceiver,
  };
}

/**
 * Each URL from the first source that names it: flags, environment, the native stack, defaults.
 * `source` says where the ones no flag or variable gave came from, for the spike's first lines.
 */
export async function resolveTargets(
  flags: Partial<StackTargets>,
  env: Partial<StackTargets>,
  native: () => Promise<StackTargets | undefined> = () => nativeStackTargets(),
): Promise<{ targets: StackTargets; source: string }> {
  const names = Object.keys(DEFAULT_TARGETS) as Array<keyof StackTargets>;
  const given = (name: keyof StackTargets) => flags[name] || env[name] || undefined;
  const missing = names.filter((name) => !given(name));
  const running = missing.length > 0 ? await native() : undefined;
  const fallback = running ?? DEFAULT_TARGETS;
  const targets = {} as StackTargets;
  for (const name of names) targets[name] = (given(name) ?? fallback[name]).replace(/\/+$/, "");
  const source = missing.length === 0
    ? "the flags and environment"
    : running
    ? "the native stack running from this checkout (.stack-data/stack.json)"
    : "the default ports on 127.0.0.1";
  return { targets, source };
}
