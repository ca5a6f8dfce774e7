import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { Child, runtimeBinary } from "../harness/process.ts";
import { FakeBroker, registerBody, topicConfig } from "../harness/servers.ts";
import { Prng } from "../harness/prng.ts";
import { NameServerClient } from "../../src/client/name_server_client.ts";
import { BATCH_SIZES, cborx, frame, mutate, randomValue, sendBatch, SENTINEL_OPAQUE } from "../harness/fuzz.ts";
import { encodeFrameBytes } from "../../src/protocol/frame_codec.ts";
import { getRouteInfoRequest, registerBrokerRequest } from "../../src/protocol/namesrv_requests.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { SerializeType } from "../../src/protocol/serialize_type.ts";
import type { RemotingCommand } from "../../src/protocol/remoting_command.ts";
import { concatBytes } from "../../src/util/bytes.ts";

const FRAMES = 100_000;
const WORKERS = 16;

/** Valid frames that mutations start from; none touches the checked topic or broker. */
function templates(): Uint8Array[] {
  const id = { clusterName: "FuzzCluster", brokerName: "fuzz-b", brokerAddr: "127.0.0.1:3333", brokerId: 0 };
  const cmds: RemotingCommand[] = [
    { ...getRouteInfoRequest("FuzzT"), opaque: 1 },
    { ...registerBrokerRequest(id, registerBody([topicConfig("FuzzT", 2)])), opaque: 2 },
    { code: RequestCode.GET_BROKER_CLUSTER_INFO, flag: 0, opaque: 3 },
    { code: RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, flag: 0, opaque: 4 },
    { code: RequestCode.DELETE_TOPIC_IN_NAMESRV, flag: 0, opaque: 5, extFields: { topic: "FuzzT" } },
    { code: RequestCode.UNREGISTER_BROKER, flag: 2, opaque: 6, extFields: { brokerAddr: "127.0.0.1:3333" } },
    { code: 31337, flag: 0, opaque: 7, body: new Uint8Array([1, 2, 3]) },
  ];
  return cmds.flatMap((c) => [encodeFrameBytes(c, SerializeType.CBOR), encodeFrameBytes(c, SerializeType.JSON)]);
}

/** One hostile frame (or a fragment of bytes). */
function hostile(r: Prng, base: Uint8Array[]): Uint8Array {
  switch (r.int(4)) {
    case 0: // a CBOR header of random shape
      return frame(0x42, cborx.encode(r.int(4) === 0 ? randomValue(r) : {
        code: r.int(3) === 0 ? randomValue(r) : r.pick([103, 104, 105, 106, 206, 216, r.int(70000)]),
        flag: r.int(4),
        opaque: r.int(3) === 0 ? randomValue(r) : r.int(1 << 30),
        extFields: r.int(3) === 0 ? randomValue(r) : { topic: randomValue(r), brokerName: randomValue(r), brokerAddr: randomValue(r), brokerId: randomValue(r) },
      }), r.int(2) === 0 ? r.bytes(r.int(300)) : cborx.encode(randomValue(r)));
    case 1: // a JSON header of random shape
      return frame(0, new TextEncoder().encode(JSON.stringify({ code: r.pick([105, 103, 106, "x", null]), opaque: r.int(1000), extFields: { topic: r.pick(["FuzzT", "", "bad topic", 5]) } })));
    default: // damaged (or intact) templates
      return mutate(r, r.pick(base));
  }
}

describe("NameServer under hostile input", () => {
  test(`survives ${FRAMES.toLocaleString()} random and mutated frames and still answers correctly`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const r = new Prng(seed);
    await using ns = new Child(runtimeBinary(), ["cli.ts", "namesrv", "--port", "0", "--log-level", "warn"]);
    const addr = await ns.listenAddr();
    const port = Number(addr.split(":")[1]);

    await using broker = new FakeBroker({ clusterName: "C", brokerName: "checked-broker", brokerAddr: "127.0.0.1:10911", brokerId: 0 });
    assert.equal((await broker.register(addr, [topicConfig("Checked", 4)])).code, 0);

    const base = templates();
    const sentinel = encodeFrameBytes({ ...getRouteInfoRequest("Checked"), opaque: SENTINEL_OPAQUE });
    let sent = 0;
    let batches = 0;
    let answered = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: WORKERS }, async () => {
      while (sent < FRAMES) {
        const frames: Uint8Array[] = [];
        const n = r.pick(BATCH_SIZES);
        for (let i = 0; i < n; i++) frames.push(hostile(r, base));
        sent += n;
        batches++;
        frames.push(sentinel);
        if ((await sendBatch(port, concatBytes(frames))).sentinelAnswered) answered++;
      }
    }));
    const elapsedS = (Date.now() - started) / 1000;

    assert.equal(ns.exitCode, null, `NameServer exited (seed ${seed}): ${ns.stderr}`);
    // Batches whose garbage kept the stream in sync reach the sentinel: the server kept reading them.
    assert.ok(answered > 0, `no sentinel answered in ${batches} batches (seed ${seed})`);
    assert.doesNotMatch(ns.stderr, /unhandledRejection|uncaughtException/, `seed ${seed}`);
    // Protocol errors are logged, but rate-limited: one hostile client cannot flood the log.
    const errorLines = ns.stderr.split("\n").filter((l) => l.includes("closing connection")).length;
    assert.ok(errorLines > 0, "protocol errors are logged");
    assert.ok(errorLines <= (elapsedS + 2) * 10 + 10, `${errorLines} log lines in ${elapsedS}s`);

    // A normal client still gets correct answers, and the broker registered before is intact.
    const client = new NameServerClient({ namesrvAddr: addr });
    const route = await client.getRoute("Checked");
    assert.deepEqual(route.queueDatas, [{ brokerName: "checked-broker", readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0 }]);
    assert.deepEqual(route.brokerDatas, [{ cluster: "C", brokerName: "checked-broker", brokerAddrs: { "0": "127.0.0.1:10911" } }]);
    assert.equal((await broker.register(addr, [topicConfig("Checked", 4), topicConfig("After", 1)], 2)).code, 0);
    assert.equal((await client.getRoute("After")).queueDatas[0].brokerName, "checked-broker");
    client.close();
    console.log(`fuzz: ${sent} frames in ${batches} connections, ${answered} sentinels answered, ${elapsedS.toFixed(1)} s, seed ${seed}`);
  }, 120_000);
});
