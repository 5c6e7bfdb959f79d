/**
 * `deno task prices:check`: each refusal (a rate moved more than tenfold either way, a model or
 * alias gone, the old pricing_version on new prices), what --accept lets through, what nothing
 * lets through (an invalid file), and the check of an edited table against its last commit.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runPricesCheck } from "../../scripts/prices_check.ts";
import { REPO_ROOT } from "../../scripts/stack/launcher.ts";

type PriceJson = {
  pricing_version: string;
  models: Record<string, Record<string, unknown> & { aliases?: string[] }>;
  [key: string]: unknown;
};
const SHIPPED: PriceJson = JSON.parse(
  await Deno.readTextFile(join(REPO_ROOT, "src/pricing/prices.json")),
);

/** The shipped table with a new version, changed by `edit`. */
function proposed(edit: (p: PriceJson) => void = () => {}): PriceJson {
  const copy = structuredClone(SHIPPED);
  copy.pricing_version = `${SHIPPED.pricing_version}-next`;
  edit(copy);
  return copy;
}

/** Runs the check on `file` (written to a temp file) against the shipped table. */
async function check(file: unknown, ...flags: string[]) {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  const out: string[] = [];
  const err: string[] = [];
  try {
    await Deno.writeTextFile(path, typeof file === "string" ? file : JSON.stringify(file));
    const code = await runPricesCheck([path, ...flags], {
      repoRoot: REPO_ROOT,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    });
    return { code, out: out.join("\n"), err: err.join("\n"), problems: problemLines(err) };
  } finally {
    await Deno.remove(path);
  }
}

const problemLines = (lines: string[]) =>
  lines.join("\n").split("\n").filter((l) => l.startsWith("  - ")).map((l) => l.slice(4));

Deno.test("a new version with prices moved less than tenfold passes", async () => {
  const r = await check(proposed((p) => {
    p.models["gpt-4o"].input = 5; // 2x
    p.models["gpt-5"].output = 1; // 10x down: the limit itself is allowed
    p.models["claude-sonnet-4.5"].output = 150; // 10x up
  }));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /ok: .* may replace src\/pricing\/prices\.json/);
});

Deno.test("the same file passes with nothing to check", async () => {
  const r = await check(SHIPPED);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /is the same as/);
});

Deno.test("a rate moved more than tenfold up or down is refused, naming the rate and the factor", async () => {
  const r = await check(proposed((p) => {
    p.models["gpt-4o"].input = 25.01;
    p.models["gpt-4o-mini"].output = 0.059;
  }));
  assert.equal(r.code, 1);
  assert.deepEqual(r.problems, [
    "models.gpt-4o.input: 2.5 -> 25.01 USD per 1M tokens (10.004x up, more than 10x)",
    "models.gpt-4o-mini.output: 0.6 -> 0.059 USD per 1M tokens (10.169x down, more than 10x)",
  ]);
  assert.match(r.err, /refused .*2 problem\(s\)/);
  assert.match(r.err, /rerun with --accept/);
});

Deno.test("a rate moved to or from zero is refused", async () => {
  const r = await check(proposed((p) => {
    p.models["mixtral-8x22b"].output = 0;
    p.models["text-embedding-3-small"].output = 0.02;
  }));
  assert.equal(r.code, 1);
  assert.deepEqual(r.problems, [
    "models.mixtral-8x22b.output: 0.9 -> 0 USD per 1M tokens (down to zero, more than 10x)",
    "models.text-embedding-3-small.output: 0 -> 0.02 USD per 1M tokens (up from zero, more than 10x)",
  ]);
});

Deno.test("long-context, 1-hour write and service-tier rates are guarded too", async () => {
  const r = await check(proposed((p) => {
    const sonnet = p.models["claude-sonnet-4.5"];
    (sonnet.long_context as Record<string, number>).output = 300;
    sonnet.cache_write_1h = 0.5;
    const tiers = p.models["gpt-5"].service_tiers as Record<string, Record<string, number>>;
    tiers.flex.cached_input = 0.006;
  }));
  assert.equal(r.code, 1);
  assert.deepEqual(
    r.problems.sort(),
    [
      "models.claude-sonnet-4.5.cache_write_1h: 6 -> 0.5 USD per 1M tokens (12x down, more than 10x)",
      "models.claude-sonnet-4.5.long_context.output: 22.5 -> 300 USD per 1M tokens (13.333x up, more than 10x)",
      "models.gpt-5.service_tiers.flex.cached_input: 0.0625 -> 0.006 USD per 1M tokens (10.417x down, more than 10x)",
    ].sort(),
  );
});

