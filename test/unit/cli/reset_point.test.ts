import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { resetPointOf } from "../../../src/cli/group_commands.ts";
import { UsageError } from "../../../src/cli/server_commands.ts";

describe("offset reset --to", () => {
  test("takes the words, ms, ISO 8601 and mqadmin's yyyy-MM-dd#HH:mm:ss:SSS (local time)", () => {
    assert.equal(resetPointOf("earliest"), "earliest");
    assert.equal(resetPointOf("latest"), "latest");
    assert.equal(resetPointOf("1764838800000"), 1764838800000);
    assert.equal(resetPointOf("2026-12-04T09:00:00Z"), Date.UTC(2026, 11, 4, 9));
    assert.equal(resetPointOf("2026-12-04#09:00:00:250"), new Date(2026, 11, 4, 9, 0, 0, 250).getTime());
    const before = Date.now();
    const now = resetPointOf("now") as number;
    assert.ok(now >= before && now <= Date.now());
  });

  test("refuses anything else as a usage error naming the forms", () => {
    for (const bad of ["", "yesterday", "12:00", "2026-13-45", "2026-12-04#9:00", "2026-12-04#25:00:00:000", "-5", "1e12"]) {
      assert.throws(() => resetPointOf(bad), (e: unknown) => e instanceof UsageError && /--to must be earliest, latest, now/.test(e.message), bad);
    }
  });
});
