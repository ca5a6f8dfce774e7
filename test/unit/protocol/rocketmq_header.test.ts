import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { decodeHeader, encodeHeader } from "../../../src/protocol/header_codec.ts";
import { FrameDecoder, encodeFrameBytes } from "../../../src/protocol/frame_codec.ts";
import type { RemotingCommand } from "../../../src/protocol/remoting_command.ts";
import { SerializeType } from "../../../src/protocol/serialize_type.ts";

const hex = (s: string) => new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

// Laid out by hand from RocketMQSerializable's order (code int16, language int8, version int16,
// opaque int32, flag int32, remark int32+bytes, extFields int32 + (int16 key, int32 value)*).
// SEND_MESSAGE_V2 (310 = 0x0136) from a Java client (language 0) of V4_9_8 (409 = 0x0199),
// opaque 7, flag 0, no remark, extFields {b: "T", e: "3"}.
const REQUEST = hex(`
  0136 00 0199 00000007 00000000
  00000000
  00000010  0001 62 00000001 54   0001 65 00000001 33
`);
// Its answer as Bolide sends it: code 0, language 13 (NODE_JS), version 409, opaque 7, flag 1
// (response), remark "ok" (2 bytes), extFields {msgId: "AB"} (2+5+4+2 = 13 bytes).
const ANSWER = hex(`
  0000 0d 0199 00000007 00000001
  00000002 6f6b
  0000000d  0005 6d73674964 00000002 4142
`);

describe("RocketMQ's binary header (serialize type 1)", () => {
  test("decodes the bytes a Java client sends", () => {
    const cmd = decodeHeader(REQUEST, SerializeType.ROCKETMQ);
    assert.deepEqual(cmd, { code: 310, language: 0, version: 409, opaque: 7, flag: 0, extFields: { b: "T", e: "3" } });
  });

  test("encodes byte for byte as RocketMQ lays it out, every value as text", () => {
    const answer: RemotingCommand = { code: 0, language: 13, version: 409, opaque: 7, flag: 1, remark: "ok", extFields: { msgId: "AB" } };
    assert.equal(toHex(encodeHeader(answer, SerializeType.ROCKETMQ).buf), toHex(ANSWER));
    const typed = encodeHeader({ code: 310, language: 0, version: 409, opaque: 7, flag: 0, extFields: { b: "T", e: 3 } }, SerializeType.ROCKETMQ).buf;
    assert.equal(toHex(typed), toHex(REQUEST), "a number travels as its text");
  });

  test("a frame of type 1 round trips, remark and body included, UTF-8 intact", () => {
    const cmd: RemotingCommand = { code: 11, language: 0, version: 409, opaque: 123_456, flag: 2, remark: "rémarque 消息", extFields: { topic: "Tö", queueId: "1" }, body: new Uint8Array([1, 2, 3]) };
    const frame = encodeFrameBytes(cmd, SerializeType.ROCKETMQ);
    assert.equal(frame[4], 1, "the serialize type byte");
    const got: RemotingCommand[] = [];
    new FrameDecoder().push(frame, (c) => got.push(c));
    assert.equal(got[0].serializeType, SerializeType.ROCKETMQ);
    assert.deepEqual({ ...got[0], body: new Uint8Array(got[0].body!), serializeType: undefined }, { ...cmd, serializeType: undefined });
  });

  test("lengths that run past the header are a frame error, not a crash", () => {
    for (const bad of [REQUEST.subarray(0, 10), hex("0136 00 0199 00000007 00000000 7fffffff"), hex("0136 00 0199 00000007 00000000 00000000 00000009 0005 6d73")]) {
      assert.throws(() => decodeHeader(bad, SerializeType.ROCKETMQ), /RocketMQ binary header/);
    }
  });
});
