import { InvalidParameterError, TopicNotExistError } from "../common/errors.ts";
import { ResponseCode } from "../common/response_code.ts";
import { validateGroup, validateTopic } from "../common/names.ts";
import { ResetOffsetBody, type ResetOffsetTable } from "../protocol/bodies/stats_bodies.ts";
import { ResetOffsetRequestHeader } from "../protocol/headers/consumer_header.ts";
import { createRequest, createResponse, type RemotingCommand, successResponse } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import type { BrokerContext } from "./broker_context.ts";

type ResetRequest = ReturnType<typeof ResetOffsetRequestHeader.decode>;

/**
 * INVOKE_BROKER_TO_RESET_OFFSET (RocketMQ's Broker2Client.resetOffset): moves a group's offsets
 * on one topic to the first message stored at or after a time (−1: the end, 0: the start), or
 * one queue to an exact offset. The broker commits the new offsets itself, so the reset holds
 * for a group with no live member; each live member is then told (RESET_CONSUMER_CLIENT_OFFSET,
 * in its own serialize type) and moves at once. Without isForce an offset only moves back.
 */
export function resetOffset(ctx: BrokerContext, req: RemotingCommand, serializeType: number | undefined): RemotingCommand {
  const h = ResetOffsetRequestHeader.decode(req);
  validateTopic(h.topic);
  validateGroup(h.group);
  const config = ctx.topics.get(h.topic);
  if (!config) throw new TopicNotExistError(h.topic);
  const members = ctx.clients.connectionsOf(h.group);
  const hasOffsets = ctx.offsets.topicsOf(h.group).length > 0;
  if (!ctx.groups.get(h.group) && !hasOffsets && members.length === 0) {
    return createResponse(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `consumer group ${h.group} does not exist on ${ctx.config.brokerName}: no settings, no offsets, no member`);
  }
  const table = targets(ctx, h, config.readQueueNums);
  for (const e of table.offsetTable) ctx.offsets.commit(h.group, h.topic, e.mq.queueId, e.offset);
  ctx.offsets.persist();
  const header = ResetOffsetRequestHeader.encode({ topic: h.topic, group: h.group, timestamp: h.timestamp, isForce: h.isForce });
  for (const conn of members) {
    // Oneway, as RocketMQ sends it: a member that misses it still reads the committed offsets at its next rebalance.
    conn.invokeOneway(createRequest(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, header, ResetOffsetBody.encode(table, conn.serializeType))).catch(() => {});
  }
  ctx.log.info(`offsets of ${h.group} on ${h.topic} reset (${describe(h)}) on ${table.offsetTable.length} queue(s); ${members.length} member(s) told`);
  return successResponse(undefined, ResetOffsetBody.encode(table, serializeType));
}

function targets(ctx: BrokerContext, h: ResetRequest, queues: number): ResetOffsetTable {
  const { store, offsets } = ctx;
  const brokerName = ctx.config.brokerName;
  const one = h.queueId !== undefined && h.queueId >= 0 && h.offset !== undefined && h.offset >= 0;
  if (one && h.queueId! >= queues) throw new InvalidParameterError(`queueId ${h.queueId} is not a queue of ${h.topic} (it has ${queues})`);
  const out: ResetOffsetTable["offsetTable"] = [];
  for (let queueId = 0; queueId < queues; queueId++) {
    if (one && queueId !== h.queueId) continue;
    const min = store.minOffset(h.topic, queueId);
    const max = store.maxOffset(h.topic, queueId);
    const wanted = one ? h.offset! : h.timestamp === -1 ? max : store.offsetForTimestamp(h.topic, queueId, h.timestamp);
    const target = Math.min(max, Math.max(min, wanted));
    const current = offsets.query(h.group, h.topic, queueId);
    // Without force a reset rewinds only: a group already behind the point stays where it is.
    const offset = h.isForce || current === undefined || target < current ? target : current;
    out.push({ mq: { topic: h.topic, brokerName, queueId }, offset });
  }
  return { offsetTable: out };
}

function describe(h: ResetRequest): string {
  if (h.queueId !== undefined && h.queueId >= 0 && h.offset !== undefined && h.offset >= 0) return `queue ${h.queueId} to offset ${h.offset}`;
  if (h.timestamp === -1) return "to the end";
  if (h.timestamp === 0) return "to the start";
  return `to ${new Date(h.timestamp).toISOString()}${h.isForce ? "" : ", rewind only"}`;
}
