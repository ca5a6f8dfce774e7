import { errorFromResponse } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { ResponseCode } from "../common/response_code.ts";
import { PullMessageRequestHeader, PullMessageResponseHeader, PullSysFlag } from "../protocol/headers/pull_message_header.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import type { RemotingClient } from "../remoting/remoting_client.ts";
import { decodeMessages, type MessageExt, type MessageQueue, queueKeyOf } from "./message.ts";

/** What a pull found (RocketMQ's PullStatus). */
export type PullStatus = "FOUND" | "NO_NEW_MSG" | "NO_MATCHED_MSG" | "OFFSET_ILLEGAL";

export interface PullRequest {
  group: string;
  mq: MessageQueue;
  offset: number;
  maxMsgNums: number;
  /** The subscription: a tag expression or SQL92, and the tags to keep (checked again here, as the broker filters by hash). */
  expression: string;
  type: "TAG" | "SQL92";
  tags?: ReadonlySet<string>;
  /** How long the broker may hold the pull waiting for a message (0: answer at once). */
  suspendMs: number;
  /** The consumer's committed offset, carried along (push consumers in clustering mode). */
  commitOffset?: number;
}

export interface PullResult {
  status: PullStatus;
  /** Where the next pull of this queue starts. */
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /** The replica the broker suggests pulling from next (0: the master). */
  suggestWhichBrokerId: number;
  /** The messages found that match the tags, decoded. */
  messages: MessageExt[];
}

const STATUS: Record<number, PullStatus> = {
  [ResponseCode.SUCCESS]: "FOUND",
  [ResponseCode.PULL_NOT_FOUND]: "NO_NEW_MSG",
  [ResponseCode.PULL_RETRY_IMMEDIATELY]: "NO_MATCHED_MSG",
  [ResponseCode.PULL_OFFSET_MOVED]: "OFFSET_ILLEGAL",
};

/**
 * One PULL_MESSAGE (RocketMQ's PullAPIWrapper), shared by the push and pull consumers. Waits
 * the broker's hold plus `timeoutMs`. A refusal (no permission, no such topic, a bad filter)
 * throws the error of its code; a transport failure throws a RemotingError.
 */
export async function pullMessage(remoting: RemotingClient, addr: string, req: PullRequest, timeoutMs: number): Promise<PullResult> {
  const header = PullMessageRequestHeader.encode({
    consumerGroup: req.group,
    topic: req.mq.topic,
    queueId: req.mq.queueId,
    queueOffset: req.offset,
    maxMsgNums: req.maxMsgNums,
    sysFlag: (req.suspendMs > 0 ? PullSysFlag.SUSPEND : 0) | (req.commitOffset !== undefined ? PullSysFlag.COMMIT_OFFSET : 0),
    commitOffset: req.commitOffset ?? -1,
    suspendTimeoutMillis: req.suspendMs,
    subscription: req.expression,
    expressionType: req.type,
  });
  // The broker may hold this pull for the whole suspend time: waiting only timeoutMs would
  // abandon held pulls on idle queues (RocketMQ: consumerTimeoutMillisWhenSuspend).
  const resp = await remoting.invoke(addr, createRequest(RequestCode.PULL_MESSAGE, header), req.suspendMs + timeoutMs);
  const status = STATUS[resp.code];
  if (!status) throw errorFromResponse(resp.code, resp.remark, `PULL_MESSAGE of ${queueKeyOf(req.mq)}`, addr);
  const h = PullMessageResponseHeader.decode(resp);
  let messages: MessageExt[] = [];
  if (status === "FOUND") {
    messages = decodeMessages(resp.body, req.mq.brokerName, Limits.maxMessageSize * 2);
    const tags = req.tags;
    if (tags) messages = messages.filter((m) => m.tags !== undefined && tags.has(m.tags));
  }
  return { status, nextBeginOffset: h.nextBeginOffset, minOffset: h.minOffset, maxOffset: h.maxOffset, suggestWhichBrokerId: h.suggestWhichBrokerId ?? 0, messages };
}
