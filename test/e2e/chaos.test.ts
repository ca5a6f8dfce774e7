import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { runtimeBinary } from "../harness/process.ts";

const root = join(new URL(".", import.meta.url).pathname, "..", "..");

describe("the chaos checker", () => {
  test("the short schedule (kill, stop, partition as root, full and slow disk, restarts) breaks no guarantee", () => {
    const r = spawnSync(runtimeBinary(), [join(root, "scripts/chaos/chaos.ts"), "--schedule", "short"], { cwd: root, encoding: "utf8", timeout: 170_000 });
    const summary = r.stdout.split("\n").find((l) => l.startsWith("chaos: ")) ?? "";
    console.log(summary);
    assert.equal(r.status, 0, `${summary}\n${r.stderr.slice(-4000)}`);
    assert.match(summary, /^chaos: OK .* faults=[67] .* lost=0 unexpected=0 reordered=0 .* crashes=0 /);
    // Load ran: acknowledged messages by the ten thousand, every one delivered.
    const acked = Number(/acked=(\d+)/.exec(summary)?.[1]);
    assert.ok(acked > 10_000, summary);
    assert.ok(Number(/delivered=(\d+)/.exec(summary)?.[1]) >= acked, summary);
  }, 180_000);
});
