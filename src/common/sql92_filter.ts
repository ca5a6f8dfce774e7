import { SubscriptionParseError } from "./errors.ts";
import type { Properties } from "./message.ts";
import { Limits } from "./limits.ts";

export { SubscriptionParseError };

/**
 * RocketMQ's SQL92 message filter: a boolean expression over a message's properties, e.g.
 * `a > 5 AND (region IN ('eu', 'us') OR vip IS NOT NULL)`. Supported: = <> != < <= > >=,
 * [NOT] BETWEEN … AND …, [NOT] IN (…), IS [NOT] NULL, AND, OR, NOT, parentheses, TRUE/FALSE,
 * string literals in single quotes ('' escapes a quote) and numeric literals.
 *
 * Semantics follow RocketMQ: properties are strings; a comparison with a number reads the
 * property as a number and is false when it is missing or not numeric; strings compare with =
 * and <> only; anything with a missing property is false (NOT of it too, as SQL's NULL).
 * Parsed once at subscribe time; a bad expression throws SubscriptionParseError naming the
 * position. Expressions are bounded in length and nesting.
 */
export const MAX_SQL_LENGTH = Limits.maxSql92Length;
const MAX_DEPTH = Limits.maxSql92Depth;

type Value = string | number | null;
/** Three-valued logic: true, false, or unknown (null), as SQL does with missing values. */
type Truth = boolean | null;
type Node = (p: Properties) => Truth;
type Operand = (p: Properties) => Value;

interface Token {
  kind: "ident" | "string" | "number" | "op" | "lparen" | "rparen" | "comma" | "end";
  text: string;
  value?: string | number;
  at: number;
}

const KEYWORDS = new Set(["AND", "OR", "NOT", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE"]);

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new SubscriptionParseError(`SQL92 filter: ${why} at position ${i + 1} of "${src.slice(0, 200)}"`);
  };
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const at = i;
    if (c === "(") out.push({ kind: "lparen", text: c, at: i++ });
    else if (c === ")") out.push({ kind: "rparen", text: c, at: i++ });
    else if (c === ",") out.push({ kind: "comma", text: c, at: i++ });
    else if (c === "'") {
      let s = "";
      i++;
      for (;;) {
        if (i >= src.length) fail("unterminated string");
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i++];
      }
      out.push({ kind: "string", text: s, value: s, at });
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9.]/.test(src[i + 1] ?? "") && !lastIsOperand(out)) || (c === "." && /[0-9]/.test(src[i + 1] ?? ""))) {
      const m = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(src.slice(i))!;
      i += m[0].length;
      out.push({ kind: "number", text: m[0], value: Number(m[0]), at });
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$.]*/.exec(src.slice(i))!;
      i += m[0].length;
      out.push({ kind: "ident", text: m[0], at });
    } else {
      const m = /^(<>|!=|<=|>=|=|<|>)/.exec(src.slice(i));
      if (!m) fail(`unexpected character "${c}"`);
      i += m![0].length;
      out.push({ kind: "op", text: m![0], at });
    }
  }
  out.push({ kind: "end", text: "end of expression", at: src.length });
  return out;
}

function lastIsOperand(tokens: Token[]): boolean {
  const t = tokens.at(-1);
  return t !== undefined && (t.kind === "number" || t.kind === "string" || t.kind === "rparen" || (t.kind === "ident" && !KEYWORDS.has(t.text.toUpperCase())));
}

class Parser {
  #pos = 0;
  #depth = 0;
  constructor(private readonly src: string, private readonly tokens: Token[]) {}

  parse(): Node {
    const n = this.#or();
    if (this.#peek().kind !== "end") this.#fail(`unexpected "${this.#peek().text}"`);
    return n;
  }

  // The cursor never moves past the closing "end" token, so a rule that consumes what it
  // expected (a bare `a`, `'x'`, `NOT a`) meets "end" and fails with a parse error.
  #peek(): Token {
    return this.tokens[Math.min(this.#pos, this.tokens.length - 1)];
  }

  #next(): Token {
    const t = this.#peek();
    if (t.kind !== "end") this.#pos++;
    return t;
  }

  #isKeyword(word: string): boolean {
    const t = this.#peek();
    return t.kind === "ident" && t.text.toUpperCase() === word;
  }

  #expectKeyword(word: string): void {
    if (!this.#isKeyword(word)) this.#fail(`expected ${word}`);
    this.#pos++;
  }

