import { InvalidParameterError, SystemBusyError } from "../../common/errors.ts";
import { RETRY_GROUP_TOPIC_PREFIX, validateGroup } from "../../common/names.ts";
import { ResponseCode } from "../../common/response_code.ts";
import { decodeBody, encodeBody } from "../../protocol/body_codec.ts";
import { createResponse, extBool, extInt, extString, type RemotingCommand, successResponse } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import type { RemotingConnection } from "../../remoting/remoting_connection.ts";
import type { BrokerContext } from "../broker_context.ts";
import type { ConsumerData, SubscriptionData } from "../client_manager.ts";
import type { LockedQueue } from "../rebalance_lock_manager.ts";
import { topicQueue, typeOf } from "./_request.ts";
import type { ProcessorEntry } from "./processor_table.ts";

/**
 * RocketMQ's ConsumerManageProcessor and ClientManageProcessor: consumer offsets and queue
 * offsets, heartbeats and unregistration, group membership lists, and the queue locks of
 * orderly consumption.
 */
export function consumerManageProcessor(ctx: BrokerContext): ProcessorEntry[] {
  const { store, clients, locks } = ctx;
  return [
    { code: RequestCode.QUERY_CONSUMER_OFFSET, handle: (r) => queryOffset(ctx, r) },
    { code: RequestCode.UPDATE_CONSUMER_OFFSET, handle: (r) => updateOffset(ctx, r) },
    { code: RequestCode.GET_MAX_OFFSET, handle: (r) => successResponse({ offset: store.maxOffset(...topicQueue(r)) }) },
    { code: RequestCode.GET_MIN_OFFSET, handle: (r) => successResponse({ offset: store.minOffset(...topicQueue(r)) }) },
    {
      code: RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
      handle: (r) => successResponse({ offset: store.offsetForTimestamp(...topicQueue(r), extInt(r, "timestamp")) }),
    },
    {
      code: RequestCode.GET_EARLIEST_MSG_STORETIME,
      handle: (r) => successResponse({ timestamp: store.earliestMessageTime(...topicQueue(r)) ?? 0 }),
    },
    { code: RequestCode.HEART_BEAT, handle: (r, c) => heartbeat(ctx, r, c) },
    {
      code: RequestCode.UNREGISTER_CLIENT,
      handle: (r, c) => {
        clients.unregister(c, extString(r, "producerGroup", false), extString(r, "consumerGroup", false));
        return successResponse();
      },
    },
    {
      code: RequestCode.GET_CONSUMER_CONNECTION_LIST,
      handle: (r) => {
        const group = extString(r, "consumerGroup");
        validateGroup(group);
        const view = clients.groupView(group);
        if (view.members.length === 0) return createResponse(ResponseCode.CONSUMER_NOT_ONLINE, `the consumer group[${group}] not online`);
        return successResponse(undefined, encodeBody(view, typeOf(r)));
      },
    },
    {
      code: RequestCode.GET_CONSUMER_LIST_BY_GROUP,
      handle: (r) => successResponse(undefined, encodeBody({ consumerIdList: clients.consumersOf(extString(r, "consumerGroup")) }, typeOf(r))),
    },
    {
      code: RequestCode.LOCK_BATCH_MQ,
      handle: (r) => {
        const b = lockBody(r);
        return successResponse(undefined, encodeBody({ lockOKMQSet: locks.tryLock(b.consumerGroup, b.clientId, b.mqSet) }, typeOf(r)));
      },
    },
    {
      code: RequestCode.UNLOCK_BATCH_MQ,
      handle: (r) => {
        const b = lockBody(r);
        locks.unlock(b.consumerGroup, b.clientId, b.mqSet);
        return successResponse();
      },
    },
  ];
}

function queryOffset(ctx: BrokerContext, req: RemotingCommand): RemotingCommand {
  const group = extString(req, "consumerGroup");
  const [topic, queueId] = topicQueue(req);
  const stored = ctx.offsets.query(group, topic, queueId);
  if (stored !== undefined) return successResponse({ offset: stored });
  // RocketMQ: with no stored offset, answer 0 only when the queue still starts at 0.
  if (extBool(req, "setZeroIfNotFound", true) && ctx.store.minOffset(topic, queueId) === 0) return successResponse({ offset: 0 });
  return createResponse(ResponseCode.QUERY_NOT_FOUND, `no offset of group ${group} for ${topic}:${queueId}`);
}

