import { InvalidParameterError } from "./errors.ts";

/**
 * Checkers for values that come from outside (a request body, a metadata file): each validates
 * a value and returns it typed, or throws InvalidParameterError naming the path and the rule.
 */

/** Validates `v` (found at `path`) and returns it typed, or throws naming the path and the rule. */
export type Check<T> = (v: unknown, path: string) => T;

const fail = (path: string, rule: string, v: unknown): never => {
  // A bigint (CBOR's large integers) is shown as digits: JSON.stringify would throw on it.
  const shown = v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "a map" : typeof v === "bigint" ? `${v}`.slice(0, 40) : JSON.stringify(v)?.slice(0, 40) ?? String(v);
  throw new InvalidParameterError(`${path} must be ${rule}, got ${shown}`);
};

type Simplify<T> = { [K in keyof T]: T[K] } & unknown;
/** The value `check.object(shape)` returns: required keys, and optional ones for checkers that allow undefined. */
export type ObjectOf<S extends Record<string, Check<unknown>>> = Simplify<
  & { [K in keyof S as undefined extends ReturnType<S[K]> ? never : K]: ReturnType<S[K]> }
  & { [K in keyof S as undefined extends ReturnType<S[K]> ? K : never]?: Exclude<ReturnType<S[K]>, undefined> }
>;

export const check = {
  string: (): Check<string> => (v, p) => typeof v === "string" ? v : fail(p, "a string", v),
  int: (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Check<number> => (v, p) => {
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n === "number" && Number.isSafeInteger(n) && n >= min && n <= max) return n;
    const range = min === Number.MIN_SAFE_INTEGER ? (max === Number.MAX_SAFE_INTEGER ? "" : ` ≤ ${max}`) : max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` in ${min}..${max}`;
    return fail(p, `an integer${range}`, v);
  },
  bool: (): Check<boolean> => (v, p) => typeof v === "boolean" ? v : fail(p, "true or false", v),
  number: (): Check<number> => (v, p) => typeof v === "number" && Number.isFinite(v) ? v : fail(p, "a finite number", v),
  /** One of these strings. */
  oneOf: <T extends string>(values: readonly T[]): Check<T> => (v, p) => typeof v === "string" && (values as readonly string[]).includes(v) ? v as T : fail(p, `one of ${values.join(", ")}`, v),
  /** Absent (undefined or null) is allowed. */
  optional: <T>(c: Check<T>): Check<T | undefined> => (v, p) => v === undefined || v === null ? undefined : c(v, p),
  array: <T>(c: Check<T>, max: number): Check<T[]> => (v, p) => {
    if (!Array.isArray(v)) return fail(p, "an array", v);
    if (v.length > max) return fail(p, `an array of at most ${max} entries`, `${v.length} entries`);
    return v.map((x, i) => c(x, `${p}[${i}]`));
  },
  record: <T>(c: Check<T>, max: number): Check<Record<string, T>> => (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return fail(p, "a map", v);
    const keys = Object.keys(v);
    if (keys.length > max) return fail(p, `a map of at most ${max} entries`, `${keys.length} entries`);
    const out: Record<string, T> = {};
    for (const k of keys) out[k] = c((v as Record<string, unknown>)[k], `${p}.${k}`);
    return out;
  },
  /** A map with these fields; a field whose checker allows undefined is an optional key. */
  object: <S extends Record<string, Check<unknown>>>(shape: S): Check<ObjectOf<S>> => (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return fail(p, "a map", v);
    const out: Record<string, unknown> = {};
    for (const [k, c] of Object.entries(shape)) {
      const x = c((v as Record<string, unknown>)[k], `${p}.${k}`);
      if (x !== undefined) out[k] = x;
    }
    return out as ObjectOf<S>;
  },
};

