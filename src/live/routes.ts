/**
 * The live cost page: `GET /` (server-rendered), `GET /live/summary` (the snapshot as JSON),
 * `GET /live/events` (server-sent events, read by the page with fetch so the API key travels in
 * a header), and the page's own script, style sheet and icon. Nothing is loaded from elsewhere;
 * the Content-Security-Policy says so to the browser too.
 */
import type { Context, Hono } from "hono";
import { compress } from "hono/compress";
import { z } from "zod";
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import type { TenantDirectory } from "../tenants/tenants.ts";
import { type LiveAccess, type LiveAuthorizer, scopeFor } from "./access.ts";
import type { LiveData } from "./data.ts";
import type { LiveHub } from "./hub.ts";
import { renderPage } from "./page.tsx";
import { liveEventStream } from "./stream.ts";
import { type SummaryScope, summaryToWire } from "./wire.ts";

/** What the live routes are built from. */
export interface LiveRouteDeps {
  /** Where finished requests are published. */
  readonly hub: LiveHub;
  /** The store behind snapshots: the spend ledger, or this process's memory. */
  readonly data: LiveData;
  /** Tenants: alert thresholds and budgets. */
  readonly tenants: TenantDirectory;
  readonly authorize: LiveAuthorizer;
  readonly now?: () => Date;
  /** JAEGER_UI_URL: trace ids become links to `<url>/trace/<id>`. */
  readonly jaegerUiUrl?: string;
  readonly logger?: Logger;
  /** Comment lines on an idle stream (default 15 s). */
  readonly heartbeatMs?: number;
  /** A fresh snapshot on the stream at least this often (default 60 s), and at each hour. */
  readonly snapshotRefreshMs?: number;
}

/** Rows in the page's table and in a snapshot. */
export const RECENT_LIMIT = 50;

const tenantParam = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).optional();

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Registers the page, its data endpoints and its assets. */
export function registerLiveRoutes(app: Hono, deps: LiveRouteDeps): void {
  const now = deps.now ?? (() => new Date());
  const assets = loadAssets();
  const script = assets.get("app.js")!;
  const style = assets.get("style.css")!;

  /** The caller's view, or the error to answer with. */
  function viewOf(c: Context): { scope: SummaryScope } | ApiError {
    const access: LiveAccess | null = deps.authorize(c.req.raw.headers);
    if (!access) {
      return new ApiError(
        "unauthorized",
        "a valid API key is required (Authorization: Bearer <key> or x-api-key)",
        {},
        { "WWW-Authenticate": "Bearer" },
      );
    }
    const requested = tenantParam.safeParse(c.req.query("tenant"));
    if (!requested.success) {
      return new ApiError("invalid_request", "tenant must be 1-64 of A-Z a-z 0-9 _ . -");
    }
    const scope = scopeFor(access, requested.data);
    if (scope === "forbidden") {
      return new ApiError("forbidden", "this key may only see its own tenant");
    }
    return { scope: { ...scope, directory: deps.tenants, jaegerUiUrl: deps.jaegerUiUrl } };
  }

  // The page, the snapshot and the assets shrink to about a fifth gzipped. Not the event stream:
  // a compressor would hold events back to fill its blocks.
  const gzip = compress();
  for (const path of ["/", "/live/summary", ...[...assets.values()].map((a) => a.path)]) {
    app.use(path, gzip);
  }

  const fail = (c: Context, error: ApiError) =>
    c.json(error.toBody(), error.httpStatus as 400 | 401 | 403, {
      ...error.headers,
      "cache-control": "no-store",
    });

  async function snapshot(scope: SummaryScope) {
    const at = now();
    const summary = await deps.data.summary({
      now: at,
      tenant: scope.tenant,
      recentLimit: RECENT_LIMIT,
    });
    return summaryToWire(summary, at, scope);
  }

  app.get("/", async (c) => {
    const view = viewOf(c);
    // A browser's first visit carries no key: the page then asks for one and fetches with it.
    const summary = view instanceof ApiError ? null : await snapshot(view.scope);
    const html = renderPage({ summary, scriptUrl: script.url, styleUrl: style.url });
    return c.html(html, 200, {
      "content-security-policy": CSP,
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
    });
  });

  app.get("/live/summary", async (c) => {
    const view = viewOf(c);
    if (view instanceof ApiError) return fail(c, view);
    return c.json(await snapshot(view.scope), 200, { "cache-control": "no-store" });
  });

  app.get("/live/events", (c) => {
    const view = viewOf(c);
    if (view instanceof ApiError) return fail(c, view);
    const body = liveEventStream({
      hub: deps.hub,
      data: deps.data,
      now,
      scope: view.scope,
      lastEventId: c.req.header("last-event-id") || undefined,
      recentLimit: RECENT_LIMIT,
      heartbeatMs: deps.heartbeatMs ?? 15_000,
      snapshotRefreshMs: deps.snapshotRefreshMs ?? 60_000,
      onError: (error) =>
        deps.logger?.warn("live snapshot failed", {
          error: error instanceof Error ? error.message : String(error),
        }),
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        // Tells a buffering reverse proxy (nginx) to pass events through as they come.
        "x-accel-buffering": "no",
      },
    });
  });

  for (const asset of assets.values()) {
    app.get(asset.path, (c) => {
      // Versioned URLs (`?v=<hash>`) never change content, so browsers may keep them.
      const cache = c.req.query("v") === asset.hash
        ? "public, max-age=31536000, immutable"
        : "no-cache";
      return c.body(asset.bytes, 200, {
        "content-type": asset.type,
        "cache-control": cache,
        "x-content-type-options": "nosniff",
      });
    });
  }
}

interface Asset {
  readonly path: string;
  readonly url: string;
  readonly hash: string;
  readonly type: string;
  readonly bytes: Uint8Array<ArrayBuffer>;
}

const ASSET_FILES = [
  { file: "app.js", path: "/live/app.js", type: "text/javascript; charset=utf-8" },
  { file: "style.css", path: "/live/style.css", type: "text/css; charset=utf-8" },
  // An SVG served at the path browsers ask for by themselves: no 404 in their console.
  { file: "favicon.svg", path: "/favicon.ico", type: "image/svg+xml" },
] as const;

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const { file, path, type } of ASSET_FILES) {
    const bytes = Deno.readFileSync(new URL(`./assets/${file}`, import.meta.url));
    const hash = shortHash(bytes);
    assets.set(file, { path, url: `${path}?v=${hash}`, hash, type, bytes });
  }
  return assets;
}

/** FNV-1a of the bytes, as 8 hex digits: enough to tell versions of one file apart. */
function shortHash(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}
