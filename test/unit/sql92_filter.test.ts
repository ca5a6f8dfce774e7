import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { compileSql92, SubscriptionParseError } from "../../src/common/sql92_filter.ts";
import { ResponseCode } from "../../src/common/response_code.ts";

const props = { a: "5", b: "abc", c: "-2.5", region: "eu", vip: "true", quote: "it's" };

describe("SQL92 filter", () => {
  test("evaluates comparisons, BETWEEN, IN, IS NULL and boolean logic over properties", () => {
    const cases: [string, boolean][] = [
      ["a = 5", true],
      ["a > 4 AND a < 6", true],
      ["a >= 5 AND a <= 5", true],
      ["a <> 5", false],
      ["a != 4", true],
      ["c < 0", true],
      ["c = -2.5", true],
      ["a BETWEEN 1 AND 10", true],
      ["a NOT BETWEEN 1 AND 10", false],
      ["a BETWEEN 6 AND 10", false],
      ["region IN ('eu', 'us')", true],
      ["region NOT IN ('eu', 'us')", false],
      ["region IN ('asia')", false],
      ["b = 'abc'", true],
      ["b <> 'abd'", true],
      ["quote = 'it''s'", true],
      ["missing IS NULL", true],
      ["a IS NOT NULL", true],
      ["missing = 1", false],
      ["NOT (missing = 1)", false],
      ["missing = 1 OR a = 5", true],
      ["NOT a = 4", true],
      ["(a = 5 OR b = 'x') AND NOT region = 'us'", true],
      ["b > 1", false],
      ["b > 'a'", false],
      ["TRUE", true],
      ["FALSE OR a = 5", true],
      ["a=5 and region='eu'", true],
    ];
    for (const [expr, want] of cases) assert.equal(compileSql92(expr)(props), want, expr);
  });

  test("a bad expression is refused with SUBSCRIPTION_PARSE_FAILED and says where", () => {
    const bad: [string, RegExp][] = [
      ["", /empty/],
      ["a =", /expected a property name or a literal at position 4/],
      ["a = 5 AND", /position 10/],
      ["(a = 5", /expected \)/],
      ["a = 'open", /unterminated string/],
      ["a ~ 5", /unexpected character "~"/],
      ["a NOT = 5", /expected BETWEEN or IN after NOT/],
      ["a IN 5", /expected \( after IN/],
      ["a BETWEEN 1 5", /expected AND/],
      ["a = 5 b = 6", /unexpected "b"/],
      // A bare operand is not a condition (it threw a TypeError, so a pull got SYSTEM_ERROR).
      ["a", /expected a comparison .* at position 2 \(found "end of expression"\)/],
      ["'x'", /expected a comparison .* at position 4/],
      ["5", /expected a comparison/],
      ["NOT a", /expected a comparison .* at position 6/],
      ["a = 5 AND b", /expected a comparison/],
      ["(".repeat(100) + "a=1" + ")".repeat(100), /nesting deeper than 64/],
      ["x".repeat(5000), /at most 4096/],
    ];
    for (const [expr, why] of bad) {
      assert.throws(() => compileSql92(expr), (e: Error) => e instanceof SubscriptionParseError && e.code === ResponseCode.SUBSCRIPTION_PARSE_FAILED && why.test(e.message), expr.slice(0, 30));
    }
  });
});
