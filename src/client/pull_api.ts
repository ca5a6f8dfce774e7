import { errorFromResponse } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { ResponseCode } from "../common/response_code.ts";
import { PullMessageRequestHeader, PullMessageResponseHeader, PullSysFlag } from "../protocol/headers/pull_message_header.ts";
import { createRequest, type RemotingCommand } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
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
 * One PULL_MESSAGE (RocketMQ's PullAPIWrapper), shared by the push and pull consumers, in two
 * synchronous halves around the caller's own `await remoting.invoke(...)`:
 *
 *     const call = pullRequest(req, timeoutMs);
 *     const r = readPullResult(await remoting.invoke(addr, call.command, call.waitMs), req, addr);
 *
 * Not one async function: its extra promise hops between the answer and the consumer cost
 * ~12 % of the client's CPU per message on the consume benchmark (measured against the inline
 * form; `docs/benchmarks.md`), as the answer then waits behind the next socket reads.
 */
export function pullRequest(req: PullRequest, timeoutMs: number): { command: RemotingCommand; waitMs: number } {
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
  return { command: createRequest(RequestCode.PULL_MESSAGE, header), waitMs: req.suspendMs + timeoutMs };
}

/**
 * The answer to `pullRequest(req)` from `addr`, its messages decoded and filtered by tag. A
 * refusal (no permission, no such topic, a bad filter) throws the error of its code.
 */
export function readPullResult(resp: RemotingCommand, req: PullRequest, addr: string): PullResult {
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
