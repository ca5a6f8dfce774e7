import { ResponseCode } from "../common/response_code.ts";

/** Flag bits of the header (RocketMQ's RPC_TYPE and RPC_ONEWAY). */
export const FLAG_RESPONSE = 1;
export const FLAG_ONEWAY = 2;

/** RocketMQ's LanguageCode ordinal for this client. */
export const LANGUAGE_NODE_JS = 13;
/** Protocol version Bolide speaks: RocketMQ V4_9_8's ordinal, so version-gated JSON behaviour is the modern one. */
export const PROTOCOL_VERSION = 409;

/**
 * Custom header values. CBOR keeps their types (byte strings included, which let a message's
 * properties travel as the bytes the store writes); a JSON header carries every value as a string.
 */
export type ExtValue = string | number | boolean | bigint | Uint8Array;
export type ExtFields = Record<string, ExtValue>;

/** One request or response: RocketMQ's RemotingCommand. */
export interface RemotingCommand {
  code: number;
  flag: number;
  opaque: number;
  language?: number;
  version?: number;
  remark?: string;
  extFields?: ExtFields;
  /** Body bytes; a view into the received chunk where possible (never copied by the decoder). */
  body?: Uint8Array;
  /** The serialize type a decoded command arrived in; answers go back in the same type. */
  serializeType?: number;
  /** Why a decoded request's header fields are unusable (answered INVALID_PARAMETER, never processed). */
  headerError?: string;
}

export function createRequest(code: number, extFields?: ExtFields, body?: Uint8Array): RemotingCommand {
  const cmd: RemotingCommand = { code, flag: 0, opaque: 0 };
  if (extFields !== undefined) cmd.extFields = extFields;
  if (body !== undefined) cmd.body = body;
  return cmd;
}

export function createResponse(
  code: number,
  remark?: string,
  extFields?: ExtFields,
  body?: Uint8Array,
): RemotingCommand {
  const cmd: RemotingCommand = { code, flag: FLAG_RESPONSE, opaque: 0 };
  if (remark !== undefined) cmd.remark = remark;
  if (extFields !== undefined) cmd.extFields = extFields;
  if (body !== undefined) cmd.body = body;
  return cmd;
}

export function successResponse(extFields?: ExtFields, body?: Uint8Array): RemotingCommand {
  return createResponse(ResponseCode.SUCCESS, undefined, extFields, body);
}

export const isResponse = (cmd: RemotingCommand): boolean => (cmd.flag & FLAG_RESPONSE) !== 0;
export const isOneway = (cmd: RemotingCommand): boolean => (cmd.flag & FLAG_ONEWAY) !== 0;
