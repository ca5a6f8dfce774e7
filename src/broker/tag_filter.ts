import { decodeRecord } from "../common/message_record.ts";
import { compileSql92 } from "../common/sql92_filter.ts";
import { javaStringHash } from "../util/java_hash.ts";
import { Limits } from "../common/limits.ts";
import { BoundedCache } from "../util/bounded_cache.ts";

/**
 * The broker side of a tag subscription ("*", "TagA", "TagA || TagB"): a test on the
 * ConsumeQueue unit's tag code. Like RocketMQ it compares hashes only; the client re-checks the
 * tag itself, so a hash collision costs a transfer, never a wrong delivery.
 */
export function tagFilter(expression: string | undefined): (tagsCode: number) => boolean {
  const expr = (expression ?? "*").trim();
  if (expr === "" || expr === "*") return () => true;
  const codes = new Set(expr.split("||").map((t) => t.trim()).filter(Boolean).map((t) => javaStringHash(t)));
  return (code) => codes.has(code);
}

/** Compiled SQL92 filters by expression text (bounded): a consumer pulls with the same one each time. */
const sqlFilters = new BoundedCache<string, (raw: Uint8Array) => boolean>(Limits.sqlFilterCacheEntries);

/**
 * The broker side of an SQL92 subscription: decodes each record's properties and evaluates the
 * expression. Throws SubscriptionParseError (SUBSCRIPTION_PARSE_FAILED) for a bad expression.
 */
export function sqlFilter(expression: string): (raw: Uint8Array) => boolean {
  let f = sqlFilters.get(expression);
  if (!f) {
    const match = compileSql92(expression);
    f = (raw) => match(decodeRecord(raw).properties);
    sqlFilters.set(expression, f);
  }
  return f;
}
