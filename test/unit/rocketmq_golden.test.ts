import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { createUniqueId } from "../../src/client/unique_id.ts";
import { createOffsetMsgId, parseOffsetMsgId } from "../../src/common/message_id.ts";
import { decodeRecord, prepareRecord, writeRecord } from "../../src/common/message_record.ts";
import { crc32, crc32Range } from "../../src/platform/crc32.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/** A message as RocketMQ 4.9's MessageDecoder lays it out (reference §1.5), field by field, IPv4 hosts, magic V1. */
function rocketMqRecord(m: {
  queueId: number; flag: number; queueOffset: bigint; physicalOffset: bigint; sysFlag: number; bornTimestamp: bigint;
  bornHost: [number, number, number, number, number]; storeTimestamp: bigint; storeHost: [number, number, number, number, number];
  reconsumeTimes: number; preparedTransactionOffset: bigint; body: Uint8Array; topic: string; properties: string;
}): Uint8Array {
  const topic = utf8(m.topic);
  const props = utf8(m.properties);
  const size = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + m.body.length + 1 + topic.length + 2 + props.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let p = 0;
  const i32 = (v: number) => (dv.setInt32(p, v), p += 4);
  const i64 = (v: bigint) => (dv.setBigInt64(p, v), p += 8);
  const host = (h: [number, number, number, number, number]) => (out.set(h.slice(0, 4), p), p += 4, i32(h[4]));
  i32(size); // TOTALSIZE
  i32(0xdaa320a7 | 0); // MAGICCODE V1
  i32(crc32(m.body) & 0x7fffffff); // BODYCRC
  i32(m.queueId);
  i32(m.flag);
  i64(m.queueOffset);
  i64(m.physicalOffset);
  i32(m.sysFlag);
  i64(m.bornTimestamp);
  host(m.bornHost);
  i64(m.storeTimestamp);
  host(m.storeHost);
  i32(m.reconsumeTimes);
  i64(m.preparedTransactionOffset);
  i32(m.body.length);
  out.set(m.body, p);
  p += m.body.length;
  out[p++] = topic.length; // 1-byte topic length (V1)
  out.set(topic, p);
  p += topic.length;
  dv.setInt16(p, props.length);
  p += 2;
  out.set(props, p);
  return out;
}

const SAMPLE = {
  queueId: 3, flag: 7, queueOffset: 42n, physicalOffset: 0x1_2345_6789n, sysFlag: 1, bornTimestamp: 1_764_000_000_123n,
  bornHost: [10, 0, 0, 9, 54_321] as [number, number, number, number, number], storeTimestamp: 1_764_000_000_456n,
  storeHost: [192, 168, 1, 20, 10_911] as [number, number, number, number, number], reconsumeTimes: 2, preparedTransactionOffset: 0n,
  body: new Uint8Array([0x78, 0x9c, 0, 1, 2, 0xff]), topic: "Orders",
  properties: "TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u00017F0000010ABC000000000000000A0001\u0002größe\u0001消息\u0002",
};

describe("RocketMQ 4.9's bytes, golden", () => {
  test("the platform CRC-32 is the standard one (BODYCRC depends on it)", () => {
    assert.equal(crc32(utf8("123456789")) >>> 0, 0xcbf43926);
  });

  test("Bolide writes a record byte for byte as RocketMQ lays it out, its one documented extra property (__HCRC32) appended", () => {
    const r = prepareRecord({ topic: SAMPLE.topic, queueId: SAMPLE.queueId, flag: SAMPLE.flag, body: SAMPLE.body, properties: SAMPLE.properties, sysFlag: SAMPLE.sysFlag, bornTimestamp: Number(SAMPLE.bornTimestamp), bornHost: "10.0.0.9:54321", reconsumeTimes: SAMPLE.reconsumeTimes, preparedTransactionOffset: 0 });
    const buf = new Uint8Array(r.size);
    writeRecord(buf, new DataView(buf.buffer), 0, r, Number(SAMPLE.queueOffset), Number(SAMPLE.physicalOffset), Number(SAMPLE.storeTimestamp), "192.168.1.20:10911", crc32Range);
    const extra = new TextDecoder().decode(buf.subarray(buf.length - 20));
    assert.match(extra, /^__HCRC32\u0001\d{10}\u0002$/);
    assert.equal(toHex(buf), toHex(rocketMqRecord({ ...SAMPLE, properties: SAMPLE.properties + extra })));
  });

  test("Bolide decodes a record RocketMQ wrote (no extra property)", () => {
    const m = decodeRecord(rocketMqRecord(SAMPLE));
    assert.equal(m.topic, "Orders");
    assert.equal(m.queueId, 3);
    assert.equal(m.flag, 7);
    assert.equal(m.queueOffset, 42);
    assert.equal(m.physicalOffset, 0x1_2345_6789);
    assert.equal(m.sysFlag, 1);
    assert.equal(m.bornTimestamp, 1_764_000_000_123);
    assert.equal(m.bornHost, "10.0.0.9:54321");
    assert.equal(m.storeTimestamp, 1_764_000_000_456);
    assert.equal(m.storeHost, "192.168.1.20:10911");
    assert.equal(m.reconsumeTimes, 2);
    assert.deepEqual(new Uint8Array(m.body), SAMPLE.body);
    assert.deepEqual(m.properties, { TAGS: "TagA", KEYS: "k1 k2", UNIQ_KEY: "7F0000010ABC000000000000000A0001", "größe": "消息" });
  });

  test("the offset msgId: store host IPv4, port, CommitLog offset, 32 uppercase hex, both ways", () => {
    // C0A80114 = 192.168.1.20, 00002A9F = 10911, then the int64 offset.
    assert.equal(createOffsetMsgId("192.168.1.20:10911", 0x1_2345_6789), "C0A8011400002A9F0000000123456789");
    assert.deepEqual(parseOffsetMsgId("C0A8011400002A9F0000000123456789"), { addr: "192.168.1.20:10911", offset: 0x1_2345_6789 });
    // A unique id has the same length; read as an offset id its port part is no port (once: a
    // connection to 127.0.0.1:605907026).
    assert.throws(() => parseOffsetMsgId("7F0000010ABC1234ABCD00120001FFFF"), /not an offset message id \(its port part would be 180097588\)/);
  });

  test("the unique id (UNIQ_KEY): MessageClientIDSetter's layout, its time field the ms since the month began", () => {
    const now = Date.UTC(2026, 11, 3, 12, 0, 0, 5);
    const a = createUniqueId(now);
    const b = createUniqueId(now);
    assert.match(a, /^[0-9A-F]{32}$/);
    assert.equal(a.slice(0, 8), "7F000001", "IPv4 (4 bytes)");
    assert.equal(parseInt(a.slice(8, 12), 16), process.pid & 0xffff, "pid (2 bytes)");
    assert.equal(a.slice(12, 20), b.slice(12, 20), "the instance's number (4 bytes, RocketMQ's classloader hash)");
    assert.equal(parseInt(a.slice(20, 28), 16), now - Date.UTC(2026, 11, 1), "ms since the start of the month (4 bytes)");
    assert.equal((parseInt(b.slice(28), 16) - parseInt(a.slice(28), 16) + 0x10000) % 0x10000, 1, "a counter (2 bytes)");
  });
});
