import { InvalidParameterError } from "../../common/errors.ts";
import type { ExtFields, ExtValue, RemotingCommand } from "../remoting_command.ts";

/**
 * The typed wire contract: each request and response header is declared once, as a schema of
 * its fields with RocketMQ's names, and the codec built from it is shared by every sender and
 * receiver. Decoding validates once and fails with INVALID_PARAMETER naming the header, the
 * field and the rule it broke; a value may arrive in its native CBOR type or as the string a
 * JSON header carries.
 */

interface FieldRule {
  /** The field's name on the wire when it differs from the property (SEND_MESSAGE_V2's one-letter names). */
  wire?: string;
  optional?: boolean;
}
export interface StringField extends FieldRule {
  kind: "string";
  minLength?: number;
  maxLength?: number;
}
export interface IntField extends FieldRule {
  kind: "int";
  min?: number;
  max?: number;
}
export interface BoolField extends FieldRule {
  kind: "bool";
}
/** Text that may travel as UTF-8 bytes (CBOR, as the store writes it) or as a string (JSON). */
export interface TextField extends FieldRule {
  kind: "text";
}
export type Field = StringField | IntField | BoolField | TextField;
export type Schema = Record<string, Field>;

type ValueOf<F extends Field> = F extends StringField ? string : F extends IntField ? number : F extends BoolField ? boolean : string | Uint8Array;
type Required<S extends Schema> = { [K in keyof S as S[K]["optional"] extends true ? never : K]: ValueOf<S[K]> };
type Optional<S extends Schema> = { [K in keyof S as S[K]["optional"] extends true ? K : never]?: ValueOf<S[K]> };
/** The typed header a schema describes: required fields always present, optional ones maybe. */
export type HeaderOf<S extends Schema> = Required<S> & Optional<S>;

/** Field builders: `string()`, `int({ min, max })`, `bool()`, `text()`, each `{ optional: true }` where the field may be absent. */
export const field = {
  string: (rule: Omit<StringField, "kind"> = {}): StringField => ({ kind: "string", ...rule }),
  int: (rule: Omit<IntField, "kind"> = {}): IntField => ({ kind: "int", ...rule }),
  bool: (rule: Omit<BoolField, "kind"> = {}): BoolField => ({ kind: "bool", ...rule }),
  text: (rule: Omit<TextField, "kind"> = {}): TextField => ({ kind: "text", ...rule }),
};

/** Marks a field as one that may be absent. */
export function optional<F extends Field>(f: F): F & { optional: true } {
  return { ...f, optional: true };
}

/** One header's codec: from a command's extension fields to a typed object, and back. */
export interface HeaderCodec<T> {
  /** RocketMQ's class name, e.g. "SendMessageRequestHeader" (named in every error). */
  readonly name: string;
  /** Reads and validates the header of `cmd`; throws InvalidParameterError naming the field and the rule. */
  decode(cmd: RemotingCommand): T;
  /** The extension fields for `header` (absent optional fields are left out). */
  encode(header: T): ExtFields;
}

interface CompiledField {
  key: string;
  wire: string;
  rule: Field;
}

/** Builds the codec of the header `name` from its schema. */
export function defineHeader<S extends Schema>(name: string, schema: S): HeaderCodec<HeaderOf<S>> {
  const fields: CompiledField[] = Object.entries(schema).map(([key, rule]) => ({ key, wire: rule.wire ?? key, rule }));
  return {
    name,
    decode(cmd: RemotingCommand): HeaderOf<S> {
      const ext = cmd.extFields;
      const out: Record<string, unknown> = {};
      for (const f of fields) {
        const raw = ext?.[f.wire];
        if (raw === undefined || raw === null) {
          if (!f.rule.optional) throw new InvalidParameterError(`${name}: missing header field "${f.wire}"`);
          continue;
        }
        out[f.key] = valueOf(name, f, raw);
      }
      return out as HeaderOf<S>;
    },
    encode(header: HeaderOf<S>): ExtFields {
      const out: ExtFields = {};
      const h = header as Record<string, ExtValue | undefined>;
      for (const f of fields) {
        const v = h[f.key];
        if (v !== undefined) out[f.wire] = v;
      }
      return out;
    },
  };
}

/** A field's value in its type; this runs for every field of every request, so it allocates nothing on success. */
function valueOf(header: string, f: CompiledField, v: ExtValue): string | number | boolean | Uint8Array {
  const r = f.rule;
  switch (r.kind) {
    case "string":
      if (typeof v !== "string") return bad(header, f, v, "a string");
      if ((r.maxLength !== undefined && v.length > r.maxLength) || (r.minLength !== undefined && v.length < r.minLength)) {
        return bad(header, f, v, `${r.minLength ?? 0} to ${r.maxLength ?? "any number of"} characters`);
      }
      return v;
    case "text":
      if (typeof v !== "string" && !(v instanceof Uint8Array)) return bad(header, f, v, "text");
      return v;
    case "bool":
      if (v === true || v === "true") return true;
      if (v === false || v === "false") return false;
      return bad(header, f, v, "true or false");
    case "int": {
      const n = typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n)) return bad(header, f, v, "an integer");
      if ((r.min !== undefined && n < r.min) || (r.max !== undefined && n > r.max)) {
        return bad(header, f, v, r.max === undefined ? `an integer ≥ ${r.min}` : r.min === undefined ? `an integer ≤ ${r.max}` : `an integer in ${r.min}..${r.max}`);
      }
      return n;
    }
  }
}

function bad(header: string, f: CompiledField, v: ExtValue, rule: string): never {
  const shown = typeof v === "bigint" ? String(v) : v instanceof Uint8Array ? `${v.byteLength} bytes` : v;
  throw new InvalidParameterError(`${header}: header field "${f.wire}" must be ${rule}, got ${JSON.stringify(shown).slice(0, 40)}`);
}
