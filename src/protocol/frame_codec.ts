import { FrameError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { concatBytes } from "../util/bytes.ts";
import { decodeHeader, encodeHeader, encodeHeaderExact } from "./header_codec.ts";
import type { RemotingCommand } from "./remoting_command.ts";
import { SerializeType } from "./serialize_type.ts";

/**
 * RocketMQ's frame: `int32 length | int8 serializeType + int24 headerLength | header | body`,
 * big-endian, where length counts everything after itself. See docs/wire.md.
 */

/** Length prefix plus the type/header-length word. */
export const FRAME_PREFIX_BYTES = 8;

export interface FrameLimits {
  maxFrameBytes: number;
  maxHeaderBytes: number;
}

const defaultLimits: FrameLimits = { maxFrameBytes: Limits.maxFrameBytes, maxHeaderBytes: Limits.maxHeaderBytes };

/**
 * Encodes a command as two parts, the prefix with the header and the body (not copied), so a
 * writer can gather many frames into one write with a single copy of each body.
 */
export function encodeFrame(
  cmd: RemotingCommand,
  type: number = SerializeType.CBOR,
  limits: FrameLimits = defaultLimits,
): [Uint8Array] | [Uint8Array, Uint8Array] {
  const { buf: head, headerLen } = (type === SerializeType.CBOR ? encodeHeaderExact(cmd, FRAME_PREFIX_BYTES) : undefined) ??
    encodeHeader(cmd, type, FRAME_PREFIX_BYTES);
  const bodyLen = cmd.body?.byteLength ?? 0;
  const length = 4 + headerLen + bodyLen;
  if (headerLen > limits.maxHeaderBytes) {
    throw new FrameError(`header of ${headerLen} bytes exceeds the maximum of ${limits.maxHeaderBytes}`);
  }
  if (length > limits.maxFrameBytes) {
    throw new FrameError(`frame of ${length} bytes exceeds the maximum of ${limits.maxFrameBytes}`);
  }
  // Big-endian prefix, written byte by byte (cheaper than a DataView for 8 bytes).
  head[0] = length >>> 24;
  head[1] = (length >>> 16) & 0xff;
  head[2] = (length >>> 8) & 0xff;
  head[3] = length & 0xff;
  head[4] = type & 0xff;
  head[5] = (headerLen >>> 16) & 0xff;
  head[6] = (headerLen >>> 8) & 0xff;
  head[7] = headerLen & 0xff;
  return bodyLen > 0 ? [head, cmd.body!] : [head];
}

/** One contiguous frame; for tests and tools (the connection writes the parts). */
export function encodeFrameBytes(cmd: RemotingCommand, type: number = SerializeType.CBOR): Uint8Array {
  return concatBytes(encodeFrame(cmd, type));
}

/**
 * Incremental frame decoder. Frames split across chunks or packed many to a chunk decode the
 * same. A frame inside one chunk is decoded in place: its body is a view of that chunk. Only a
 * frame that spans chunks is copied, once, when its last byte arrives. After a FrameError the
 * decoder is poisoned: the stream is out of sync and its connection must be closed.
 */
export class FrameDecoder {
  readonly #limits: FrameLimits;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Bytes the pending frame needs: 8 while its prefix is incomplete, then its whole length. */
  #need = FRAME_PREFIX_BYTES;
  #failed: FrameError | undefined;

  constructor(limits: Partial<FrameLimits> = {}) {
    this.#limits = { ...defaultLimits, ...limits };
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }

  push(chunk: Uint8Array, emit: (cmd: RemotingCommand) => void): void {
    if (this.#failed) throw this.#failed;
    try {
      this.#push(chunk, emit);
    } catch (e) {
      if (e instanceof FrameError) this.#failed = e;
      throw e;
    }
  }

  /** Throws if the stream ended inside a frame. */
  end(): void {
    if (this.#pendingBytes > 0 && !this.#failed) {
      throw new FrameError(`stream ended inside a frame (${this.#pendingBytes} of ${this.#need} bytes received)`);
    }
  }

  #push(chunk: Uint8Array, emit: (cmd: RemotingCommand) => void): void {
    let off = 0;
    while (this.#pendingBytes > 0) {
      const take = Math.min(this.#need - this.#pendingBytes, chunk.byteLength - off);
      if (take > 0) this.#pending.push(chunk.subarray(off, off + take));
      this.#pendingBytes += take;
      off += take;
      if (this.#pendingBytes < this.#need) return;
      const joined = this.#pending.length === 1 ? this.#pending[0] : concatBytes(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
      const frameBytes = this.#probe(new DataView(joined.buffer, joined.byteOffset, joined.byteLength), 0);
      if (joined.byteLength < frameBytes) {
        this.#pending.push(joined);
        this.#pendingBytes = joined.byteLength;
        this.#need = frameBytes;
        continue;
      }
      this.#emitFrame(joined, new DataView(joined.buffer, joined.byteOffset, joined.byteLength), 0, emit);
    }
    const len = chunk.byteLength;
    if (off >= len) return;
    const dv = new DataView(chunk.buffer, chunk.byteOffset, len);
    while (len - off >= FRAME_PREFIX_BYTES) {
      const frameBytes = this.#probe(dv, off);
      if (len - off < frameBytes) break;
      this.#emitFrame(chunk, dv, off, emit);
      off += frameBytes;
    }
    if (off < len) {
      // A tail is copied so the chunk it came from is not kept alive for a few bytes.
      const rest = off === 0 ? chunk : chunk.slice(off);
      this.#pending.push(rest);
      this.#pendingBytes = rest.byteLength;
      this.#need = rest.byteLength >= FRAME_PREFIX_BYTES ? this.#probe(dv, off) : FRAME_PREFIX_BYTES;
    }
  }

  /** Validates the 8-byte prefix at `off` and returns the frame's total size including its length field. */
  #probe(dv: DataView, off: number): number {
    const length = dv.getInt32(off);
    const { maxFrameBytes, maxHeaderBytes } = this.#limits;
    if (length < 4) throw new FrameError(`frame length ${length} is below the 4-byte minimum`);
    if (length > maxFrameBytes) {
      throw new FrameError(`frame length ${length} exceeds the maximum of ${maxFrameBytes}`);
    }
    const headerLen = dv.getUint32(off + 4) & 0xffffff;
    if (headerLen > length - 4) {
      throw new FrameError(`header length ${headerLen} exceeds frame length ${length}`);
    }
    if (headerLen > maxHeaderBytes) {
      throw new FrameError(`header length ${headerLen} exceeds the maximum of ${maxHeaderBytes}`);
    }
    return 4 + length;
  }

  #emitFrame(bytes: Uint8Array, dv: DataView, off: number, emit: (cmd: RemotingCommand) => void): void {
    const length = dv.getInt32(off);
    const word = dv.getUint32(off + 4);
    const type = word >>> 24;
    const headerEnd = off + FRAME_PREFIX_BYTES + (word & 0xffffff);
    const end = off + 4 + length;
    const cmd = decodeHeader(bytes, type, off + FRAME_PREFIX_BYTES, headerEnd);
    if (end > headerEnd) cmd.body = bytes.subarray(headerEnd, end);
    cmd.serializeType = type;
    emit(cmd);
  }
}

/** The decoder as a Web Streams transform: bytes in, commands out. */
export class FrameDecoderStream extends TransformStream<Uint8Array, RemotingCommand> {
  constructor(limits: Partial<FrameLimits> = {}) {
    const decoder = new FrameDecoder(limits);
    super({
      transform(chunk, controller) {
        decoder.push(chunk, (cmd) => controller.enqueue(cmd));
      },
      flush() {
        decoder.end();
      },
    });
  }
}
