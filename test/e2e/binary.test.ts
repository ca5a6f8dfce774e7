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
    // On request, a NameServer serves the admin API and its own /metrics too.
    await using nsWeb = new Child(BINARY, ["namesrv", "--port", "0", "--admin-port", "0"]);
    const nsLine = await nsWeb.firstLine();
    const nsAdmin = / admin (http:\/\/127\.0\.0\.1:\d+)$/.exec(nsLine);
    assert.ok(nsAdmin, nsLine);
    assert.match(await (await fetch(`${nsAdmin[1]}/metrics`)).text(), /^bolide_namesrv_brokers 0$/m);
    // No broker yet: `cluster` says so and fails, rather than printing [] with exit 0.
    await using empty = new Child(BINARY, ["cluster", "--namesrv", addr]);
    await empty.exited;
    assert.equal(empty.exitCode, 1);
    assert.match(empty.stderr, /no live brokers are registered/);
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
    await using route = new Child(BINARY, ["route", "--topic", "Shown", "--namesrv", addr, "--json"]);
    await route.exited;
    assert.equal(route.exitCode, 0, route.stderr);
    assert.equal(JSON.parse(route.stdoutLines.join("\n")).queueDatas[0].writeQueueNums, 2);
    await using routeTable = new Child(BINARY, ["route", "--topic", "Shown", "--namesrv", addr]);
    await routeTable.exited;
    assert.deepEqual(routeTable.stdoutLines.map((l) => l.split(/\s+/)), [["broker", "readQueues", "writeQueues", "perm", "master", "slaves"], ["b", "2", "2", "RW", "127.0.0.1:10911", "-"]]);
    await using missing = new Child(BINARY, ["route", "--topic", "Missing", "--namesrv", addr]);
    await missing.exited;
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /TopicNotExistError \(code 17\)/);
    await using bad = new Child(BINARY, ["namesrv", "--port", "99999"]);
    await bad.exited;
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /--port must be an integer from 0 to 65535/);
    // A wrong log level for a client command is a usage error; a NameServer that is not there
    // is this side's failure, shown without a broker's response code.
    await using loud = new Child(BINARY, ["cluster", "--log-level", "loud", "--namesrv", addr]);
    await loud.exited;
    assert.equal(loud.exitCode, 2);
    assert.match(loud.stderr, /--log-level must be debug, info, warn or error, got "loud"/);
    await using gone = new Child(BINARY, ["cluster", "--namesrv", "127.0.0.1:1"]);
    await gone.exited;
    assert.equal(gone.exitCode, 1);
    assert.match(gone.stderr, /^bolide: RemotingError: .*connection refused/);
    assert.doesNotMatch(gone.stderr, /code 1/);
    // A command's --help is its own.
    await using help = new Child(BINARY, ["topic", "--help"]);
    await help.exited;
    assert.equal(help.exitCode, 0);
    assert.match(help.stdoutLines.join("\n"), /^Usage: bolide topic[\s\S]*topic create --topic T/);
    assert.doesNotMatch(help.stdoutLines.join("\n"), /Servers|bench produce/);
    // A port that is taken: one line naming it, exit 1, no stack trace.
    await using busy = new Child(BINARY, ["namesrv", "--port", addr.split(":")[1]]);
    await busy.exited;
    assert.equal(busy.exitCode, 1, busy.stderr);
    assert.equal(busy.stderr.trim(), `bolide: cannot listen on 127.0.0.1:${addr.split(":")[1]}: the port is already in use (another bolide, or RocketMQ, may be running there)`);
  });

  test("dist/bolide start runs a NameServer and a broker; the CLI sends and reads a message back", async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "bolide-bin-"));
    try {
      await using server = new Child(BINARY, ["start", "--data", dir, "--namesrv-port", "0", "--broker-port", "0", "--admin-port", "0"]);
      const first = await server.firstLine();
      const m = /namesrv (\S+) broker (\S+) admin (http:\/\/127\.0\.0\.1:\d+)$/.exec(first);
      assert.ok(m, first);
      // `start` serves the admin API too (loopback, no token: reads only).
      const served = await (await fetch(`${m[3]}/api/cluster`)).json() as { brokers: { role: string }[] };
      assert.deepEqual(served.brokers.map((b) => b.role), ["MASTER"]);
      const scraped = await fetch(`${m[3]}/metrics`);
      assert.equal(scraped.status, 200);
      assert.match(await scraped.text(), /^bolide_namesrv_brokers 1$/m);
      const ns = m[1];
      const cli = async (...args: string[]) => {
        await using c = new Child(BINARY, [...args, "--namesrv", ns]);
        await c.exited;
        return c;
      };
      assert.equal((await cli("topic", "create", "--topic", "CliTopic", "--queues", "2")).exitCode, 0);
      const sent = await cli("send", "--topic", "CliTopic", "--body", "hello from the cli", "--tags", "t1");
      assert.equal(sent.exitCode, 0, sent.stderr);
      const msgId = JSON.parse(sent.stdoutLines[0]).msgId;
      const got = await cli("consume", "--topic", "CliTopic", "--group", "cli-group", "--from", "first", "--count", "1");
      assert.equal(got.exitCode, 0, got.stderr);
      const msg = JSON.parse(got.stdoutLines[0]);
      assert.deepEqual([msg.msgId, msg.body, msg.tags], [msgId, "hello from the cli", "t1"]);
      // The group's progress: the one message consumed and committed, no lag; the topic's offsets.
      const progress = await cli("group", "progress", "--group", "cli-group", "--json");
      assert.equal(progress.exitCode, 0, progress.stderr);
      const rows = JSON.parse(progress.stdoutLines.join("\n")) as { topic: string; lag: number; consumerOffset: number }[];
      assert.deepEqual(rows.filter((r) => r.topic === "CliTopic").map((r) => r.lag), [0, 0]);
      assert.equal(rows.reduce((n, r) => n + r.consumerOffset, 0), 1);
      // Back to the start (mqadmin resetOffsetByTime): a progress line per broker, the new offsets as a table.
      const reset = await cli("offset", "reset", "--group", "cli-group", "--topic", "CliTopic", "--to", "earliest");
      assert.equal(reset.exitCode, 0, reset.stderr);
      assert.match(reset.stderr, /^bolide: reset cli-group on broker-a: 2 queue\(s\)$/m);
      assert.match(reset.stdoutLines[0], /^topic\s+broker\s+queue\s+offset$/);
      assert.deepEqual(reset.stdoutLines.slice(1).map((l) => l.split(/\s+/).pop()), ["0", "0"]);
      const lagged = JSON.parse((await cli("group", "progress", "--group", "cli-group", "--topic", "CliTopic", "--json")).stdoutLines.join("\n")) as { lag: number }[];
      assert.equal(lagged.reduce((n, r) => n + r.lag, 0), 1, "the message is due again");
      const badTime = await cli("offset", "reset", "--group", "cli-group", "--topic", "CliTopic", "--to", "yesterday");
      assert.equal(badTime.exitCode, 2);
      assert.match(badTime.stderr, /--to must be earliest, latest, now/);
      const noTopic = await cli("offset", "reset", "--group", "cli-group", "--topic", "NoSuchTopic", "--to", "latest");
      assert.equal(noTopic.exitCode, 1);
      assert.match(noTopic.stderr, /NoSuchTopic/);
      // Topic permission (mqadmin updateTopicPerm) and a broker's write permission (wipeWritePerm / addWritePerm).
      const ro = await cli("topic", "update", "--topic", "CliTopic", "--perm", "R", "--json");
      assert.equal(ro.exitCode, 0, ro.stderr);
      assert.deepEqual(JSON.parse(ro.stdoutLines.join("\n")).map((r: { perm: string; readQueues: number }) => [r.perm, r.readQueues]), [["R", 2]]);
      assert.equal((await cli("topic", "update", "--topic", "CliTopic", "--perm", "RW")).exitCode, 0);
      const badPerm = await cli("topic", "update", "--topic", "CliTopic", "--perm", "X");
      assert.equal(badPerm.exitCode, 2);
      assert.match(badPerm.stderr, /--perm must be R, W or RW/);
      const wipe = await cli("broker", "wipe-write", "--broker", "broker-a");
      assert.equal(wipe.exitCode, 0, wipe.stderr);
      assert.match(wipe.stdoutLines.join("\n"), /broker-a is read-only in the routes/);
      const wipedRoute = JSON.parse((await cli("topic", "route", "--topic", "CliTopic", "--json")).stdoutLines.join("\n"));
      assert.equal(wipedRoute.queueDatas[0].perm, 4);
      assert.equal((await cli("broker", "add-write", "--broker", "broker-a")).exitCode, 0);
      const noBroker = await cli("broker", "wipe-write", "--broker", "broker-z");
      assert.equal(noBroker.exitCode, 1);
      assert.match(noBroker.stderr, /broker-z is not registered/);
      // mqadmin consumeMessage: with no such member, the broker's answer says so.
      const direct = await cli("message", "resend-to-client", "--group", "cli-group", "--client", "nobody", "--id", msgId, "--topic", "CliTopic");
      assert.equal(direct.exitCode, 1);
      assert.match(direct.stderr, /CONSUMER_NOT_ONLINE.*nobody/);
      // Broker settings at run time (mqadmin getBrokerConfig / updateBrokerConfig).
      const got1 = await cli("broker", "config", "get", "--broker", "broker-a", "--json");
      assert.equal(got1.exitCode, 0, got1.stderr);
      const settings = JSON.parse(got1.stdoutLines.join("\n")) as { setting: string; value: string; live: boolean }[];
      assert.deepEqual(settings.find((r) => r.setting === "maxSendBacklog"), { broker: "broker-a", id: 0, setting: "maxSendBacklog", value: "10000", live: true });
      const set = await cli("broker", "config", "set", "--broker", "broker-a", "maxSendBacklog=5000");
      assert.equal(set.exitCode, 0, set.stderr);
      assert.match(set.stdoutLines.join("\n"), /broker-a\s+0\s+\S+\s+maxSendBacklog/);
      const fixedSet = await cli("broker", "config", "set", "--broker", "broker-a", "listenPort=1");
      assert.equal(fixedSet.exitCode, 1);
      assert.match(fixedSet.stderr, /listenPort cannot change on a running broker/);
      const noPair = await cli("broker", "config", "set", "--broker", "broker-a", "maxSendBacklog");
      assert.equal(noPair.exitCode, 2);
      const status = await cli("topic", "status", "--topic", "CliTopic");
      assert.equal(status.exitCode, 0, status.stderr);
      assert.match(status.stdoutLines[0], /^broker\s+queue\s+minOffset\s+maxOffset\s+lastUpdated$/);
      assert.equal(status.stdoutLines.length, 3);
      // Consumer groups: the one that consumed was created by its first heartbeat; an operator changes it, then deletes it.
      const updated = await cli("group", "update", "--group", "cli-group", "--retryMaxTimes", "3", "--consumeEnable", "false", "--json");
      assert.equal(updated.exitCode, 0, updated.stderr);
      const [g] = JSON.parse(updated.stdoutLines.join("\n")) as { groupName: string; retryMaxTimes: number; consumeEnable: boolean }[];
      assert.deepEqual([g.groupName, g.retryMaxTimes, g.consumeEnable], ["cli-group", 3, false]);
      assert.equal((await cli("group", "create", "--group", "cli-made", "--retryMaxTimes", "5")).exitCode, 0, "mqadmin's name for it");
      const offline = await cli("consumer", "status", "--group", "cli-made");
      assert.equal(offline.exitCode, 1);
      assert.match(offline.stderr, /cli-made is not online/);
      const listed = await cli("group", "list");
      assert.equal(listed.exitCode, 0, listed.stderr);
      assert.match(listed.stdoutLines[0], /^group\s+broker\s+consume\s+broadcast\s+retryQueues\s+retryMaxTimes/);
      assert.ok(listed.stdoutLines.some((l) => /^cli-group\s+broker-a\s+false\s+true\s+1\s+3\b/.test(l)), listed.stdoutLines.join("\n"));
      const wrong = await cli("group", "update", "--group", "cli-group", "--consumeEnable", "maybe");
      assert.equal(wrong.exitCode, 2);
      assert.match(wrong.stderr, /--consumeEnable must be true or false, got "maybe"/);
      assert.equal((await cli("group", "delete", "--group", "cli-group", "--clean-offset")).exitCode, 0);
      const again = await cli("group", "delete", "--group", "cli-group");
      assert.equal(again.exitCode, 1);
      assert.match(again.stderr, /cli-group has no settings on any master broker/);
      const table = await cli("cluster");
      assert.equal(table.exitCode, 0, table.stderr);
      assert.match(table.stdoutLines[0], /^cluster\s+broker\s+id\s+addr\s+role\s+inTPS\s+outTPS\s+putTotal\s+getTotal\s+state$/);
      assert.match(table.stdoutLines[1], /\bbroker-a\s+0\s+\S+\s+MASTER\s+[\d.]+\s+[\d.]+\s+\d+\s+\d+\s+ok$/);
      const cluster = JSON.parse((await cli("cluster", "--json")).stdoutLines.join("\n"));
      assert.equal(cluster[0].role, "MASTER");
      // The admin HTTP API alone, on a free loopback port; writes need the token.
      await using web = new Child(BINARY, ["admin", "--namesrv", ns, "--admin-port", "0", "--admin-token", "t0k"]);
      const webLine = await web.firstLine();
      const webAddr = /^bolide admin listening on (http:\/\/127\.0\.0\.1:\d+) /.exec(webLine);
      assert.ok(webAddr, webLine);
      assert.ok((await (await fetch(`${webAddr[1]}/api/topics`)).json() as string[]).includes("CliTopic"));
      assert.equal((await fetch(`${webAddr[1]}/api/topics/CliTopic`, { method: "DELETE" })).status, 401);
      const webPort = webAddr[1].split(":").pop()!;
      const taken = await cli("admin", "--admin-port", webPort);
      assert.equal(taken.exitCode, 1);
      assert.equal(taken.stderr.trim(), `bolide: cannot listen on 127.0.0.1:${webPort}: the port is already in use (another bolide, or RocketMQ, may be running there)`);
      web.kill("SIGTERM");
      await web.exited;
      assert.equal(web.exitCode, 0, web.stderr);
      const openBind = await cli("admin", "--admin-host", "0.0.0.0", "--admin-port", "0");
      assert.equal(openBind.exitCode, 2);
      assert.match(openBind.stderr, /0\.0\.0\.0 is not loopback: set an admin token/);
      // A bad setting stops a broker at start-up, naming it.
      writeFileSync(join(dir, "bad.properties"), "brokerName=b\nlistenPort=notaport\n");
      await using bad = new Child(BINARY, ["broker", "--config", join(dir, "bad.properties")]);
      await bad.exited;
      assert.equal(bad.exitCode, 1);
      assert.match(bad.stderr, /listenPort: "notaport" is not an integer/);
      server.kill("SIGTERM");
      await server.exited;
      assert.equal(server.exitCode, 0, server.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("dist/bolide consume against a stopped broker reports it and exits 1; an empty topic exits 0", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "bolide-bin-"));
    try {
      await using ns = new Child(BINARY, ["namesrv", "--port", "0"]);
      const nsAddr = await ns.listenAddr();
      await using broker = new Child(BINARY, ["broker", "--namesrvAddr", nsAddr, "--listenPort", "0", "--storePathRootDir", dir]);
      const brokerAddr = await broker.listenAddr();
      const cli = async (...args: string[]) => {
        await using c = new Child(BINARY, [...args, "--namesrv", nsAddr]);
        await c.exited;
        return c;
      };
      assert.equal((await cli("topic", "create", "--topic", "Quiet", "--queues", "2")).exitCode, 0);
      const empty = await cli("consume", "--topic", "Quiet", "--group", "q", "--timeout-ms", "1500");
      assert.equal(empty.exitCode, 0, empty.stderr);
      assert.equal(empty.stderr, "");
      broker.kill("SIGSTOP");
      try {
        // Its offset lookup goes unanswered: past 1 s overdue (the grace), the broker is named.
        const stopped = await cli("consume", "--topic", "Quiet", "--group", "q", "--timeout-ms", "2500");
        assert.equal(stopped.exitCode, 1, stopped.stderr);
        assert.match(stopped.stderr, new RegExp(`no answer from ${brokerAddr}`));
      } finally {
        broker.kill("SIGCONT");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
