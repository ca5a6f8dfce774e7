import { javaStringHash } from "../util/java_hash.ts";

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
