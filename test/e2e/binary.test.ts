import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "../harness/testing.ts";
import { Child } from "../harness/process.ts";
import { FakeBroker, topicConfig } from "../harness/servers.ts";
import { NameServerClient } from "../../src/client/name_server_client.ts";

const BINARY = new URL("../../dist/bolide", import.meta.url).pathname;

describe("the compiled binary", () => {
  test("dist/bolide namesrv answers a route lookup and exits 0 on SIGTERM", async () => {
    assert.ok(existsSync(BINARY), `${BINARY} is missing: run "npm run build" (npm test builds it first)`);
    await using ns = new Child(BINARY, ["namesrv", "--port", "0"]);
    const started = performance.now();
    const addr = await ns.listenAddr();
    const startupMs = performance.now() - started;
    await using broker = new FakeBroker({ clusterName: "BinCluster", brokerName: "bin-a", brokerAddr: "127.0.0.1:10911", brokerId: 0 });
    assert.equal((await broker.register(addr, [topicConfig("BinTopic", 4)])).code, 0);
    const client = new NameServerClient({ namesrvAddr: addr });
    const route = await client.getRoute("BinTopic");
    assert.deepEqual(route.brokerDatas, [{ cluster: "BinCluster", brokerName: "bin-a", brokerAddrs: { "0": "127.0.0.1:10911" } }]);
    client.close();
    ns.kill("SIGTERM");
    await ns.exited;
    assert.equal(ns.exitCode, 0, ns.stderr);
    console.log(`binary: listening after ${startupMs.toFixed(0)} ms`);
  });

  test("dist/bolide route prints the route as JSON, and a missing topic exits 1 with the code", async () => {
    await using ns = new Child(BINARY, ["namesrv", "--port", "0"]);
    const addr = await ns.listenAddr();
    await using broker = new FakeBroker({ clusterName: "C", brokerName: "b", brokerAddr: "127.0.0.1:10911", brokerId: 0 });
    await broker.register(addr, [topicConfig("Shown", 2)]);
    await using route = new Child(BINARY, ["route", "--topic", "Shown", "--namesrv", addr]);
    await route.exited;
    assert.equal(route.exitCode, 0, route.stderr);
    assert.equal(JSON.parse(route.stdoutLines.join("\n")).queueDatas[0].writeQueueNums, 2);
    await using missing = new Child(BINARY, ["route", "--topic", "Missing", "--namesrv", addr]);
    await missing.exited;
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /TopicNotExistError \(code 17\)/);
    await using bad = new Child(BINARY, ["namesrv", "--port", "99999"]);
    await bad.exited;
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /--port must be an integer from 0 to 65535/);
  });
});
