import { InvalidParameterError } from "../common/errors.ts";
import type { ResetPoint } from "./admin.ts";

/**
 * A reset point written as text: earliest, latest, now, ms since the epoch, an ISO 8601 time, or
 * mqadmin's `yyyy-MM-dd#HH:mm:ss:SSS` (local time, as mqadmin reads it). Anything else is an
 * InvalidParameterError naming the forms.
 */
export function parseResetPoint(to: string): ResetPoint {
  if (to === "earliest" || to === "latest") return to;
  if (to === "now") return Date.now();
  if (/^\d+$/.test(to) && Number.isSafeInteger(Number(to))) return Number(to);
  const rmq = /^(\d{4})-(\d{2})-(\d{2})#(\d{2}):(\d{2}):(\d{2}):(\d{3})$/.exec(to);
  let ms = NaN;
  if (rmq) {
    const d = new Date(+rmq[1], +rmq[2] - 1, +rmq[3], +rmq[4], +rmq[5], +rmq[6], +rmq[7]);
    // Date rolls 2026-13-45 over into the next year: a field out of range is refused instead.
    if (d.getMonth() === +rmq[2] - 1 && d.getDate() === +rmq[3] && d.getHours() === +rmq[4]) ms = d.getTime();
  } else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(to)) ms = Date.parse(to);
  if (!Number.isFinite(ms)) throw new InvalidParameterError(`must be earliest, latest, now, ms since the epoch, an ISO time or yyyy-MM-dd#HH:mm:ss:SSS, got "${to}"`);
  return ms;
}
