import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { Child } from "../harness/process.ts";
import { FakeBroker, startNameServer, topicConfig } from "../harness/servers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("the client library on Node", () => {
  test("mod.ts bundled for Node looks a route up over node:net", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bolide-node-"));
    try {
      const built = spawnSync(process.execPath, ["build", join(ROOT, "mod.ts"), "--target", "node", "--outfile", join(dir, "bolide.mjs")], { encoding: "utf8" });
      assert.equal(built.status, 0, built.stderr);
      await using ns = await startNameServer();
      await using broker = new FakeBroker({ clusterName: "C", brokerName: "node-b", brokerAddr: "127.0.0.1:10911", brokerId: 0 });
      await broker.register(ns.addr, [topicConfig("FromNode", 3)]);
      writeFileSync(join(dir, "lookup.mjs"), `
        import { NameServerClient, TopicNotExistError } from "./bolide.mjs";
        const c = new NameServerClient({ namesrvAddr: process.argv[2] });
        const route = await c.getRoute("FromNode");
        let missing = "";
        try { await c.getRoute("Nope"); } catch (e) { missing = e instanceof TopicNotExistError ? "TopicNotExistError" : String(e); }
        console.log(JSON.stringify({ route, missing }));
        c.close();
      `);
      await using node = new Child("node", [join(dir, "lookup.mjs"), ns.addr]);
      await node.exited;
      assert.equal(node.exitCode, 0, node.stderr);
      const out = JSON.parse(node.stdoutLines[0]);
      assert.equal(out.route.queueDatas[0].readQueueNums, 3);
      assert.deepEqual(out.route.brokerDatas[0].brokerAddrs, { "0": "127.0.0.1:10911" });
      assert.equal(out.missing, "TopicNotExistError");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
