import { TopicNotExistError } from "../../common/errors.ts";
import { PERM_READ_WRITE } from "../../common/route.ts";
import { rssBytes } from "../../platform/runtime.ts";
import {
  ConsumerOffsetTableBody,
  DelayOffsetTableBody,
  KVTableBody,
  SubscriptionGroupConfigBody,
  SubscriptionGroupTableBody,
  TopicConfigTableBody,
} from "../../protocol/bodies/broker_bodies.ts";
import { ConsumerRunningInfoBody, ConsumeStatsBody, TopicStatsTableBody } from "../../protocol/bodies/stats_bodies.ts";
import { DeleteSubscriptionGroupRequestHeader, GetConsumerRunningInfoRequestHeader } from "../../protocol/headers/consumer_header.ts";
import { Limits } from "../../common/limits.ts";
import { ResponseCode } from "../../common/response_code.ts";
import {
  CreateTopicRequestHeader,
  DeleteTopicRequestHeader,
  GetConsumeStatsRequestHeader,
  GetTopicStatsInfoRequestHeader,
} from "../../protocol/headers/topic_header.ts";
import { validateGroup, validateTopic } from "../../common/names.ts";
import { consumeStats, topicStats } from "../consume_stats.ts";
import { resetOffset } from "../offset_reset.ts";
import { createRequest, createResponse, type RemotingCommand, successResponse } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import type { BrokerContext } from "../broker_context.ts";
import { typeOf } from "./_request.ts";
import type { ProcessorEntry } from "./processor_table.ts";

/**
 * RocketMQ's AdminBrokerProcessor: topics (create, delete, the whole table), topic and
 * consumer-group statistics, the broker's runtime figures, and the tables a slave copies from
 * its master.
 */
