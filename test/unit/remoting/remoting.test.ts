import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "../../harness/testing.ts";
import { rejectionOf, waitFor } from "../../harness/wait.ts";
import {
  InvalidParameterError,
  RemotingClosedError,
  RemotingConnectError,
  RemotingTimeoutError,
  RemotingTooManyRequestsError,
} from "../../../src/common/errors.ts";
import { ResponseCode } from "../../../src/common/response_code.ts";
import { encodeFrameBytes, FrameDecoder } from "../../../src/protocol/frame_codec.ts";
import { createRequest, FLAG_ONEWAY, type RemotingCommand, successResponse } from "../../../src/protocol/remoting_command.ts";
import { SerializeType } from "../../../src/protocol/serialize_type.ts";
import { RemotingClient } from "../../../src/remoting/remoting_client.ts";
import { RemotingServer } from "../../../src/remoting/remoting_server.ts";
import { deferred } from "../../../src/util/deferred.ts";
import { concatBytes } from "../../../src/util/bytes.ts";

const ECHO = 1;
const SLOW = 2;
const FAST = 3;
const THROW = 4;
const TYPED = 5;
const NEVER = 6;
const ONEWAY_SINK = 7;
const CLOSE_ME = 8;
const CALL_BACK = 9;
const CLIENT_SIDE = 50;

async function setup() {
  const server = new RemotingServer({ port: 0 });
  const slowGate = deferred<void>();
  const oneways: RemotingCommand[] = [];
  server
    .registerProcessor(ECHO, (req) => successResponse(req.extFields, req.body && new Uint8Array(req.body)))
    .registerProcessor(SLOW, async () => {
      await slowGate.promise;
      return successResponse({ which: "slow" });
    })
    .registerProcessor(FAST, () => successResponse({ which: "fast" }))
    .registerProcessor(THROW, () => {
      throw new Error("disk on fire");
    })
    .registerProcessor(TYPED, () => {
      throw new InvalidParameterError("queueId out of range");
    })
    .registerProcessor(NEVER, () => new Promise(() => {}))
    .registerProcessor(ONEWAY_SINK, (req) => {
      oneways.push(req);
    })
    .registerProcessor(CLOSE_ME, (_req, ctx) => {
      ctx.connection.close("test closes it");
      return new Promise(() => {});
    })
    .registerProcessor(CALL_BACK, async (_req, ctx) => {
      const answer = await ctx.connection.invoke(createRequest(CLIENT_SIDE, { q: "from server" }), 2000);
      return successResponse({ clientSaid: String(answer.extFields?.a) });
    });
  const { port } = await server.start();
  const addr = `127.0.0.1:${port}`;
  const client = new RemotingClient();
  return {
    server,
    client,
    addr,
    slowGate,
    oneways,
    async [Symbol.asyncDispose]() {
      slowGate.resolve();
      client.close();
      await server.stop(100);
    },
  };
}

