// deno-lint-ignore-file jsx-key -- keys are React's list reconciliation; this JSX is rendered
// to a string once, and Hono would write a `key` prop out as an HTML attribute.
/**
 * The live page, rendered on the server from the same snapshot JSON `/live/summary` returns, so
 * it reads well before (and without) its script. The script (assets/app.js) then keeps it live,
 * building the same markup for new rows and totals.
 */
import type { FC } from "hono/jsx";
import { Models, RequestRow, SpendCard, Tenants, WINDOWS, type WireSummary } from "./panels.tsx";

export type { WireSummary };

/** What the page shell needs. */
export interface PageProps {
  /** The snapshot, or null when the caller must first give an API key. */
  readonly summary: WireSummary | null;
  readonly scriptUrl: string;
  readonly styleUrl: string;
}

/** The page as an HTML document. */
export function renderPage(props: PageProps): string {
  return "<!doctype html>" + (<LivePage {...props} />).toString();
}

const LivePage: FC<PageProps> = ({ summary, scriptUrl, styleUrl }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      <title>Inference cost — live</title>
      <link rel="icon" href="/favicon.ico" type="image/svg+xml" />
      <link rel="stylesheet" href={styleUrl} />
      <script type="module" src={scriptUrl}></script>
    </head>
    <body>
      <header class="top">
        <h1>
          Inference cost <span class="tag">live</span>
        </h1>
        <p id="scope">
          {summary === null
            ? ""
            : summary.tenant === null
            ? "All tenants"
            : `Tenant ${summary.tenant}`}
        </p>
        <p id="status" role="status" data-state="connecting">
          {summary === null ? "API key needed" : "Snapshot; connecting…"}
        </p>
        <button type="button" id="forget-key" hidden>Forget key</button>
      </header>
      <main>
        <form id="key-form" hidden={summary !== null}>
          <label for="key">API key</label>
          <input
            id="key"
            name="key"
            type="password"
            autocomplete="off"
            required
            spellcheck={false}
          />
          <button type="submit">Show spend</button>
          <p class="hint">
            The key stays in this tab (session storage) and is sent in a header, never in a URL. An
            admin key shows every tenant, a tenant key its own.
          </p>
          <p id="key-error" class="error" role="alert"></p>
        </form>
        <section id="spend" aria-labelledby="spend-h">
          <h2 id="spend-h">Spend now</h2>
          <div class="cards">
            {WINDOWS.map(({ kind, title }) => (
              <SpendCard kind={kind} title={title} window={summary?.windows[kind] ?? null} />
            ))}
          </div>
        </section>
        <section id="tenants" aria-labelledby="tenants-h">
          <h2 id="tenants-h">Tenants</h2>
          <p class="legend">
            Bars run to the budget, or to the hourly alert threshold when there is no budget: amber
            at the threshold or 80 % of the budget, red at the budget.
          </p>
          <div class="scroll" tabindex={0} role="region" aria-labelledby="tenants-h">
            <table>
              <thead>
                <tr>
                  <th scope="col">Tenant</th>
                  {WINDOWS.map(({ title }) => <th scope="col">{title}</th>)}
                  <th scope="col" class="num">Requests (month)</th>
                </tr>
              </thead>
              <Tenants summary={summary} />
            </table>
          </div>
        </section>
        <section id="models" aria-labelledby="models-h">
          <h2 id="models-h">Models</h2>
          <div class="scroll" tabindex={0} role="region" aria-labelledby="models-h">
            <table>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  {WINDOWS.map(({ title }) => <th scope="col" class="num">{title}</th>)}
                  <th scope="col" class="num">Requests (month)</th>
                  <th scope="col" class="num">Tokens in / out (month)</th>
                </tr>
              </thead>
              <Models summary={summary} />
            </table>
          </div>
        </section>
        <section id="recent" aria-labelledby="recent-h">
          <h2 id="recent-h">Last 50 requests</h2>
          <div class="scroll" tabindex={0} role="region" aria-labelledby="recent-h">
            <table>
              <thead>
                <tr>
                  <th scope="col">Time (UTC)</th>
                  <th scope="col">Request id</th>
                  <th scope="col">Tenant</th>
                  <th scope="col">Model</th>
                  <th scope="col">Route</th>
                  <th scope="col" class="num">Tokens in / out</th>
                  <th scope="col" class="num">Cost</th>
                  <th scope="col">Status</th>
                  <th scope="col">Usage</th>
                  <th scope="col">Trace</th>
                </tr>
              </thead>
              <tbody id="request-rows">
                {(summary?.recent ?? []).map((e) => <RequestRow e={e} />)}
              </tbody>
            </table>
          </div>
        </section>
      </main>
      <footer>
        Windows are calendar hour, day and month in UTC. Costs are exact; hover an amount for every
        digit. Prompts and replies are never shown.
      </footer>
    </body>
  </html>
);