function updateOffset(ctx: BrokerContext, req: RemotingCommand): RemotingCommand {
  const group = extString(req, "consumerGroup");
  validateGroup(group);
  const [topic, queueId] = topicQueue(req);
  const offset = extInt(req, "commitOffset");
  if (offset < 0) throw new InvalidParameterError(`commitOffset ${offset} is negative`);
  ctx.slaveSync.commitOffset(group, topic, queueId, offset);
  return successResponse();
}

function heartbeat(ctx: BrokerContext, req: RemotingCommand, conn: RemotingConnection): RemotingCommand {
  const hb = decodeBody<{ clientID?: string; producerDataSet?: { groupName: string }[]; consumerDataSet?: unknown[] }>(req.body, typeOf(req), "HeartbeatData");
  if (typeof hb?.clientID !== "string") throw new InvalidParameterError("HeartbeatData lacks clientID");
  const producers = (hb.producerDataSet ?? []).map((p) => String(p.groupName));
  const consumers = (hb.consumerDataSet ?? []).map(consumerDataOf);
  const changed = ctx.clients.heartbeat(conn, hb.clientID, producers, consumers);
  if (!changed) throw new SystemBusyError("too many clients");
  for (const d of consumers) {
    // As RocketMQ does: a clustering group's retry topic exists once a member heartbeats, so
    // its members find it in their routes and subscribe to it.
    if (d.messageModel === "CLUSTERING") ctx.topics.ensureSystemTopic(RETRY_GROUP_TOPIC_PREFIX + d.groupName);
  }
  for (const group of changed) checkSubscriptions(ctx, group);
  return successResponse();
}

/** Warns when a group's members subscribe differently (messages are then silently skipped). */
export function checkSubscriptions(ctx: BrokerContext, group: string): void {
  const detail = ctx.clients.newlyInconsistent(group);
  if (detail !== undefined) ctx.log.warn(`consumer group ${group} has members with different subscriptions; some messages will be skipped by some members (${detail})`);
}

/** A heartbeat's consumer data, checked field by field (it comes off the wire). */
function consumerDataOf(raw: unknown): ConsumerData {
  const d = raw as Partial<ConsumerData> | undefined;
  if (typeof d?.groupName !== "string") throw new InvalidParameterError("ConsumerData lacks groupName");
  validateGroup(d.groupName);
  const subs = Array.isArray(d.subscriptionDataSet) ? d.subscriptionDataSet : [];
  if (subs.length > 1_000) throw new InvalidParameterError(`ConsumerData of ${d.groupName} has ${subs.length} subscriptions; at most 1000`);
  return {
    groupName: d.groupName,
    messageModel: d.messageModel === "BROADCASTING" ? "BROADCASTING" : "CLUSTERING",
    consumeType: String(d.consumeType ?? "CONSUME_PASSIVELY"),
    consumeFromWhere: String(d.consumeFromWhere ?? ""),
    subscriptionDataSet: subs.map((x: Partial<SubscriptionData>) => ({
      topic: String(x?.topic ?? ""),
      subString: String(x?.subString ?? "*"),
      expressionType: x?.expressionType === "SQL92" ? "SQL92" : "TAG",
    })),
  };
}

function lockBody(req: RemotingCommand): { consumerGroup: string; clientId: string; mqSet: LockedQueue[] } {
  const b = decodeBody<{ consumerGroup?: unknown; clientId?: unknown; mqSet?: unknown }>(req.body, typeOf(req), "LockBatchRequestBody");
  if (typeof b?.consumerGroup !== "string" || typeof b.clientId !== "string" || !Array.isArray(b.mqSet)) {
    throw new InvalidParameterError("LockBatchRequestBody needs consumerGroup, clientId and mqSet");
  }
  validateGroup(b.consumerGroup);
  const mqSet = b.mqSet.map((q: { topic?: unknown; brokerName?: unknown; queueId?: unknown }) => {
    if (typeof q?.topic !== "string" || typeof q.brokerName !== "string" || !Number.isInteger(q.queueId)) {
      throw new InvalidParameterError("mqSet entries need topic, brokerName and queueId");
    }
    return { topic: q.topic, brokerName: q.brokerName, queueId: q.queueId as number };
  });
  return { consumerGroup: b.consumerGroup, clientId: b.clientId, mqSet };
}
