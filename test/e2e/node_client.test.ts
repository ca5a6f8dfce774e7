import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { Child } from "../harness/process.ts";
import { FakeBroker, startBroker, startNameServer, topicConfig } from "../harness/servers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("the client library on Node", () => {
  test("mod.ts bundled for Node sends and pulls messages through a live broker", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bolide-node-"));
    try {
      const built = spawnSync(process.execPath, ["build", join(ROOT, "mod.ts"), "--target", "node", "--outfile", join(dir, "bolide.mjs")], { encoding: "utf8" });
      assert.equal(built.status, 0, built.stderr);
      await using ns = await startNameServer();
      await using broker = await startBroker(ns.addr, join(dir, "store"));
      writeFileSync(join(dir, "roundtrip.mjs"), `
        import { Producer, PullConsumer, PushConsumer } from "./bolide.mjs";
        const ns = process.argv[2];
        const p = new Producer({ namesrvAddr: ns, group: "node-producer" });
        const sent = [];
        for (let i = 0; i < 20; i++) sent.push((await p.send({ topic: "NodeTopic", body: "from node " + i, tags: "n" })).msgId);
        const big = await p.send({ topic: "NodeTopic", body: "x".repeat(10000) }); // compressed on the way
        const c = new PullConsumer({ namesrvAddr: ns, group: "node-consumer", consumeFromWhere: "first" });
        await c.subscribe("NodeTopic");
        const got = [];
        const deadline = Date.now() + 10000;
        while (got.length < 21 && Date.now() < deadline) got.push(...await c.poll(200, 64));
        await c.commit();
        const pushed = new Set();
        const push = new PushConsumer({ namesrvAddr: ns, group: "node-push", consumeFromWhere: "first", brokerSuspendMaxTimeMs: 1000 });
        push.subscribe("NodeTopic", "n").registerMessageListener((msgs) => { for (const m of msgs) pushed.add(m.msgId); });
        await push.start();
        while (pushed.size < 20 && Date.now() < deadline + 10000) await new Promise((r) => setTimeout(r, 20));
        await push.shutdown();
        console.log(JSON.stringify({ pushed: [...pushed], sent, big: big.msgId, got: got.map((m) => ({ id: m.msgId, body: new TextDecoder().decode(m.body), tags: m.tags ?? null })) }));
        await p.shutdown(); await c.shutdown();
      `);
      await using node = new Child("node", [join(dir, "roundtrip.mjs"), ns.addr]);
      await node.exited;
      assert.equal(node.exitCode, 0, node.stderr);
      const out = JSON.parse(node.stdoutLines[0]);
      const byId = new Map(out.got.map((m: { id: string; body: string }) => [m.id, m.body]));
      out.sent.forEach((id: string, i: number) => assert.equal(byId.get(id), `from node ${i}`));
      assert.equal(byId.get(out.big), "x".repeat(10000));
      assert.equal(out.got.length, 21);
      // The push consumer, with a tag filter: the 20 tagged messages, not the untagged big one.
      assert.deepEqual([...out.pushed].sort(), [...out.sent].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

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
