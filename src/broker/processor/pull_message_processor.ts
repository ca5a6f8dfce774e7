import { validateGroup } from "../../common/names.ts";
import { ResponseCode } from "../../common/response_code.ts";
import { Perm } from "../../common/route.ts";
import { totalMemoryBytes } from "../../platform/runtime.ts";
import { createResponse, extInt, extString, type RemotingCommand, successResponse } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import type { RemotingConnection } from "../../remoting/remoting_connection.ts";
import { concatBytes } from "../../util/bytes.ts";
import type { BrokerContext } from "../broker_context.ts";
import { sqlFilter, tagFilter } from "../tag_filter.ts";
import { topicQueue } from "./_request.ts";
import type { ProcessorEntry } from "./processor_table.ts";

/** Per-pull caps, whatever the client asks. */
const MAX_PULL_MESSAGES = 1024;
const MAX_PULL_BYTES = 4 * 1024 * 1024;

/**
 * RocketMQ's PullMessageProcessor: reads a queue from an offset, filters by tag or SQL92, and
 * holds the pull (long polling) until a message arrives, the hold ends or the client leaves.
 */
export function pullMessageProcessor(ctx: BrokerContext): ProcessorEntry[] {
  return [{ code: RequestCode.PULL_MESSAGE, handle: (r, c) => pull(ctx, r, c) }];
}

async function pull(ctx: BrokerContext, req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand> {
  const group = extString(req, "consumerGroup");
  validateGroup(group);
  const [topic, queueId] = topicQueue(req);
  const tc = ctx.topics.get(topic);
  if (!tc) return createResponse(ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist`);
  if ((tc.perm & Perm.READ) === 0) return createResponse(ResponseCode.NO_PERMISSION, `the topic[${topic}] pulling is forbidden`);
  const offset = extInt(req, "queueOffset");
  const maxMsgs = Math.min(MAX_PULL_MESSAGES, Math.max(1, extInt(req, "maxMsgNums", false) ?? 32));
  const maxBytes = Math.min(MAX_PULL_BYTES, Math.max(1, extInt(req, "maxMsgBytes", false) ?? MAX_PULL_BYTES));
  const sysFlag = extInt(req, "sysFlag", false) ?? 0;
  const expressionType = extString(req, "expressionType", false) ?? "TAG";
  const subscription = extString(req, "subscription", false);
  const byTag = expressionType === "SQL92" ? () => true : tagFilter(subscription);
  const bySql = expressionType === "SQL92" ? sqlFilter(subscription ?? "") : undefined;
  if (expressionType !== "TAG" && expressionType !== "SQL92") {
    return createResponse(ResponseCode.SUBSCRIPTION_PARSE_FAILED, `expressionType must be TAG or SQL92, got ${expressionType}`);
  }
  if (sysFlag & 1) {
    const commit = extInt(req, "commitOffset", false);
    if (commit !== undefined && commit >= 0) ctx.slaveSync.commitOffset(group, topic, queueId, commit);
  }
  const suspendMs = sysFlag & 2 ? Math.min(ctx.config.maxSuspendTimeoutMillis, Math.max(0, extInt(req, "suspendTimeoutMillis", false) ?? 15_000)) : 0;
  const deadline = Date.now() + suspendMs;
  let released = false;
  for (;;) {
    const r = ctx.store.getMessage(topic, queueId, offset, maxMsgs, maxBytes);
    const ext = { nextBeginOffset: r.nextBeginOffset, minOffset: r.minOffset, maxOffset: r.maxOffset, suggestWhichBrokerId: 0 };
    if (r.status === "FOUND") {
      const last = r.units[r.units.length - 1];
      ext.suggestWhichBrokerId = suggestBroker(ctx, ctx.store.commitLogMaxOffset - (last.physicalOffset + last.size));
      ctx.stats.pullsFound++;
      const keep = r.messages.filter((raw, i) => byTag(r.units[i].tagsCode) && (!bySql || bySql(raw)));
      if (keep.length === 0) return createResponse(ResponseCode.PULL_RETRY_IMMEDIATELY, "no message matched the filter", ext);
      return successResponse(ext, keep.length === r.messages.length && r.body ? r.body : concatBytes(keep));
    }
    if (r.status === "OFFSET_TOO_SMALL" || r.status === "OFFSET_OVERFLOW_BADLY") {
      return createResponse(ResponseCode.PULL_OFFSET_MOVED, `offset ${offset} is outside ${r.minOffset}..${r.maxOffset}`, ext);
    }
    if (r.status === "OFFSET_FOUND_NULL") return createResponse(ResponseCode.PULL_RETRY_IMMEDIATELY, undefined, ext);
    const left = deadline - Date.now();
    if (left <= 0 || ctx.shuttingDown || conn.isClosed || released) {
      return createResponse(ResponseCode.PULL_NOT_FOUND, undefined, { ...ext, nextBeginOffset: offset });
    }
    const woken = await ctx.holds.wait(topic, queueId, offset, left, conn);
    // Woken because the client went away: look once more, then answer without holding again.
    released = woken && ctx.holds.wasReleased(conn);
  }
}

/**
 * Where this consumer should pull next (RocketMQ's suggestWhichBrokerId): a slave while it is
 * far behind the log's end (reading old data would compete with the master's writes for the
 * disk), the master otherwise. Only with slaveReadEnable.
 */
function suggestBroker(ctx: BrokerContext, lagBytes: number): number {
  const c = ctx.config;
  if (!c.slaveReadEnable) return 0;
  const far = lagBytes > (c.consumeSlowlyLagBytes > 0 ? c.consumeSlowlyLagBytes : totalMemoryBytes() * c.accessMessageInMemoryMaxRatio / 100);
  if (!far) return 0;
  return ctx.role.isSlave ? c.brokerId : c.whichBrokerWhenConsumeSlowly;
}
