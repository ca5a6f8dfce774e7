import assert from "node:assert/strict";
import { Encoder } from "cbor-x";
import { describe, test } from "../../harness/testing.ts";
import { FrameError } from "../../../src/common/errors.ts";
import {
  encodeFrame,
  encodeFrameBytes,
  FrameDecoder,
  FrameDecoderStream,
} from "../../../src/protocol/frame_codec.ts";
import { decodeHeader, encodeHeader } from "../../../src/protocol/header_codec.ts";
import { fastDecodeMap, NOT_FAST } from "../../../src/protocol/cbor_header.ts";
import type { RemotingCommand } from "../../../src/protocol/remoting_command.ts";
import { SerializeType } from "../../../src/protocol/serialize_type.ts";
import { concatBytes } from "../../../src/util/bytes.ts";

const samples: RemotingCommand[] = [
  { code: 105, flag: 0, opaque: 1, extFields: { topic: "TopicTest" } },
  {
    code: 10,
    flag: 2,
    opaque: 0x7fffffff,
    language: 13,
    version: 409,
    remark: "héllo ✓ 世界",
    extFields: { queueId: 3, offset: 2 ** 40, neg: -77, big: -(2 ** 33), yes: true, no: false, s: "x".repeat(300) },
    body: new Uint8Array([1, 2, 3, 4, 5]),
  },
  { code: 0, flag: 1, opaque: 42, body: new Uint8Array(70_000).fill(9) },
  { code: 3, flag: 1, opaque: 7, remark: "" },
];

function decodeAll(chunks: Uint8Array[]): RemotingCommand[] {
  const out: RemotingCommand[] = [];
  const d = new FrameDecoder();
  for (const c of chunks) d.push(c, (cmd) => out.push(cmd));
  d.end();
  return out;
}

function strip(cmd: RemotingCommand): RemotingCommand {
  const { serializeType: _t, ...rest } = cmd;
  if (rest.body) rest.body = new Uint8Array(rest.body);
  return rest;
}

describe("frame codec", () => {
  for (const type of [SerializeType.CBOR, SerializeType.JSON]) {
    test(`round trips every sample with serialize type ${type}`, () => {
      for (const cmd of samples) {
        const [got] = decodeAll([encodeFrameBytes(cmd, type)]);
        assert.equal(got.serializeType, type);
        const expected = type === SerializeType.JSON
          ? { ...cmd, language: cmd.language ?? 13, version: cmd.version ?? 0, extFields: cmd.extFields && Object.fromEntries(Object.entries(cmd.extFields).map(([k, v]) => [k, String(v)])) }
          : cmd;
        if (expected.extFields === undefined) delete expected.extFields;
        assert.deepEqual(strip(got), expected);
      }
    });
  }

  test("decodes the same when the stream is split at every byte boundary", () => {
    const stream = concatBytes(samples.slice(0, 2).concat(samples[3]).map((c) => encodeFrameBytes(c)));
    const whole = decodeAll([stream]).map(strip);
    assert.equal(whole.length, 3);
    for (let i = 0; i <= stream.byteLength; i++) {
      const parts = decodeAll([stream.subarray(0, i), stream.subarray(i)]).map(strip);
      assert.deepEqual(parts, whole, `split at byte ${i}`);
    }
    const oneByOne: Uint8Array[] = [];
    for (let i = 0; i < stream.byteLength; i++) oneByOne.push(stream.subarray(i, i + 1));
    assert.deepEqual(decodeAll(oneByOne).map(strip), whole);
  });

  test("decodes many frames packed into one chunk, without copying their bodies", () => {
    const frames = Array.from({ length: 500 }, (_, i) => encodeFrameBytes({ code: 1, flag: 0, opaque: i, body: new Uint8Array([i & 0xff, 1, 2]) }));
    const chunk = concatBytes(frames);
    const got = decodeAll([chunk]);
    assert.equal(got.length, 500);
    got.forEach((cmd, i) => {
      assert.equal(cmd.opaque, i);
      assert.equal(cmd.body!.buffer, chunk.buffer, "body is a view of the received chunk");
    });
  });

  test("rejects a frame longer than the maximum as soon as its prefix arrives", () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setInt32(0, 2048);
    assert.throws(() => d.push(prefix, () => {}), (e: unknown) => e instanceof FrameError && /frame length 2048 exceeds the maximum of 1024/.test(e.message));
    // Poisoned: the stream is out of sync, nothing more is decoded.
    assert.throws(() => d.push(encodeFrameBytes(samples[0]), () => {}), FrameError);
  });

  test("rejects a negative length, a header longer than its frame and a header over its cap", () => {
    const bad = (length: number, word: number) => {
      const b = new Uint8Array(16);
      const dv = new DataView(b.buffer);
      dv.setInt32(0, length);
      dv.setUint32(4, word >>> 0);
      return b;
    };
    assert.throws(() => new FrameDecoder().push(bad(-5, 0), () => {}), /frame length -5 is below/);
    assert.throws(() => new FrameDecoder().push(bad(12, (0x42 << 24) | 100), () => {}), /header length 100 exceeds frame length 12/);
    assert.throws(() => new FrameDecoder({ maxHeaderBytes: 8 }).push(bad(14, (0x42 << 24) | 9), () => {}), /header length 9 exceeds the maximum of 8/);
  });

  test("rejects an undecodable header, an unknown serialize type and a header that is not a map", () => {
    const frame = (type: number, header: Uint8Array) => {
      const b = new Uint8Array(8 + header.byteLength);
      const dv = new DataView(b.buffer);
      dv.setInt32(0, 4 + header.byteLength);
      dv.setUint32(4, ((type << 24) | header.byteLength) >>> 0);
      b.set(header, 8);
      return b;
    };
    assert.throws(() => decodeAll([frame(0x42, new Uint8Array([0xff, 0xff, 0x00]))]), /CBOR header of 3 bytes is not decodable/);
    assert.throws(() => decodeAll([frame(0, new TextEncoder().encode("{not json"))]), /JSON header/);
    assert.throws(() => decodeAll([frame(7, new Uint8Array([0xa0]))]), /serialize type 7 is not supported/);
    assert.throws(() => decodeAll([frame(0x42, new Uint8Array([0x01]))]), /header is not a map/);
    assert.throws(() => decodeAll([frame(0x42, new Uint8Array([0xa1, 0x64, 0x63, 0x6f, 0x64, 0x65, 0x61, 0x78]))]), /code is missing/);
  });

  test("reports a stream that ends inside a frame", () => {
    const f = encodeFrameBytes(samples[1]);
    const d = new FrameDecoder();
    d.push(f.subarray(0, f.byteLength - 1), () => {});
    assert.throws(() => d.end(), /stream ended inside a frame/);
  });

  test("refuses to encode a frame over the maximum", () => {
    assert.throws(
      () => encodeFrame({ code: 1, flag: 0, opaque: 1, body: new Uint8Array(2048) }, SerializeType.CBOR, { maxFrameBytes: 1024, maxHeaderBytes: 512 }),
      /exceeds the maximum of 1024/,
    );
  });

  test("works as a Web Streams transform", async () => {
    const bytes = concatBytes(samples.map((c) => encodeFrameBytes(c)));
    const source = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.byteLength; i += 1000) c.enqueue(bytes.subarray(i, i + 1000));
        c.close();
      },
    });
    const got: RemotingCommand[] = [];
    for await (const cmd of source.pipeThrough(new FrameDecoderStream())) got.push(cmd);
    assert.deepEqual(got.map(strip), samples.map((s) => strip({ ...s })));
  });
});