  #fail(why: string): never {
    const t = this.#peek();
    throw new SubscriptionParseError(`SQL92 filter: ${why} at position ${t.at + 1} (found "${t.text}") in "${this.src.slice(0, 200)}"`);
  }

  #or(): Node {
    let left = this.#and();
    while (this.#isKeyword("OR")) {
      this.#pos++;
      const l = left;
      const r = this.#and();
      left = (p) => {
        const a = l(p);
        if (a === true) return true;
        const b = r(p);
        if (b === true) return true;
        return a === null || b === null ? null : false;
      };
    }
    return left;
  }

  #and(): Node {
    let left = this.#not();
    while (this.#isKeyword("AND")) {
      this.#pos++;
      const l = left;
      const r = this.#not();
      left = (p) => {
        const a = l(p);
        if (a === false) return false;
        const b = r(p);
        if (b === false) return false;
        return a === null || b === null ? null : true;
      };
    }
    return left;
  }

  #not(): Node {
    if (this.#isKeyword("NOT")) {
      this.#pos++;
      const inner = this.#not();
      return (p) => {
        const v = inner(p);
        return v === null ? null : !v;
      };
    }
    return this.#predicate();
  }

  #predicate(): Node {
    if (++this.#depth > MAX_DEPTH) this.#fail(`nesting deeper than ${MAX_DEPTH}`);
    try {
      const t = this.#peek();
      if (t.kind === "lparen") {
        this.#pos++;
        const inner = this.#or();
        if (this.#peek().kind !== "rparen") this.#fail("expected )");
        this.#pos++;
        return inner;
      }
      if (this.#isKeyword("TRUE")) {
        this.#pos++;
        return () => true;
      }
      if (this.#isKeyword("FALSE")) {
        this.#pos++;
        return () => false;
      }
      const left = this.#operand();
      if (this.#isKeyword("IS")) {
        this.#pos++;
        const negate = this.#isKeyword("NOT") ? (this.#pos++, true) : false;
        this.#expectKeyword("NULL");
        return (p) => (left(p) === null) !== negate;
      }
      const negate = this.#isKeyword("NOT") ? (this.#pos++, true) : false;
      if (this.#isKeyword("BETWEEN")) {
        this.#pos++;
        const lo = this.#operand();
        this.#expectKeyword("AND");
        const hi = this.#operand();
        return (p) => {
          const v = compare(left(p), ">=", lo(p));
          const w = compare(left(p), "<=", hi(p));
          const r = v === null || w === null ? null : v && w;
          return r === null ? null : r !== negate;
        };
      }
      if (this.#isKeyword("IN")) {
        this.#pos++;
        if (this.#next().kind !== "lparen") this.#fail("expected ( after IN");
        const items: Operand[] = [this.#literal()];
        while (this.#peek().kind === "comma") {
          this.#pos++;
          items.push(this.#literal());
        }
        if (this.#next().kind !== "rparen") this.#fail("expected ) to close IN");
        return (p) => {
          const v = left(p);
          if (v === null) return null;
          const hit = items.some((it) => compare(v, "=", it(p)) === true);
          return hit !== negate;
        };
      }
      if (negate) this.#fail("expected BETWEEN or IN after NOT");
      const op = this.#next();
      if (op.kind !== "op") this.#fail("expected a comparison (=, <>, <, <=, >, >=), IS, IN or BETWEEN");
      const right = this.#operand();
      const o = op.text === "!=" ? "<>" : op.text;
      return (p) => compare(left(p), o, right(p));
    } finally {
      this.#depth--;
    }
  }

  #literal(): Operand {
    const t = this.#peek();
    if (t.kind !== "string" && t.kind !== "number") this.#fail("expected a string or number literal");
    this.#pos++;
    const v = t.value!;
    return () => v;
  }

  #operand(): Operand {
    const t = this.#peek();
    if (t.kind === "string" || t.kind === "number") {
      this.#pos++;
      const v = t.value!;
      return () => v;
    }
    if (t.kind === "ident" && !KEYWORDS.has(t.text.toUpperCase())) {
      this.#pos++;
      const name = t.text;
      return (p) => p[name] ?? null;
    }
    this.#fail("expected a property name or a literal");
  }
}

function compare(a: Value, op: string, b: Value): Truth {
  if (a === null || b === null) return null;
  if (typeof a === "number" || typeof b === "number") {
    const x = typeof a === "number" ? a : toNumber(a);
    const y = typeof b === "number" ? b : toNumber(b);
    if (x === null || y === null) return false;
    switch (op) {
      case "=": return x === y;
      case "<>": return x !== y;
      case "<": return x < y;
      case "<=": return x <= y;
      case ">": return x > y;
      case ">=": return x >= y;
    }
    return false;
  }
  if (op === "=") return a === b;
  if (op === "<>") return a !== b;
  return false; // RocketMQ orders numbers only
}

function toNumber(s: string): number | null {
  if (!/^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(s)) return null;
  return Number(s);
}

/** Parses `expression` once; the result tells whether a message's properties match. */
export function compileSql92(expression: string): (properties: Properties) => boolean {
  if (typeof expression !== "string" || expression.trim() === "") throw new SubscriptionParseError("SQL92 filter is empty");
  if (expression.length > MAX_SQL_LENGTH) {
    throw new SubscriptionParseError(`SQL92 filter is ${expression.length} characters; at most ${MAX_SQL_LENGTH} allowed`);
  }
  const node = new Parser(expression, tokenize(expression)).parse();
  return (p) => node(p) === true;
}
