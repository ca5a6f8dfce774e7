import { InvalidParameterError } from "./errors.ts";
import { Limits } from "./limits.ts";
import { BoundedCache } from "../util/bounded_cache.ts";

/**
 * RocketMQ's offset message id: uppercase hex of the store host's IPv4 address (4 bytes), its
 * port (int32) and the CommitLog offset (int64): 32 characters. Decoding it gives the broker to
 * ask and the offset to read (VIEW_MESSAGE_BY_ID).
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, "0"));
const hex32 = (n: number) => HEX[(n >>> 24) & 0xff] + HEX[(n >>> 16) & 0xff] + HEX[(n >>> 8) & 0xff] + HEX[n & 0xff];

/** The host part of the id is the same for every message of a broker: remembered (bounded). */
const hostPrefixes = new BoundedCache<string, string>(Limits.hostCacheEntries);

function hostPrefix(storeHost: string): string {
  let p = hostPrefixes.get(storeHost);
  if (p) return p;
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+):(\d+)$/.exec(storeHost);
  const parts = m ? [+m[1], +m[2], +m[3], +m[4]] : [127, 0, 0, 1];
  p = parts.map((x) => HEX[x & 0xff]).join("") + hex32(m ? +m[5] : 0);
  return hostPrefixes.set(storeHost, p);
}

export function createOffsetMsgId(storeHost: string, physicalOffset: number): string {
  return hostPrefix(storeHost) + hex32(Math.floor(physicalOffset / 2 ** 32)) + hex32(physicalOffset >>> 0);
}

export function parseOffsetMsgId(id: string): { addr: string; offset: number } {
  if (!/^[0-9A-Fa-f]{32}$/.test(id)) throw new InvalidParameterError(`"${id.slice(0, 40)}" is not an offset message id (32 hex digits)`);
  const b = (i: number, n: number) => parseInt(id.slice(i, i + n), 16);
  const port = b(8, 8);
  // A unique id (UNIQ_KEY) has the same length: its pid and counter bytes make no port.
  if (port < 1 || port > 65_535) throw new InvalidParameterError(`"${id}" is not an offset message id (its port part would be ${port}); a unique id is looked up by topic`);
  const addr = `${b(0, 2)}.${b(2, 2)}.${b(4, 2)}.${b(6, 2)}:${port}`;
  return { addr, offset: b(16, 8) * 2 ** 32 + b(24, 8) };
}
