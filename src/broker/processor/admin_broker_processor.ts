import { InvalidParameterError, TopicNotExistError } from "../../common/errors.ts";
import { fromUtf8, utf8 } from "../../util/bytes.ts";
import { parseProperties } from "../broker_config.ts";
import { GetBrokerConfigResponseHeader, ViewBrokerStatsDataRequestHeader } from "../../protocol/headers/broker_header.ts";
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
import { BrokerStatsDataBody, ConsumeMessageDirectlyResultBody, ConsumerRunningInfoBody, ConsumeStatsBody, TopicStatsTableBody } from "../../protocol/bodies/stats_bodies.ts";
import {
  ConsumeMessageDirectlyResultRequestHeader,
  DeleteSubscriptionGroupRequestHeader,
  GetConsumerRunningInfoRequestHeader,
} from "../../protocol/headers/consumer_header.ts";
import { parseOffsetMsgId } from "../../common/message_id.ts";
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
import { RequestCode, requestCodeName } from "../../protocol/request_code.ts";
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
    { code: RequestCode.CONSUME_MESSAGE_DIRECTLY, handle: (r) => consumeMessageDirectly(ctx, r) },
    {
      code: RequestCode.VIEW_BROKER_STATS_DATA,
      handle: (r) => {
        const h = ViewBrokerStatsDataRequestHeader.decode(r);
        const data = ctx.statsManager.view(h.statsName, h.statsKey);
        // RocketMQ's answer for a figure never counted.
        if (!data) return createResponse(ResponseCode.SYSTEM_ERROR, `The stats <${h.statsName}> <${h.statsKey}> not exist`);
        return successResponse(undefined, BrokerStatsDataBody.encode(data, typeOf(r)));
      },
    },
    // Settings: all readable; the live ones change at once and go to the properties file (not replicated: a slave takes them too).
    {
      code: RequestCode.GET_BROKER_CONFIG,
      handle: () => successResponse(GetBrokerConfigResponseHeader.encode({ version: JSON.stringify(ctx.runtime.version) }), utf8(ctx.runtime.text())),
    },
    {
      code: RequestCode.UPDATE_BROKER_CONFIG,
      handle: (r) => {
        if (!r.body || r.body.byteLength === 0) throw new InvalidParameterError("UPDATE_BROKER_CONFIG has no body: send the settings as name=value lines");
        const changed = ctx.runtime.update(parseProperties(fromUtf8(r.body), "UPDATE_BROKER_CONFIG body"));
        return successResponse(undefined, utf8(changed.map((n) => `${n}=${ctx.config[n]}\n`).join("")));
      },
    },
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
  // Its queues go too (a topic created again under the name starts empty); its CommitLog bytes wait for retention.
  ctx.store.deleteTopic(topic);
  return successResponse();
}

/**
 * Asks the member `clientId` of `group` (RocketMQ's callConsumer) and hands back its answer. A
 * client that never answers (ali-ons drops server requests) gets SYSTEM_ERROR after
 * Limits.callConsumerTimeoutMs.
 */
async function callConsumer(ctx: BrokerContext, group: string, clientId: string, request: RemotingCommand): Promise<RemotingCommand> {
  validateGroup(group);
  const conn = ctx.clients.connectionOf(group, clientId);
  if (!conn) return createResponse(ResponseCode.CONSUMER_NOT_ONLINE, `the consumer ${clientId} of group ${group} is not online`);
  try {
    return await conn.invoke(request, Limits.callConsumerTimeoutMs);
  } catch (err) {
    return createResponse(ResponseCode.SYSTEM_ERROR, `the consumer ${clientId} of group ${group} did not answer ${requestCodeName(request.code)}: ${(err as Error).message}`);
  }
}

/** What a member is doing, relayed in the asker's serialize type. */
async function consumerRunningInfo(ctx: BrokerContext, req: RemotingCommand): Promise<RemotingCommand> {
  const h = GetConsumerRunningInfoRequestHeader.decode(req);
  const answer = await callConsumer(ctx, h.consumerGroup, h.clientId, createRequest(RequestCode.GET_CONSUMER_RUNNING_INFO, GetConsumerRunningInfoRequestHeader.encode(h)));
  if (answer.code !== ResponseCode.SUCCESS) return createResponse(answer.code, answer.remark);
  const info = ConsumerRunningInfoBody.decode(answer.body, answer.serializeType);
  return successResponse(undefined, ConsumerRunningInfoBody.encode(info, typeOf(req)));
}

/**
 * CONSUME_MESSAGE_DIRECTLY (RocketMQ's consumeMessageDirectly): the message this broker stored at
 * the offset msgId goes to one member's listener once more, for an operator debugging it; the
 * member's ConsumeMessageDirectlyResult comes back in the asker's serialize type.
 */
async function consumeMessageDirectly(ctx: BrokerContext, req: RemotingCommand): Promise<RemotingCommand> {
  const h = ConsumeMessageDirectlyResultRequestHeader.decode(req);
  const { offset } = parseOffsetMsgId(h.msgId);
  const record = ctx.store.readRecord(offset);
  if (!record) return createResponse(ResponseCode.NO_MESSAGE, `no message with id ${h.msgId} on ${ctx.config.brokerName}`);
  const header = ConsumeMessageDirectlyResultRequestHeader.encode({ ...h, brokerName: ctx.config.brokerName });
  const answer = await callConsumer(ctx, h.consumerGroup, h.clientId, createRequest(RequestCode.CONSUME_MESSAGE_DIRECTLY, header, record));
  if (answer.code !== ResponseCode.SUCCESS) return createResponse(answer.code, answer.remark);
  const result = ConsumeMessageDirectlyResultBody.decode(answer.body, answer.serializeType);
  return successResponse(undefined, ConsumeMessageDirectlyResultBody.encode(result, typeOf(req)));
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
    ...ctx.statsManager.runtimeInfo(),
    ...ctx.role.runtimeInfo(),
  };
}
