import { Limits, PushConsumerDefaults } from "../../common/limits.ts";
import { validateGroup, validateTopic } from "../../common/names.ts";
import { ResponseCode } from "../../common/response_code.ts";
import { Perm } from "../../common/route.ts";
import { totalMemoryBytes } from "../../platform/runtime.ts";
import { PullMessageRequestHeader, PullMessageResponseHeader, PullSysFlag } from "../../protocol/headers/pull_message_header.ts";
import { createResponse, type RemotingCommand } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import type { RemotingConnection } from "../../remoting/remoting_connection.ts";
import { concatBytes } from "../../util/bytes.ts";
import type { BrokerContext } from "../broker_context.ts";
import { sqlFilter, tagFilter } from "../tag_filter.ts";
import type { ProcessorEntry } from "./processor_table.ts";

/**
 * RocketMQ's PullMessageProcessor: reads a queue from an offset, filters by tag or SQL92, and
 * holds the pull (long polling) until a message arrives, the hold ends or the client leaves.
 */
export function pullMessageProcessor(ctx: BrokerContext): ProcessorEntry[] {
  return [{ code: RequestCode.PULL_MESSAGE, handle: (r, c) => pull(ctx, r, c) }];
}

function pull(ctx: BrokerContext, req: RemotingCommand, conn: RemotingConnection): RemotingCommand | Promise<RemotingCommand> {
  const h = PullMessageRequestHeader.decode(req);
  const { consumerGroup: group, topic, queueId, queueOffset: offset } = h;
  validateGroup(group);
  validateTopic(topic);
  const refused = ctx.groups.consumeRefusal(group, () => ctx.clients.messageModelOf(group) === "BROADCASTING");
  if (refused) return createResponse(refused.code, refused.remark);
  const tc = ctx.topics.get(topic);
  if (!tc) return createResponse(ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist`);
  if ((tc.perm & Perm.READ) === 0) return createResponse(ResponseCode.NO_PERMISSION, `the topic[${topic}] pulling is forbidden`);
  const maxMsgs = Math.min(Limits.maxPullMessages, Math.max(1, h.maxMsgNums ?? PushConsumerDefaults.pullBatchSize));
  const maxBytes = Math.min(Limits.maxPullBytes, Math.max(1, h.maxMsgBytes ?? Limits.maxPullBytes));
  const sysFlag = h.sysFlag ?? 0;
  const expressionType = h.expressionType ?? "TAG";
  const subscription = h.subscription;
  const byTag = expressionType === "SQL92" ? () => true : tagFilter(subscription);
  const bySql = expressionType === "SQL92" ? sqlFilter(subscription ?? "") : undefined;
  if (expressionType !== "TAG" && expressionType !== "SQL92") {
    return createResponse(ResponseCode.SUBSCRIPTION_PARSE_FAILED, `expressionType must be TAG or SQL92, got ${expressionType}`);
  }
  if (sysFlag & PullSysFlag.COMMIT_OFFSET) {
    const commit = h.commitOffset;
    if (commit !== undefined && commit >= 0) ctx.slaveSync.commitOffset(group, topic, queueId, commit);
  }
  const suspendMs = sysFlag & PullSysFlag.SUSPEND
    ? Math.min(ctx.config.maxSuspendTimeoutMillis, Math.max(0, h.suspendTimeoutMillis ?? PushConsumerDefaults.brokerSuspendMaxTimeMs))
    : 0;
  const deadline = Date.now() + suspendMs;

  /** One look at the queue: the answer, or undefined when there is nothing yet and time is left to hold. */
  const look = (released: boolean): RemotingCommand | undefined => {
    const r = ctx.store.getMessage(topic, queueId, offset, maxMsgs, maxBytes);
    const ext = { nextBeginOffset: r.nextBeginOffset, minOffset: r.minOffset, maxOffset: r.maxOffset, suggestWhichBrokerId: 0 };
    const answer = (code: number, remark?: string, body?: Uint8Array) => createResponse(code, remark, PullMessageResponseHeader.encode(ext), body);
    if (r.status === "FOUND") {
      const last = r.units[r.units.length - 1];
      ext.suggestWhichBrokerId = suggestBroker(ctx, group, ctx.store.commitLogMaxOffset - (last.physicalOffset + last.size));
      ctx.stats.pullsFound++;
      const keep = r.messages.filter((raw, i) => byTag(r.units[i].tagsCode) && (!bySql || bySql(raw)));
      if (keep.length === 0) return answer(ResponseCode.PULL_RETRY_IMMEDIATELY, "no message matched the filter");
      const body = keep.length === r.messages.length && r.body ? r.body : concatBytes(keep);
      ctx.statsManager.got(topic, group, keep.length, body.byteLength);
      return answer(ResponseCode.SUCCESS, undefined, body);
    }
    if (r.status === "OFFSET_TOO_SMALL" || r.status === "OFFSET_OVERFLOW_BADLY") {
      return answer(ResponseCode.PULL_OFFSET_MOVED, `offset ${offset} is outside ${r.minOffset}..${r.maxOffset}`);
    }
    if (r.status === "OFFSET_FOUND_NULL") return answer(ResponseCode.PULL_RETRY_IMMEDIATELY);
    if (deadline - Date.now() <= 0 || ctx.shuttingDown || conn.isClosed || released) {
      ext.nextBeginOffset = offset;
      return answer(ResponseCode.PULL_NOT_FOUND);
    }
    return undefined;
  };
  // The usual case answers at once, so its answer is queued before the next request is read:
  // a client that does not read its answers is stopped after one backlog's worth.
  if (conn.writable) {
    const now = look(false);
    if (now !== undefined) return now;
  }
  return holdThenLook(ctx, req, conn, look, { topic, queueId, offset, group, deadline, looked: conn.writable });
}

/**
 * Long polling: waits for a message (or the end of the hold, or the client going away) and for
 * room in the connection's backlog, then looks again. The answer's size is reserved on the
 * connection until it is queued, so pulls woken together cannot overshoot the backlog.
 */
async function holdThenLook(
  ctx: BrokerContext,
  req: RemotingCommand,
  conn: RemotingConnection,
  look: (released: boolean) => RemotingCommand | undefined,
  q: { topic: string; queueId: number; offset: number; group: string; deadline: number; looked: boolean },
): Promise<RemotingCommand> {
  let released = false;
  let mustWait = q.looked;
  for (;;) {
    if (mustWait) {
      const left = q.deadline - Date.now();
      // Released because the client went away: look once more, then answer without holding again.
      if (left > 0 && !released && !ctx.shuttingDown) {
        released = await ctx.holds.wait(q.topic, q.queueId, q.offset, left, conn, q.group) === "released";
      }
    }
    mustWait = true;
    // Checked again after every wait: pulls woken together must not all see the same room.
    while (!conn.writable && !conn.isClosed) await conn.whenWritable();
    if (conn.isClosed) return createResponse(ResponseCode.SYSTEM_ERROR, "connection closed");
    const answer = look(released || q.deadline - Date.now() <= 0);
    if (answer === undefined) continue;
    if (answer.body) conn.reserveAnswer(req, answer.body.byteLength);
    return answer;
  }
}

/**
 * Where this consumer should pull next (RocketMQ's suggestWhichBrokerId): a slave while it is
 * far behind the log's end (reading old data would compete with the master's writes for the
 * disk), the master otherwise. Only with slaveReadEnable; which slave is the group's
 * whichBrokerWhenConsumeSlowly (the broker's setting for an auto-created group).
 */
function suggestBroker(ctx: BrokerContext, group: string, lagBytes: number): number {
  const c = ctx.config;
  if (!c.slaveReadEnable) return 0;
  const far = lagBytes > (c.consumeSlowlyLagBytes > 0 ? c.consumeSlowlyLagBytes : totalMemoryBytes() * c.accessMessageInMemoryMaxRatio / 100);
  if (!far) return 0;
  return ctx.role.isSlave ? c.brokerId : ctx.groups.get(group)?.whichBrokerWhenConsumeSlowly ?? c.whichBrokerWhenConsumeSlowly;
}
