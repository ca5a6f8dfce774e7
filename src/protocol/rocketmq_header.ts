import { FrameError } from "../common/errors.ts";
import { fromUtf8, utf8 } from "../util/bytes.ts";
import type { ExtFields, RemotingCommand } from "./remoting_command.ts";

/**
 * RocketMQ's own binary header (serialize type 1, `RocketMQSerializable`), which the Java client
 * sends when configured to (`rocketmq.serialize.type=ROCKETMQ`): big-endian
 * `int16 code | int8 language | int16 version | int32 opaque | int32 flag |
 * int32 remarkLen, remark | int32 extLen, (int16 keyLen, key, int32 valLen, val)*`, text in
 * UTF-8, a remark of length 0 meaning none. Every extFields value travels as text.
 */

/** The fixed part: code, language, version, opaque, flag, and the two lengths. */
const FIXED_BYTES = 2 + 1 + 2 + 4 + 4 + 4 + 4;

/** The extFields values as RocketMQ's text. */
function extText(ext: ExtFields | undefined): [Uint8Array, Uint8Array][] {
  const out: [Uint8Array, Uint8Array][] = [];
  for (const [k, v] of Object.entries(ext ?? {})) {
    if (v === undefined || v === null) continue;
    out.push([utf8(k), v instanceof Uint8Array ? v : utf8(String(v))]);
  }
  return out;
}

export function encodeRocketMqHeader(cmd: RemotingCommand): Uint8Array {
  const remark = cmd.remark ? utf8(cmd.remark) : new Uint8Array(0);
  const ext = extText(cmd.extFields);
  for (const [k] of ext) if (k.byteLength > 0x7fff) throw new RangeError(`extFields key of ${k.byteLength} bytes is longer than an int16 length allows`);
  const extLen = ext.reduce((n, [k, v]) => n + 2 + k.byteLength + 4 + v.byteLength, 0);
  const out = new Uint8Array(FIXED_BYTES + remark.byteLength + extLen);
  const dv = new DataView(out.buffer);
  dv.setInt16(0, cmd.code);
  dv.setInt8(2, cmd.language ?? 13);
  dv.setInt16(3, cmd.version ?? 0);
  dv.setInt32(5, cmd.opaque);
  dv.setInt32(9, cmd.flag);
  dv.setInt32(13, remark.byteLength);
  out.set(remark, 17);
  let at = 17 + remark.byteLength;
  dv.setInt32(at, extLen);
  at += 4;
  for (const [k, v] of ext) {
    dv.setInt16(at, k.byteLength);
    out.set(k, at + 2);
    at += 2 + k.byteLength;
    dv.setInt32(at, v.byteLength);
    out.set(v, at + 4);
    at += 4 + v.byteLength;
  }
  return out;
}

/** Decodes bytes[start, end); a length that runs past the header is a FrameError (the stream is unreadable). */
export function decodeRocketMqHeader(bytes: Uint8Array, start: number, end: number): RemotingCommand {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  const size = end - start;
  const need = (at: number, n: number, what: string) => {
    if (n < 0 || at + n > size) throw new FrameError(`RocketMQ binary header: ${what} of ${n} bytes at ${at} runs past its ${size} bytes`);
  };
  need(0, FIXED_BYTES - 4, "fixed fields");
  const cmd: RemotingCommand = {
    code: dv.getInt16(0),
    language: dv.getInt8(2),
    version: dv.getInt16(3),
    opaque: dv.getInt32(5),
    flag: dv.getInt32(9),
  };
  const remarkLen = dv.getInt32(13);
  need(17, remarkLen, "remark");
  if (remarkLen > 0) cmd.remark = fromUtf8(bytes.subarray(start + 17, start + 17 + remarkLen));
  let at = 17 + remarkLen;
  need(at, 4, "extFields length");
  const extLen = dv.getInt32(at);
  at += 4;
  need(at, extLen, "extFields");
  const extEnd = at + extLen;
  if (extLen > 0) {
    const ext: ExtFields = {};
    while (at < extEnd) {
      need(at, 2, "key length");
      const kl = dv.getInt16(at);
      need(at + 2, kl, "key");
      const key = fromUtf8(bytes.subarray(start + at + 2, start + at + 2 + kl));
      at += 2 + kl;
      if (at + 4 > extEnd) throw new FrameError(`RocketMQ binary header: value length of "${key.slice(0, 40)}" runs past extFields`);
      const vl = dv.getInt32(at);
      if (vl < 0 || at + 4 + vl > extEnd) throw new FrameError(`RocketMQ binary header: value of "${key.slice(0, 40)}" (${vl} bytes) runs past extFields`);
      ext[key] = fromUtf8(bytes.subarray(start + at + 4, start + at + 4 + vl));
      at += 4 + vl;
    }
    cmd.extFields = ext;
  }
  return cmd;
}
