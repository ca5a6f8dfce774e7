import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { generatedAssets } from "../../scripts/build_assets.ts";

describe("the dashboard's bundled assets", () => {
  test("src/admin/assets.generated.ts matches node_modules/uplot (run bun scripts/build_assets.ts after changing uplot)", () => {
    const committed = readFileSync(join(import.meta.dirname, "../../src/admin/assets.generated.ts"), "utf8");
    assert.ok(committed === generatedAssets(), "src/admin/assets.generated.ts is stale");
  });
});
