import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { rejectionOf, waitFor } from "../../harness/wait.ts";
import { FakeBroker, registerBody, startNameServer, topicConfig } from "../../harness/servers.ts";
import { NameServerClient } from "../../../src/client/name_server_client.ts";
import { InvalidParameterError, RemotingError, TopicNotExistError } from "../../../src/common/errors.ts";
import { ResponseCode } from "../../../src/common/response_code.ts";
import { encodeBody } from "../../../src/protocol/body_codec.ts";
import { getRouteInfoRequest, registerBrokerRequest, unregisterBrokerRequest } from "../../../src/protocol/namesrv_requests.ts";
import { createRequest } from "../../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../../src/protocol/request_code.ts";
import { SerializeType } from "../../../src/protocol/serialize_type.ts";
import { RemotingClient } from "../../../src/remoting/remoting_client.ts";
import { decodeBody } from "../../../src/protocol/body_codec.ts";
import type { TopicRouteData } from "../../../src/common/route.ts";

const master = (name = "broker-a", port = 10911) =>
  new FakeBroker({ clusterName: "DefaultCluster", brokerName: name, brokerAddr: `127.0.0.1:${port}`, brokerId: 0, haServerAddr: `127.0.0.1:${port + 1}` });

describe("NameServer", () => {
  test("serves the route of a topic a master registered, with its queues and addresses", async () => {
    await using ns = await startNameServer();
    await using b = master();
    const resp = await b.register(ns.addr, [topicConfig("TopicTest", 8), topicConfig("Other", 2)]);
    assert.equal(resp.code, ResponseCode.SUCCESS);
    const client = new NameServerClient({ namesrvAddr: ns.addr });
    const route = await client.getRoute("TopicTest");
    assert.deepEqual(route.queueDatas, [{ brokerName: "broker-a", readQueueNums: 8, writeQueueNums: 8, perm: 6, topicSysFlag: 0 }]);
    assert.deepEqual(route.brokerDatas, [{ cluster: "DefaultCluster", brokerName: "broker-a", brokerAddrs: { "0": "127.0.0.1:10911" } }]);
    assert.deepEqual(await client.getTopicList(), ["Other", "TopicTest"]);
    const cluster = await client.getClusterInfo();
    assert.deepEqual(cluster.clusterAddrTable, { DefaultCluster: ["broker-a"] });
    assert.deepEqual(cluster.brokerAddrTable["broker-a"].brokerAddrs, { "0": "127.0.0.1:10911" });
    client.close();
  });

  test("answers a slave's registration with its master's address and HA address", async () => {
    await using ns = await startNameServer();
    await using m = master();
    await using s = new FakeBroker({ clusterName: "DefaultCluster", brokerName: "broker-a", brokerAddr: "127.0.0.1:10921", brokerId: 1 });
    await m.register(ns.addr, [topicConfig("T")]);
    const resp = await s.register(ns.addr, [topicConfig("T")]);
    assert.equal(resp.extFields?.masterAddr, "127.0.0.1:10911");
    assert.equal(resp.extFields?.haServerAddr, "127.0.0.1:10912");
    const route = await new NameServerClient({ namesrvAddr: ns.addr }).getRoute("T");
    assert.deepEqual(route.brokerDatas[0].brokerAddrs, { "0": "127.0.0.1:10911", "1": "127.0.0.1:10921" });
    // The master leaves: the slave still serves reads, so the group keeps its queues.
    await m.client.invoke(ns.addr, unregisterBrokerRequest(m.id));
    const after = await new NameServerClient({ namesrvAddr: ns.addr }).getRoute("T");
    assert.deepEqual(after.brokerDatas[0].brokerAddrs, { "1": "127.0.0.1:10921" });
    assert.equal(after.queueDatas.length, 1);
  });

  test("an unknown topic is TOPIC_NOT_EXIST and an illegal name is INVALID_PARAMETER", async () => {
    await using ns = await startNameServer();
    const client = new NameServerClient({ namesrvAddr: ns.addr });
    const err = await rejectionOf(client.getRoute("Nope"));
    assert.ok(err instanceof TopicNotExistError, String(err));
    assert.equal((err as TopicNotExistError).code, ResponseCode.TOPIC_NOT_EXIST);
    const raw = new RemotingClient();
    for (const bad of ["has space", "x".repeat(128), "semi;colon", ""]) {
      const resp = await raw.invoke(ns.addr, getRouteInfoRequest(bad));
      assert.equal(resp.code, ResponseCode.INVALID_PARAMETER, `topic ${JSON.stringify(bad)}`);
      assert.ok(resp.remark && resp.remark.length > 0);
    }
    raw.close();
    client.close();
  });

  test("routes are looked up across two independent NameServers, and either one answers", async () => {
    await using ns1 = await startNameServer();
    await using ns2 = await startNameServer();
    await using a = master("broker-a", 10911);
    await using b = master("broker-b", 10915);
    for (const ns of [ns1, ns2]) {
      await a.register(ns.addr, [topicConfig("Shared", 4)]);
      await b.register(ns.addr, [topicConfig("Shared", 4)]);
    }
    for (const ns of [ns1, ns2]) {
      const route = await new NameServerClient({ namesrvAddr: ns.addr }).getRoute("Shared");
      assert.deepEqual(route.queueDatas.map((q) => q.brokerName), ["broker-a", "broker-b"]);
    }
    const both = new NameServerClient({ namesrvAddr: `${ns1.addr};${ns2.addr}` });
    await ns1.stop();
    const route = await both.getRoute("Shared");
    assert.equal(route.brokerDatas.length, 2);
    await ns2.stop();
    const err = await rejectionOf(both.getRoute("Shared"));
    assert.ok(err instanceof RemotingError && err.message.includes("no NameServer answered"), String(err));
    both.close();
  });

  test("a broker that stops registering expires; one that keeps registering stays", async () => {
    await using ns = await startNameServer({ brokerChannelExpiredTimeMs: 300, scanNotActiveBrokerIntervalMs: 20 });
    await using silent = master("silent", 10911);
    await using alive = master("alive", 10915);
    await silent.register(ns.addr, [topicConfig("Quiet")]);
    await alive.register(ns.addr, [topicConfig("Busy")]);
    const client = new NameServerClient({ namesrvAddr: ns.addr });
    const start = Date.now();
    // The live broker re-registers while we wait for the silent one to drop out.
    await waitFor(async () => {
      await alive.register(ns.addr, [topicConfig("Busy")], 2);
      return (await rejectionOf(client.getRoute("Quiet"))) instanceof TopicNotExistError;
    }, { timeoutMs: 5000, intervalMs: 50, what: "the silent broker to expire" });
    assert.ok(Date.now() - start >= 250, "not before its expiry time");
    assert.equal((await client.getRoute("Busy")).brokerDatas[0].brokerName, "alive");
    assert.deepEqual(Object.keys((await client.getClusterInfo()).brokerAddrTable), ["alive"]);
    client.close();
  });

  test("a broker whose connection closes leaves every route at once", async () => {
    await using ns = await startNameServer();
    const b = master();
    await b.register(ns.addr, [topicConfig("Gone")]);
    const client = new NameServerClient({ namesrvAddr: ns.addr });
    assert.equal((await client.getRoute("Gone")).queueDatas.length, 1);
    b.close();
    await waitFor(async () => (await rejectionOf(client.getRoute("Gone"))) instanceof TopicNotExistError, { what: "the route to go" });
    assert.equal(ns.routes.brokerCount, 0);
    client.close();
  });

  test("a master's registration replaces its topic table; deleting a topic removes it", async () => {
    await using ns = await startNameServer();
    await using b = master();
    await b.register(ns.addr, [topicConfig("Keep"), topicConfig("Drop")], 1);
    await b.register(ns.addr, [topicConfig("Keep", 16)], 2);
    const client = new NameServerClient({ namesrvAddr: ns.addr });
    assert.deepEqual(await client.getTopicList(), ["Keep"]);
    assert.equal((await client.getRoute("Keep")).queueDatas[0].writeQueueNums, 16);
    await client.deleteTopic("Keep");
    assert.deepEqual(await client.getTopicList(), []);
    client.close();
  });

  test("bad registrations get INVALID_PARAMETER naming the fault, and nothing is stored", async () => {
    await using ns = await startNameServer();
    const raw = new RemotingClient();
    const id = { clusterName: "C", brokerName: "b", brokerAddr: "127.0.0.1:1", brokerId: 0 };
    const cases: [string, ReturnType<typeof createRequest>][] = [
      ["brokerName", createRequest(RequestCode.REGISTER_BROKER, { clusterName: "C", brokerAddr: "127.0.0.1:1", brokerId: 0 })],
      ["brokerAddr", registerBrokerRequest({ ...id, brokerAddr: "nonsense" }, registerBody([]))],
      ["brokerId", registerBrokerRequest({ ...id, brokerId: -1 }, registerBody([]))],
      ["brokerId", createRequest(RequestCode.REGISTER_BROKER, { ...id, brokerId: "zero" })],
      ["not decodable", createRequest(RequestCode.REGISTER_BROKER, id, new Uint8Array([0xff, 0x00, 0x13]))],
      ["topicConfigSerializeWrapper", createRequest(RequestCode.REGISTER_BROKER, id, encodeBody({ nope: 1 }))],
      ["readQueueNums", registerBrokerRequest(id, registerBody([{ ...topicConfig("T"), readQueueNums: -3 }]))],
      ["characters", registerBrokerRequest(id, registerBody([topicConfig("bad topic")]))],
    ];
    for (const [fault, req] of cases) {
      const resp = await raw.invoke(ns.addr, req);
      assert.equal(resp.code, ResponseCode.INVALID_PARAMETER, `${fault}: ${resp.remark}`);
      assert.ok(resp.remark?.includes(fault), `remark "${resp.remark}" names ${fault}`);
    }
    assert.equal(ns.routes.brokerCount, 0);
    assert.equal(ns.routes.topicCount, 0);
    raw.close();
  });

  test("brokers beyond the configured maximum are refused with SYSTEM_BUSY", async () => {
    await using ns = await startNameServer({ maxBrokers: 1 });
    await using a = master("a", 10911);
    await using b = master("b", 10915);
    assert.equal((await a.register(ns.addr, [topicConfig("T")])).code, ResponseCode.SUCCESS);
    const resp = await b.register(ns.addr, [topicConfig("T")]);
    assert.equal(resp.code, ResponseCode.SYSTEM_BUSY);
    assert.match(resp.remark!, /maximum/);
  });

  test("serves RocketMQ's JSON header and body", async () => {
    await using ns = await startNameServer();
    const json = new RemotingClient({ serializeType: SerializeType.JSON });
    const id = { clusterName: "C", brokerName: "jb", brokerAddr: "127.0.0.1:2000", brokerId: 0 };
    const reg = await json.invoke(ns.addr, registerBrokerRequest(id, registerBody([topicConfig("J", 3)]), SerializeType.JSON));
    assert.equal(reg.code, 0);
    const resp = await json.invoke(ns.addr, getRouteInfoRequest("J"));
    assert.equal(resp.serializeType, SerializeType.JSON);
    const route = decodeBody<TopicRouteData>(resp.body, SerializeType.JSON);
    assert.equal(route.queueDatas[0].readQueueNums, 3);
    assert.deepEqual(route.brokerDatas[0].brokerAddrs, { "0": "127.0.0.1:2000" });
    json.close();
  });

  test("the client refuses to start without a NameServer address", () => {
    assert.throws(() => new NameServerClient({ namesrvAddr: " ; " }), InvalidParameterError);
  });
});