export function adminBrokerProcessor(ctx: BrokerContext): ProcessorEntry[] {
  return [
    { code: RequestCode.UPDATE_AND_CREATE_TOPIC, writes: true, handle: (r) => createTopic(ctx, r) },
    { code: RequestCode.DELETE_TOPIC_IN_BROKER, writes: true, handle: (r) => deleteTopic(ctx, r) },
    {
      code: RequestCode.GET_ALL_TOPIC_CONFIG,
      handle: (r) => successResponse(undefined, TopicConfigTableBody.encode(ctx.topics.registerBody().topicConfigSerializeWrapper, typeOf(r))),
    },
    {
      code: RequestCode.GET_TOPIC_STATS_INFO,
      handle: (r) => {
        const { topic } = GetTopicStatsInfoRequestHeader.decode(r);
        validateTopic(topic);
        return successResponse(undefined, TopicStatsTableBody.encode(topicStats(ctx, topic), typeOf(r)));
      },
    },
    {
      code: RequestCode.GET_CONSUME_STATS,
      handle: (r) => {
        const h = GetConsumeStatsRequestHeader.decode(r);
        validateGroup(h.consumerGroup);
        if (h.topic) validateTopic(h.topic);
        return successResponse(undefined, ConsumeStatsBody.encode(consumeStats(ctx, h.consumerGroup, h.topic || undefined), typeOf(r)));
      },
    },
    {
      code: RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
      writes: true,
      handle: (r) => {
        ctx.groups.update(SubscriptionGroupConfigBody.decode(r.body, typeOf(r)));
        return successResponse();
      },
    },
    {
      code: RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
      handle: (r) => successResponse(undefined, SubscriptionGroupTableBody.encode(ctx.groups.table(), typeOf(r))),
    },
    {
      code: RequestCode.DELETE_SUBSCRIPTIONGROUP,
      writes: true,
      handle: (r) => {
        const h = DeleteSubscriptionGroupRequestHeader.decode(r);
        validateGroup(h.groupName);
        if (!ctx.groups.delete(h.groupName)) return createResponse(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group ${h.groupName} does not exist on ${ctx.config.brokerName}`);
        if (h.cleanOffset) ctx.offsets.removeGroup(h.groupName);
        return successResponse();
      },
    },
    { code: RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, writes: true, handle: (r) => resetOffset(ctx, r, typeOf(r)) },
    { code: RequestCode.GET_CONSUMER_RUNNING_INFO, handle: (r) => consumerRunningInfo(ctx, r) },
    { code: RequestCode.GET_BROKER_RUNTIME_INFO, handle: (r) => successResponse(undefined, KVTableBody.encode({ table: brokerRuntimeInfo(ctx) }, typeOf(r))) },
    {
      code: RequestCode.GET_ALL_CONSUMER_OFFSET,
      handle: (r) => successResponse(undefined, ConsumerOffsetTableBody.encode({ offsetTable: ctx.offsets.table() }, typeOf(r))),
    },
    {
      code: RequestCode.GET_ALL_DELAY_OFFSET,
      handle: (r) => successResponse(undefined, DelayOffsetTableBody.encode({ offsetTable: ctx.schedule.offsetTable() }, typeOf(r))),
    },
  ];
}

/**
 * Answered once the NameServers have the topic: a RocketMQ client looks the route up right after
 * (ali-ons cannot send to a topic the NameServer does not know yet).
 */
async function createTopic(ctx: BrokerContext, req: RemotingCommand): Promise<RemotingCommand> {
  const h = CreateTopicRequestHeader.decode(req);
  const read = h.readQueueNums ?? 16;
  ctx.topics.update({
    topicName: h.topic,
    readQueueNums: read,
    writeQueueNums: h.writeQueueNums ?? read,
    perm: h.perm ?? PERM_READ_WRITE,
    topicSysFlag: h.topicSysFlag ?? 0,
    order: h.order ?? false,
  });
  await ctx.registered();
  return successResponse();
}

function deleteTopic(ctx: BrokerContext, req: RemotingCommand): RemotingCommand {
  const { topic } = DeleteTopicRequestHeader.decode(req);
  if (!ctx.topics.delete(topic)) throw new TopicNotExistError(topic);
  ctx.offsets.removeTopic(topic);
  return successResponse();
}

/**
 * Asks the member of a group what it is doing (RocketMQ's callConsumer) and relays its answer
 * in the asker's serialize type. A client that never answers (ali-ons drops server requests)
 * gets SYSTEM_ERROR after Limits.callConsumerTimeoutMs.
 */
async function consumerRunningInfo(ctx: BrokerContext, req: RemotingCommand): Promise<RemotingCommand> {
  const h = GetConsumerRunningInfoRequestHeader.decode(req);
  validateGroup(h.consumerGroup);
  const conn = ctx.clients.connectionOf(h.consumerGroup, h.clientId);
  if (!conn) return createResponse(ResponseCode.CONSUMER_NOT_ONLINE, `the consumer ${h.clientId} of group ${h.consumerGroup} is not online`);
  let answer: RemotingCommand;
  try {
    answer = await conn.invoke(createRequest(RequestCode.GET_CONSUMER_RUNNING_INFO, GetConsumerRunningInfoRequestHeader.encode(h)), Limits.callConsumerTimeoutMs);
  } catch (err) {
    return createResponse(ResponseCode.SYSTEM_ERROR, `the consumer ${h.clientId} of group ${h.consumerGroup} did not answer GET_CONSUMER_RUNNING_INFO: ${(err as Error).message}`);
  }
  if (answer.code !== ResponseCode.SUCCESS) return createResponse(answer.code, answer.remark);
  const info = ConsumerRunningInfoBody.decode(answer.body, answer.serializeType);
  return successResponse(undefined, ConsumerRunningInfoBody.encode(info, typeOf(req)));
}

/** The broker's runtime figures (GET_BROKER_RUNTIME_INFO), as strings, as RocketMQ reports them. */
export function brokerRuntimeInfo(ctx: BrokerContext): Record<string, string> {
  const { config, store } = ctx;
  return {
    brokerName: config.brokerName,
    brokerId: String(config.brokerId),
    commitLogMinOffset: String(store.commitLogMinOffset),
    commitLogMaxOffset: String(store.commitLogMaxOffset),
    dispatchedOffset: String(store.dispatchedOffset),
    sendsInFlight: String(ctx.stats.sendsInFlight),
    heldPulls: String(ctx.holds.heldCount),
    connections: String(ctx.remoting.connections.size),
    connectionsRefused: String(ctx.remoting.refusedConnections),
    bufferedFrameBytes: String(ctx.remoting.budget.bufferedFrameBytes),
    writeBacklogBytes: String(ctx.remoting.budget.writeBacklogBytes),
    pullsFound: String(ctx.stats.pullsFound),
    clients: String(ctx.clients.size),
    diskFull: String(store.isDiskFull),
    scheduledPending: ctx.schedule.pending().join(","),
    timersPending: String(ctx.timer.pending),
    transactionHalfBacklog: String(ctx.tx.halfBacklog),
    rssBytes: String(rssBytes()),
    ...ctx.role.runtimeInfo(),
  };
}
