/**
 * Headless Chromium for browser tests, driven by playwright-core: Debian's `chromium` package
 * (no browser download), a fresh empty profile per launch (Playwright makes one), and every
 * background service that would reach the internet turned off.
 */
import { type Browser, chromium } from "playwright-core";

/** Where Debian's package puts the browser; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** True when the browser is installed (`apt-get install chromium`). */
export function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/** Launches headless Chromium; `--no-sandbox` because tests run as root. */
export function launchChromium(): Promise<Browser> {
  if (!chromiumInstalled()) {
    throw new Error(
      `no browser at ${CHROMIUM_PATH}: install Debian's chromium (bash scripts/setup.sh does)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
