import assert from "node:assert/strict";

Deno.test("scripts/bench/ledger_scale.ts runs end to end on a small ledger and reports every figure", async () => {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("../../scripts/bench/ledger_scale.ts", import.meta.url).pathname,
        "--rows=3000",
        `--json=${json}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const figures = JSON.parse(await Deno.readTextFile(json));
    assert.equal(figures.store, "sqlite");
    assert.equal(figures.rows, 3000);
    for (
      const name of [
        "report group_by=tenant,model",
        "export csv (all rows)",
        "export focus (all rows)",
      ]
    ) {
      assert.ok(Number.isFinite(figures[name]), name);
    }
  } finally {
    await Deno.remove(json);
  }
});
