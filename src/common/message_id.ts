import { InvalidParameterError } from "./errors.ts";

/**
 * RocketMQ's offset message id: uppercase hex of the store host's IPv4 address (4 bytes), its
 * port (int32) and the CommitLog offset (int64): 32 characters. Decoding it gives the broker to
 * ask and the offset to read (VIEW_MESSAGE_BY_ID).
 */
export function createOffsetMsgId(storeHost: string, physicalOffset: number): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+):(\d+)$/.exec(storeHost);
  const parts = m ? [+m[1], +m[2], +m[3], +m[4]] : [127, 0, 0, 1];
  const port = m ? +m[5] : 0;
  const hex = (n: number, digits: number) => n.toString(16).toUpperCase().padStart(digits, "0");
  return parts.map((p) => hex(p, 2)).join("") + hex(port, 8) + hex(Math.floor(physicalOffset / 2 ** 32), 8) + hex(physicalOffset >>> 0, 8);
}

export function parseOffsetMsgId(id: string): { addr: string; offset: number } {
  if (!/^[0-9A-Fa-f]{32}$/.test(id)) throw new InvalidParameterError(`"${id.slice(0, 40)}" is not an offset message id (32 hex digits)`);
  const b = (i: number, n: number) => parseInt(id.slice(i, i + n), 16);
  const addr = `${b(0, 2)}.${b(2, 2)}.${b(4, 2)}.${b(6, 2)}:${b(8, 8)}`;
  return { addr, offset: b(16, 8) * 2 ** 32 + b(24, 8) };
}
