import { pid } from "../platform/runtime.ts";

/**
 * Unique message ids (RocketMQ's UNIQ_KEY shape): hex of client IP (4 bytes), pid (2), a random
 * instance number (4), ms since the start of the month (4) and a counter (2): 32 hex digits.
 */
const hex = (n: number, digits: number) => (n >>> 0).toString(16).toUpperCase().padStart(digits, "0").slice(-digits);
const prefix = hex(0x7f000001, 8) + hex(pid() & 0xffff, 4) + hex(Math.floor(Math.random() * 2 ** 32), 8);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, "0"));
let counter = 0;
let monthStart = 0;
let nextMonth = 0;

export function createUniqueId(now = Date.now()): string {
  if (now >= nextMonth) {
    const d = new Date(now);
    monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    nextMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
  counter = (counter + 1) & 0xffff;
  const t = now - monthStart;
  return prefix + HEX[(t >>> 24) & 0xff] + HEX[(t >>> 16) & 0xff] + HEX[(t >>> 8) & 0xff] + HEX[t & 0xff] +
    HEX[counter >>> 8] + HEX[counter & 0xff];
}