describe("CBOR header", () => {
  const cborx = new Encoder({ useRecords: false, mapsAsObjects: true });

  test("the hand-written encoder writes standard CBOR that cbor-x reads back", () => {
    for (const cmd of samples) {
      const { buf, headerLen } = encodeHeader(cmd, SerializeType.CBOR);
      assert.equal(buf.byteLength, headerLen);
      const viaCborx = cborx.decode(buf) as Record<string, unknown>;
      assert.equal(viaCborx.code, cmd.code);
      // cbor-x reads any 64-bit integer as a bigint; the value is the same.
      const ext = viaCborx.extFields as Record<string, unknown> | undefined;
      const normalized = ext && Object.fromEntries(Object.entries(ext).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]));
      assert.deepEqual(normalized, cmd.extFields);
      assert.equal(viaCborx.remark, cmd.remark);
    }
  });

  test("maps of any size round trip (the one-pass writer hands large ones to the two-pass one)", () => {
    for (const n of [0, 1, 23, 24, 30, 300]) {
      const extFields = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i % 2 ? i : `v${i}`]));
      const cmd: RemotingCommand = { code: 1, flag: 0, opaque: n, extFields };
      const { buf } = encodeHeader(cmd, SerializeType.CBOR);
      assert.deepEqual(cborx.decode(buf).extFields, extFields, `${n} fields, read by cbor-x`);
      assert.deepEqual(decodeHeader(buf, SerializeType.CBOR).extFields, extFields, `${n} fields`);
    }
  });

  test("headers outside the fast shape (floats, bigints) fall back to cbor-x both ways", () => {
    const cmd: RemotingCommand = { code: 1, flag: 0, opaque: 9, extFields: { f: 1.5, b: 2n ** 63n } };
    const { buf } = encodeHeader(cmd, SerializeType.CBOR);
    assert.equal(fastDecodeMap(buf), NOT_FAST);
    assert.deepEqual(decodeHeader(buf, SerializeType.CBOR).extFields, { f: 1.5, b: 2n ** 63n });
  });

  test("a __proto__ key cannot change a decoded header's prototype", () => {
    for (const ext of ['{"__proto__": {"polluted": "yes"}}', '{"__proto__": "x", "a": "b"}']) {
      const buf = cborx.encode({ code: 1, flag: 0, opaque: 1, extFields: JSON.parse(ext) });
      try {
        const cmd = decodeHeader(buf, SerializeType.CBOR);
        assert.equal(Object.getPrototypeOf(cmd.extFields), Object.prototype);
      } catch (err) {
        assert.ok(err instanceof FrameError, String(err)); // refusing it is fine too
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }
  });
});