describe("remoting", () => {
  test("answers a request with its header fields and body intact", async () => {
    await using s = await setup();
    const body = new Uint8Array(100_000).map((_, i) => i & 0xff);
    const resp = await s.client.invoke(s.addr, createRequest(ECHO, { topic: "T", n: 5, b: true }, body));
    assert.equal(resp.code, ResponseCode.SUCCESS);
    assert.deepEqual(resp.extFields, { topic: "T", n: 5, b: true });
    assert.deepEqual(resp.body, body);
  });

  test("a sound frame whose header field is a map or an array gets INVALID_PARAMETER naming the field, and the connection stays open", async () => {
    await using s = await setup();
    const sock = net.connect({ host: "127.0.0.1", port: Number(s.addr.split(":")[1]) });
    const answers: RemotingCommand[] = [];
    const decoder = new FrameDecoder();
    sock.on("data", (d) => decoder.push(new Uint8Array(d), (c) => answers.push(c)));
    const bad = { code: ECHO, flag: 0, opaque: 41, extFields: { topic: { nested: 1 }, ok: "x" } } as unknown as RemotingCommand;
    const json = new TextEncoder().encode(JSON.stringify({ code: ECHO, flag: 0, opaque: 42, extFields: { queueId: [1, 2] } }));
    const jsonFrame = new Uint8Array(8 + json.byteLength);
    new DataView(jsonFrame.buffer).setInt32(0, 4 + json.byteLength);
    new DataView(jsonFrame.buffer).setInt32(4, json.byteLength);
    jsonFrame.set(json, 8);
    sock.write(concatBytes([encodeFrameBytes(bad, SerializeType.CBOR), jsonFrame, encodeFrameBytes({ code: ECHO, flag: 0, opaque: 43, extFields: { a: "1" } })]));
    await waitFor(() => answers.length === 3, { what: "three answers" });
    sock.destroy();
    assert.deepEqual(answers.map((a) => [a.opaque, a.code]), [[41, ResponseCode.INVALID_PARAMETER], [42, ResponseCode.INVALID_PARAMETER], [43, ResponseCode.SUCCESS]]);
    assert.match(answers[0].remark ?? "", /header field extFields\.topic is not a scalar \(a map\)/);
    assert.match(answers[1].remark ?? "", /header field extFields\.queueId is not a scalar \(an array\)/);
  });

  test("an unknown code gets REQUEST_CODE_NOT_SUPPORTED with the same opaque", async () => {
    await using s = await setup();
    const resp = await s.client.invoke(s.addr, createRequest(31337));
    assert.equal(resp.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    assert.match(resp.remark!, /31337/);
    // Same opaque checked on the raw wire too: the client matches answers by opaque only.
    const raw = await rawExchange(s.addr, [encodeFrameBytes({ code: 31337, flag: 0, opaque: 4242 })], 1);
    assert.equal(raw[0].opaque, 4242);
    assert.equal(raw[0].code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
  });

  test("a processor that throws gets SYSTEM_ERROR with the reason; a typed error keeps its code", async () => {
    await using s = await setup();
    const r1 = await s.client.invoke(s.addr, createRequest(THROW));
    assert.equal(r1.code, ResponseCode.SYSTEM_ERROR);
    assert.match(r1.remark!, /disk on fire/);
    const r2 = await s.client.invoke(s.addr, createRequest(TYPED));
    assert.equal(r2.code, ResponseCode.INVALID_PARAMETER);
    assert.match(r2.remark!, /queueId out of range/);
  });

  test("a slow request does not delay a fast one on the same connection", async () => {
    await using s = await setup();
    const slow = s.client.invoke(s.addr, createRequest(SLOW), 5000);
    let slowDone = false;
    void slow.then(() => (slowDone = true));
    const fast = await s.client.invoke(s.addr, createRequest(FAST), 5000);
    assert.equal(fast.extFields?.which, "fast");
    assert.equal(slowDone, false, "the fast answer came while the slow request was still held");
    assert.equal((await s.server.connections.values().next().value)!.inFlightRequests, 1);
    s.slowGate.resolve();
    assert.equal((await slow).extFields?.which, "slow");
  });

  test("many concurrent requests are each matched to their own answer", async () => {
    await using s = await setup();
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) =>
      s.client.invoke(s.addr, createRequest(ECHO, { i }, new Uint8Array([i & 0xff, i >> 8])))));
    results.forEach((r, i) => {
      assert.equal(r.extFields?.i, i);
      assert.deepEqual(r.body, new Uint8Array([i & 0xff, i >> 8]));
    });
  });

  test("a oneway request is processed and gets no answer", async () => {
    await using s = await setup();
    const oneway = encodeFrameBytes({ code: ONEWAY_SINK, flag: FLAG_ONEWAY, opaque: 11, extFields: { k: "v" } });
    const normal = encodeFrameBytes({ code: FAST, flag: 0, opaque: 12 });
    const answers = await rawExchange(s.addr, [oneway, normal], 1);
    assert.equal(answers.length, 1);
    assert.equal(answers[0].opaque, 12);
    await waitFor(() => s.oneways.length === 1, { what: "the oneway request to be processed" });
    assert.equal(s.oneways[0].extFields?.k, "v");
    await s.client.invokeOneway(s.addr, createRequest(ONEWAY_SINK, { k: "w" }));
    await waitFor(() => s.oneways.length === 2, { what: "the client's oneway request" });
  });

  test("a request with no answer times out with an error naming the address, and the connection stays usable", async () => {
    await using s = await setup();
    const started = Date.now();
    const err = await rejectionOf(s.client.invoke(s.addr, createRequest(NEVER), 150));
    assert.ok(err instanceof RemotingTimeoutError, String(err));
    assert.ok(err.message.includes(s.addr), err.message);
    assert.ok(Date.now() - started >= 140);
    assert.equal((await s.client.invoke(s.addr, createRequest(FAST))).code, 0);
  });

  test("connection loss fails pending requests at once, and the next request reconnects", async () => {
    await using s = await setup();
    const pending = s.client.invoke(s.addr, createRequest(NEVER), 30_000);
    const err = await rejectionOf(s.client.invoke(s.addr, createRequest(CLOSE_ME), 30_000));
    assert.ok(err instanceof RemotingClosedError, String(err));
    assert.ok(err.message.includes(s.addr));
    assert.ok((await rejectionOf(pending)) instanceof RemotingClosedError);
    assert.equal((await s.client.invoke(s.addr, createRequest(FAST))).code, 0);
  });

  test("a refused connection fails with an error naming the address", async () => {
    const probe = new RemotingServer({ port: 0 });
    const { port } = await probe.start();
    await probe.stop();
    const client = new RemotingClient();
    const err = await rejectionOf(client.invoke(`127.0.0.1:${port}`, createRequest(FAST)));
    assert.ok(err instanceof RemotingConnectError, String(err));
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*refused`));
    const bad = await rejectionOf(client.invoke("no-port-here", createRequest(FAST)));
    assert.ok(bad instanceof RemotingConnectError);
    client.close();
  });

  test("the server can send requests to a connected client", async () => {
    await using s = await setup();
    s.client.registerProcessor(CLIENT_SIDE, (req) => successResponse({ a: `${req.extFields?.q} answered` }));
    const resp = await s.client.invoke(s.addr, createRequest(CALL_BACK));
    assert.equal(resp.extFields?.clientSaid, "from server answered");
  });

  test("pending requests per connection are bounded", async () => {
    await using s = await setup();
    const client = new RemotingClient({ limits: { maxPendingRequests: 2 } });
    const held = [client.invoke(s.addr, createRequest(NEVER), 200), client.invoke(s.addr, createRequest(NEVER), 200)];
    const err = await rejectionOf(client.invoke(s.addr, createRequest(FAST)));
    assert.ok(err instanceof RemotingTooManyRequestsError, String(err));
    for (const h of held) assert.ok((await rejectionOf(h)) instanceof RemotingTimeoutError);
    assert.equal((await client.invoke(s.addr, createRequest(FAST))).code, 0);
    client.close();
  });

  test("a JSON-header request is answered in JSON", async () => {
    await using s = await setup();
    const req = encodeFrameBytes({ code: ECHO, flag: 0, opaque: 5, extFields: { topic: "T" } }, SerializeType.JSON);
    const [resp] = await rawExchange(s.addr, [req], 1);
    assert.equal(resp.serializeType, SerializeType.JSON);
    assert.equal(resp.code, 0);
    assert.deepEqual(resp.extFields, { topic: "T" });
  });

  test("garbage on one connection closes only that connection", async () => {
    await using s = await setup();
    assert.equal((await s.client.invoke(s.addr, createRequest(FAST))).code, 0);
    const garbage = new Uint8Array(64).fill(0x7f);
    const closed = await rawExchange(s.addr, [garbage], 0);
    assert.equal(closed.length, 0);
    assert.equal((await s.client.invoke(s.addr, createRequest(FAST))).code, 0);
  });
});

/**
 * Writes raw frames on a fresh socket and collects `expect` answers, or waits for the server to
 * close the socket (expect = 0). Lets tests check what is and is not on the wire.
 */
function rawExchange(addr: string, frames: Uint8Array[], expect: number): Promise<RemotingCommand[]> {
  const [host, port] = addr.split(":");
  return new Promise((resolve, reject) => {
    const got: RemotingCommand[] = [];
    const decoder = new FrameDecoder();
    const sock = net.connect({ host, port: Number(port) });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`raw exchange: ${got.length} of ${expect} answers before the deadline`));
    }, 5000);
    sock.on("connect", () => sock.write(concatBytes(frames)));
    sock.on("data", (d) => {
      decoder.push(new Uint8Array(d), (c) => got.push(c));
      if (expect > 0 && got.length >= expect) {
        // Give nothing else a chance to arrive unnoticed: a oneway answer would precede ours.
        clearTimeout(timer);
        sock.destroy();
        resolve(got);
      }
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      clearTimeout(timer);
      if (expect === 0) resolve(got);
    });
  });
}