Deno.test("a missing model or alias is refused", async () => {
  const r = await check(proposed((p) => {
    delete p.models["claude-opus-4.1"];
    p.models["gpt-4o"].aliases = ["gpt-4o-2024-08-06"];
  }));
  assert.equal(r.code, 1);
  assert.deepEqual(r.problems, [
    'models.gpt-4o.aliases: "gpt-4o-2024-11-20" no longer resolves',
    "models.claude-opus-4.1: missing; its requests would be refused or go unpriced",
  ]);
});

Deno.test("new prices under the old pricing_version are refused", async () => {
  const r = await check(proposed((p) => {
    p.pricing_version = SHIPPED.pricing_version;
    p.models["gpt-4o"].input = 2.75;
  }));
  assert.equal(r.code, 1);
  assert.deepEqual(r.problems, [
    `pricing_version: still "${SHIPPED.pricing_version}" though the file changed; give the new table a new version`,
  ]);
});

Deno.test("--accept lets every listed problem through and still lists them", async () => {
  const edit = (p: PriceJson) => {
    p.pricing_version = SHIPPED.pricing_version;
    p.models["gpt-4o"].input = 250;
    delete p.models["llama-3.1-70b"];
  };
  assert.equal((await check(proposed(edit))).code, 1);
  const r = await check(proposed(edit), "--accept");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /accepted with --accept, 3 problem\(s\)/);
  assert.match(r.out, /models\.gpt-4o\.input: 2\.5 -> 250/);
  assert.match(r.out, /models\.llama-3\.1-70b: missing/);
  assert.match(r.out, /pricing_version: still/);
});

Deno.test("an invalid price file is refused even with --accept, naming the field", async () => {
  const bad = await check(proposed((p) => p.models["gpt-4o"].input = -1), "--accept");
  assert.equal(bad.code, 1);
  assert.match(bad.err, /refused: .*: models\.gpt-4o\.input: must be a non-negative USD amount/);
  const notJson = await check("{ nope", "--accept");
  assert.equal(notJson.code, 1);
  assert.match(notJson.err, /refused: .*\.json: .*JSON/);
});

Deno.test("an unknown flag or a second file is a usage error", async () => {
  const io = { repoRoot: REPO_ROOT, out: () => {}, err: () => {} };
  assert.equal(await runPricesCheck(["--force"], io), 2);
  assert.equal(await runPricesCheck(["a.json", "b.json"], io), 2);
});

Deno.test("without a file the edited table is checked against its last commit", async () => {
  const repo = await Deno.makeTempDir({ prefix: "prices-check-" });
  const git = async (...args: string[]) => {
    const r = await new Deno.Command("git", {
      args: ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", ...args],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
  };
  try {
    const path = join(repo, "src/pricing/prices.json");
    await Deno.mkdir(join(repo, "src/pricing"), { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(SHIPPED));
    await git("init", "-q");
    await git("add", ".");
    await git("commit", "-q", "-m", "prices");
    const run = async () => {
      const err: string[] = [];
      const code = await runPricesCheck([], {
        repoRoot: repo,
        out: () => {},
        err: (l) => err.push(l),
      });
      return { code, problems: problemLines(err) };
    };
    await Deno.writeTextFile(path, JSON.stringify(proposed((p) => p.models["gpt-4o"].input = 3)));
    assert.equal((await run()).code, 0);
    await Deno.writeTextFile(path, JSON.stringify(proposed((p) => p.models["gpt-4o"].input = 30)));
    assert.deepEqual((await run()).problems, [
      "models.gpt-4o.input: 2.5 -> 30 USD per 1M tokens (12x up, more than 10x)",
    ]);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});

Deno.test("deno task prices:check exits 1 on a refusal and 0 with --accept", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      path,
      JSON.stringify(proposed((p) => p.models["gpt-4o"].output = 1000)),
    );
    const run = (...flags: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["task", "-q", "prices:check", path, ...flags],
        cwd: REPO_ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const refused = await run();
    assert.equal(refused.code, 1);
    assert.match(
      new TextDecoder().decode(refused.stderr),
      /models\.gpt-4o\.output: 10 -> 1000 USD per 1M tokens \(100x up/,
    );
    assert.equal((await run("--accept")).code, 0);
  } finally {
    await Deno.remove(path);
  }
});
