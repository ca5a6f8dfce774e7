import { errorFromResponse, InvalidParameterError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { MessageProperty } from "../common/message.ts";
import { parseOffsetMsgId } from "../common/message_id.ts";
import { validateTopic } from "../common/names.ts";
import { ResponseCode } from "../common/response_code.ts";
import { MASTER_ID } from "../common/route.ts";
import { QueryMessageRequestHeader, ViewMessageRequestHeader } from "../protocol/headers/query_message_header.ts";
import { createRequest, type RemotingCommand } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import { decodeMessages, type MessageExt } from "./message.ts";
import { ClientInstance } from "./client_instance.ts";
import type { NameServerClient } from "./name_server_client.ts";

export interface MessageQueryOptions {
  namesrvAddr: string | string[];
  timeoutMs?: number;
  /** Largest body a compressed message may inflate to. */
  maxBodyBytes?: number;
}

export interface KeyQuery {
  /** Store time range, ms since the epoch (inclusive); default: all time. */
  begin?: number;
  end?: number;
  /** At most this many messages from each broker (1..64, default 32). */
  maxNum?: number;
}

/** The broker caps one answer at this many messages. */
const MAX_PER_BROKER = Limits.maxQueryMessages;

/**
 * Looks messages up after the fact (RocketMQ's queryMessage / viewMessage): by a key the
 * producer set (`keys`), by the unique id a send returned (`SendResult.msgId`), or by the offset
 * id (`SendResult.offsetMsgId`, which names the broker and the CommitLog position). Keys and
 * unique ids go through each broker's IndexFile, so they work after restarts for as long as
 * the records are retained.
 */
export class MessageQuery {
  readonly #instance: ClientInstance;
  readonly #remoting: RemotingClient;
  readonly #namesrv: NameServerClient;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;

  constructor(opts: MessageQueryOptions) {
    this.#instance = ClientInstance.acquire({ namesrvAddr: opts.namesrvAddr, timeoutMs: opts.timeoutMs });
    this.#remoting = this.#instance.remoting;
    this.#namesrv = this.#instance.namesrv;
    this.#timeoutMs = opts.timeoutMs ?? Limits.defaultInvokeTimeoutMs;
    this.#maxBodyBytes = opts.maxBodyBytes ?? Limits.maxMessageSize;
  }

  /**
   * Messages of `topic` carrying `key` (one of their keys, or their unique id), stored within
   * the range, from every broker serving the topic; newest first.
   */
  async queryByKey(topic: string, key: string, q: KeyQuery = {}): Promise<MessageExt[]> {
    validateTopic(topic);
    if (typeof key !== "string" || key.length === 0 || key.includes(" ")) {
      throw new InvalidParameterError(`A query key must be one non-empty word, got ${JSON.stringify(key)}`);
    }
    const maxNum = q.maxNum ?? 32;
    if (!Number.isInteger(maxNum) || maxNum < 1 || maxNum > MAX_PER_BROKER) {
      throw new InvalidParameterError(`maxNum must be an integer from 1 to ${MAX_PER_BROKER}, got ${maxNum}`);
    }
    const begin = q.begin ?? 0;
    const end = q.end ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isFinite(begin) || !Number.isFinite(end) || begin > end) {
      throw new InvalidParameterError(`The time range must have begin ≤ end, got ${begin}..${end}`);
    }
    const brokers = await this.#brokersOf(topic);
    const answers = await Promise.all(brokers.map(async ({ brokerName, addr }) => {
      const resp = await this.#remoting.invoke(addr, createRequest(RequestCode.QUERY_MESSAGE, QueryMessageRequestHeader.encode({
        topic,
        key,
        maxNum,
        beginTimestamp: Math.max(0, Math.floor(begin)),
        endTimestamp: Math.min(Number.MAX_SAFE_INTEGER, Math.ceil(end)),
      })), this.#timeoutMs);
      if (resp.code === ResponseCode.QUERY_NOT_FOUND) return [];
      this.#check(resp, "QUERY_MESSAGE");
      return decodeMessages(resp.body, brokerName, this.#maxBodyBytes);
    }));
    return answers.flat().sort((a, b) => b.storeTimestamp - a.storeTimestamp);
  }

  /**
   * The message of `topic` whose unique id (`SendResult.msgId`, property UNIQ_KEY) is `id`, or
   * undefined. A delayed or timer message is found once delivered to its topic.
   */
  async getByUniqueId(topic: string, id: string): Promise<MessageExt | undefined> {
    if (!/^[0-9A-F]{32}$/i.test(id)) throw new InvalidParameterError(`"${id.slice(0, 40)}" is not a unique message id (32 hex digits)`);
    const found = await this.queryByKey(topic, id.toUpperCase(), { maxNum: 8 });
    return found.find((m) => m.properties[MessageProperty.UNIQ_KEY] === id.toUpperCase());
  }

  /**
   * The message at an offset id (`SendResult.offsetMsgId`), read from the broker the id names;
   * undefined when that broker holds no record there (never written, or removed by retention).
   */
  async getByOffsetId(offsetMsgId: string): Promise<MessageExt | undefined> {
    const { addr, offset } = parseOffsetMsgId(offsetMsgId);
    const resp = await this.#remoting.invoke(addr, createRequest(RequestCode.VIEW_MESSAGE_BY_ID, ViewMessageRequestHeader.encode({ offset })), this.#timeoutMs);
    if (resp.code === ResponseCode.QUERY_NOT_FOUND) return undefined;
    this.#check(resp, "VIEW_MESSAGE_BY_ID");
    return decodeMessages(resp.body, "", this.#maxBodyBytes)[0];
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#instance.release();
  }

  #closed = false;

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  async #brokersOf(topic: string): Promise<{ brokerName: string; addr: string }[]> {
    const route = await this.#namesrv.getRoute(topic);
    const out: { brokerName: string; addr: string }[] = [];
    for (const b of route.brokerDatas) {
      const addr = b.brokerAddrs[String(MASTER_ID)] ?? Object.values(b.brokerAddrs)[0];
      if (addr) out.push({ brokerName: b.brokerName, addr });
    }
    return out;
  }

  #check(resp: RemotingCommand, what: string): void {
    if (resp.code !== ResponseCode.SUCCESS) throw errorFromResponse(resp.code, resp.remark, what);
  }
}
