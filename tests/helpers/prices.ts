/**
 * A copy of the shipped price table dated today (UTC) for the servers the end-to-end tests start:
 * its age stays under a day, so InferencePricingStale stays quiet in them as the calendar moves.
 * Written inside the repository, under the git-ignored .stack-data/, because the stack's app may
 * read only its own tree.
 */
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/stack/launcher.ts";

/** A price file the caller removes (or disposes of with `await using`). */
export interface TodaysPriceFile extends AsyncDisposable {
  readonly path: string;
  readonly effectiveDate: string;
  remove(): Promise<void>;
}

/** Writes src/pricing/prices.json with `effective_date` set to today's UTC date. */
export async function todaysPriceFile(): Promise<TodaysPriceFile> {
  const parent = join(REPO_ROOT, ".stack-data", "test-prices");
  await Deno.mkdir(parent, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: parent });
  const prices = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "src/pricing/prices.json")));
  const effectiveDate = new Date().toISOString().slice(0, 10);
  const path = join(dir, "prices.json");
  await Deno.writeTextFile(path, JSON.stringify({ ...prices, effective_date: effectiveDate }));
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  return { path, effectiveDate, remove, [Symbol.asyncDispose]: remove };
}
