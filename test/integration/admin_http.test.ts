import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import { createAdminApp } from "../../src/admin/app.ts";
import { sameSecret } from "../../src/admin/access.ts";
import { Admin } from "../../src/client/admin.ts";
import { MessageQuery } from "../../src/client/message_query.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { PushConsumer } from "../../src/client/push_consumer.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { serveHttp } from "../../src/platform/http_server.ts";

const TOKEN = "s3cret-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const json = (b: unknown) => ({ method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(b) });

describe("the admin HTTP API (Hono, over the Admin client)", () => {
  test("cluster, topics, groups, offsets, settings and messages as JSON; errors as problem+json with RocketMQ's code; writes need the token", async () => {
    await using c = await startCluster({ brokers: [{ brokerName: "broker-a" }, { brokerName: "broker-b" }], topics: { Web: 2 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const messages = new MessageQuery({ namesrvAddr: c.namesrvAddr });
    c.track({ shutdown: () => Promise.resolve(messages.close()) });
    const app = createAdminApp({ admin, messages, access: { token: TOKEN } });

    const cluster = await (await app.request("/api/cluster")).json() as { brokers: { brokerName: string; role: string; reachable: boolean; runtime: Record<string, string> }[] };
    assert.deepEqual(cluster.brokers.map((b) => [b.brokerName, b.role, b.reachable]), [["broker-a", "MASTER", true], ["broker-b", "MASTER", true]]);
    assert.ok("putTps" in cluster.brokers[0].runtime);

    // A write without the token is refused, with nothing of the token said back.
    const anon = await app.request("/api/topics", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: "Made" }) });
    assert.equal(anon.status, 401);
    assert.equal(anon.headers.get("content-type"), "application/problem+json");
    const wrong = await app.request("/api/topics", { ...json({ topic: "Made" }), headers: { authorization: "Bearer nope", "content-type": "application/json" } });
    assert.equal(wrong.status, 403);
    assert.doesNotMatch(await wrong.text(), /s3cret|nope/);
    const made = await app.request("/api/topics", json({ topic: "Made", readQueueNums: 4, writeQueueNums: 2 }));
    assert.equal(made.status, 201, await made.clone().text());
    assert.ok((await (await app.request("/api/topics")).json() as string[]).includes("Made"));
    const route = await (await app.request("/api/topics/Made/route")).json() as { queueDatas: { readQueueNums: number; writeQueueNums: number }[] };
    assert.deepEqual(route.queueDatas.map((q) => [q.readQueueNums, q.writeQueueNums]), [[4, 2], [4, 2]]);
    const ro = await app.request("/api/topics/Made", { ...json({ perm: 4 }), method: "PATCH" });
    assert.equal(ro.status, 200);

    // A group's progress and an offset reset.
    for (let i = 0; i < 6; i++) await c.producer.send({ topic: "Web", body: `m${i}`, keys: [`k${i}`] });
    const reader = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "WebG", consumeFromWhere: "first" }));
    await reader.subscribe("Web");
    let read = 0;
    await waitFor(async () => (read += (await reader.poll(200)).length) >= 6, { timeoutMs: 10_000, what: "6 read" });
    await reader.commit();
    const progress = await (await app.request("/api/groups/WebG/progress?topic=Web")).json() as { lag: number; queues: unknown[] };
    assert.deepEqual([progress.lag, progress.queues.length], [0, 4]);
    const reset = await app.request("/api/groups/WebG/reset", json({ topic: "Web", to: "earliest" }));
    assert.equal(reset.status, 200);
    assert.equal((await (await app.request("/api/groups/WebG/progress?topic=Web")).json() as { lag: number }).lag, 6);
    const settings = await app.request("/api/groups/WebG", { ...json({ retryMaxTimes: 4 }), method: "PUT" });
    assert.equal(settings.status, 200);

    // Messages by key, body preview with its encoding.
    const found = await (await app.request("/api/messages?topic=Web&key=k3")).json() as { bodyPreview: string; bodyEncoding: string; brokerName: string; queueId: number; queueOffset: number }[];
    assert.deepEqual(found.map((m) => [m.bodyPreview, m.bodyEncoding]), [["m3", "utf-8"]]);
    // By queue and offset: the same message where it is stored, and what follows it in its queue.
    const [at] = found;
    const byOffset = await (await app.request(`/api/messages?topic=Web&broker=${at.brokerName}&queue=${at.queueId}&offset=${at.queueOffset}&count=1`)).json() as { bodyPreview: string }[];
    assert.deepEqual(byOffset.map((m) => m.bodyPreview), ["m3"]);
    const everywhere = await (await app.request("/api/messages?topic=Web&offset=0&count=100")).json() as { bodyPreview: string }[];
    assert.deepEqual(everywhere.map((m) => m.bodyPreview).sort(), ["m0", "m1", "m2", "m3", "m4", "m5"]);
    assert.equal((await app.request("/api/messages?topic=Web&broker=nowhere&queue=0&offset=0")).status, 400);

    // Settings: read, and a refused change as a problem with RocketMQ's code.
    const config = await (await app.request(`/api/brokers/${c.brokers[0].addr}/config`)).json() as Record<string, string>;
    assert.equal(config.brokerName, "broker-a");
    const refused = await app.request("/api/brokers/config", { ...json({ target: { brokerName: "broker-a" }, changes: { listenPort: 1 } }), method: "PUT" });
    assert.equal(refused.status, 400);
    const p = await refused.json() as { code: number; codeName: string; detail: string };
    assert.deepEqual([p.code, p.codeName], [ResponseCode.INVALID_PARAMETER, "INVALID_PARAMETER(29)"]);
    assert.match(p.detail, /listenPort cannot change on a running broker/);

    // Unknown things.
    const noTopic = await app.request("/api/topics/NoSuchTopic/status");
    assert.equal(noTopic.status, 404);
    assert.equal((await noTopic.json() as { code: number }).code, ResponseCode.TOPIC_NOT_EXIST);
    const noGroup = await app.request("/api/groups/NoSuchGroup/reset", json({ topic: "Web", to: "latest" }));
    assert.equal(noGroup.status, 404);
    assert.equal((await noGroup.json() as { code: number }).code, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST);
    const badBody = await app.request("/api/topics", { ...json({}), body: "{not json" });
    assert.equal(badBody.status, 400);
    const noRoute = await app.request("/api/nothing");
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.headers.get("content-type"), "application/problem+json");
  });

  test("served over HTTP by the runtime's server; with no token set, reads work and writes are refused; reads can need the token too", async () => {
    await using c = await startCluster({ topics: { Served: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    const server = await serveHttp(createAdminApp({ admin }).fetch, { host: "127.0.0.1", port: 0 });
    try {
      assert.ok(server.port > 0);
      const base = `http://127.0.0.1:${server.port}`;
      const topics = await fetch(`${base}/api/topics`);
      assert.equal(topics.status, 200);
      assert.ok((await topics.json() as string[]).includes("Served"));
      const write = await fetch(`${base}/api/topics/Served`, { method: "DELETE" });
      assert.equal(write.status, 403);
      assert.match((await write.json() as { detail: string }).detail, /no admin token set/);
    } finally {
      await server.close();
    }
    const locked = createAdminApp({ admin, access: { token: TOKEN, readsNeedToken: true } });
    assert.equal((await locked.request("/api/topics")).status, 401);
    assert.equal((await locked.request("/api/topics", { headers: auth })).status, 200);
  });

  test("dead letters are listed, read and resent over HTTP; pending delays and timers per master; CORS only for the origins configured", async () => {
    await using c = await startCluster({ topics: { Fragile: 1 } });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    let healthy = false;
    const got: string[] = [];
    const consumer = c.track(new PushConsumer({
      namesrvAddr: c.namesrvAddr, group: "FragileG", consumeFromWhere: "first", maxReconsumeTimes: 0,
      rebalanceIntervalMs: 500, persistConsumerOffsetIntervalMs: 200, pullDelayWhenExceptionMs: 100,
    }));
    consumer.subscribe("Fragile").registerMessageListener((msgs) => {
      if (!healthy) return "RECONSUME_LATER"; // no retry allowed: straight to %DLQ%FragileG
      got.push(...msgs.map((m) => new TextDecoder().decode(m.body)));
    });
    await consumer.start();
    await c.producer.send({ topic: "Fragile", body: "poison" });
    const app = createAdminApp({ admin, access: { token: TOKEN } });
    const dead = await waitFor(async () => {
      const list = await (await app.request("/api/groups/FragileG/dlq")).json() as { queueOffset: number; bodyPreview: string }[];
      return list.length > 0 ? list : undefined;
    }, { timeoutMs: 20_000, what: "the message in the DLQ" });
    assert.deepEqual(dead.map((d) => [d.queueOffset, d.bodyPreview]), [[0, "poison"]]);
    assert.equal((await (await app.request("/api/groups/FragileG/dlq/0")).json() as { bodyPreview: string }).bodyPreview, "poison");
    assert.equal((await app.request("/api/groups/FragileG/dlq/7")).status, 404);
    assert.equal((await app.request("/api/groups/FragileG/dlq/0/resend", { method: "POST" })).status, 401);
    healthy = true;
    const resent = await app.request("/api/groups/FragileG/dlq/0/resend", { method: "POST", headers: auth });
    assert.equal(resent.status, 200, await resent.clone().text());
    await waitFor(() => got.includes("poison"), { timeoutMs: 20_000, what: "the resent dead letter consumed" });
    assert.deepEqual(await (await app.request("/api/groups/NoDeadHere/dlq")).json(), [], "a group with no DLQ has none");

    const pending = await (await app.request("/api/pending")).json() as { brokerName: string; delayedByLevel: number[]; timers: number }[];
    assert.equal(pending.length, 1);
    assert.equal(pending[0].delayedByLevel.length, 18, "RocketMQ's 18 delay levels");
    assert.equal(typeof pending[0].timers, "number");

    const noCors = await app.request("/api/topics", { method: "OPTIONS", headers: { origin: "https://ops.example", "access-control-request-method": "GET" } });
    assert.equal(noCors.headers.get("access-control-allow-origin"), null, "CORS off by default");
    const withCors = createAdminApp({ admin, access: { token: TOKEN, corsOrigins: ["https://ops.example"] } });
    const preflight = await withCors.request("/api/topics", { method: "OPTIONS", headers: { origin: "https://ops.example", "access-control-request-method": "GET" } });
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://ops.example");
    const other = await withCors.request("/api/topics", { headers: { origin: "https://evil.example" } });
    assert.notEqual(other.headers.get("access-control-allow-origin"), "https://evil.example");
  });

  test("the token is compared in full", () => {
    assert.ok(sameSecret("abc", "abc"));
    for (const other of ["abd", "ab", "abcd", "", "ABC"]) assert.equal(sameSecret(other, "abc"), false, other);
  });
});
