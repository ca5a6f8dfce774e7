import { InvalidParameterError, SystemBusyError } from "../../common/errors.ts";
import {
  ConsumerConnectionBody,
  ConsumerListBody,
  HeartbeatBody,
  LockBatchBody,
  LockBatchResultBody,
  ProducerConnectionBody,
  subscriptionDataOf,
} from "../../protocol/bodies/client_bodies.ts";
import { languageName } from "../../protocol/header_codec.ts";
import type { ConsumerGroupView } from "../client_manager.ts";
import { RETRY_GROUP_TOPIC_PREFIX, validateGroup } from "../../common/names.ts";
import { ResponseCode } from "../../common/response_code.ts";
import {
  ConsumerGroupRequestHeader,
  EarliestMsgStoretimeResponseHeader,
  OffsetResponseHeader,
  ProducerGroupRequestHeader,
  QueryConsumerOffsetRequestHeader,
  QueueRequestHeader,
  SearchOffsetRequestHeader,
  UnregisterClientRequestHeader,
  UpdateConsumerOffsetRequestHeader,
} from "../../protocol/headers/consumer_header.ts";
import { createResponse, type RemotingCommand, successResponse } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import type { RemotingConnection } from "../../remoting/remoting_connection.ts";
import type { BrokerContext } from "../broker_context.ts";
import { topicQueue, typeOf } from "./_request.ts";
import type { ProcessorEntry } from "./processor_table.ts";

type LockBatchRequest = ReturnType<typeof LockBatchBody.decode>;
type ConsumerConnection = ReturnType<typeof ConsumerConnectionBody.decode>;

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
    { code: RequestCode.GET_MAX_OFFSET, handle: (r) => offsetAnswer(store.maxOffset(...topicQueue(QueueRequestHeader.decode(r)))) },
    { code: RequestCode.GET_MIN_OFFSET, handle: (r) => offsetAnswer(store.minOffset(...topicQueue(QueueRequestHeader.decode(r)))) },
    {
      code: RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
      handle: (r) => {
        const h = SearchOffsetRequestHeader.decode(r);
        return offsetAnswer(store.offsetForTimestamp(...topicQueue(h), h.timestamp));
      },
    },
    {
      code: RequestCode.GET_EARLIEST_MSG_STORETIME,
      handle: (r) => successResponse(EarliestMsgStoretimeResponseHeader.encode({ timestamp: store.earliestMessageTime(...topicQueue(QueueRequestHeader.decode(r))) ?? 0 })),
    },
    { code: RequestCode.HEART_BEAT, handle: (r, c) => heartbeat(ctx, r, c) },
    {
      code: RequestCode.UNREGISTER_CLIENT,
      handle: (r, c) => {
        const h = UnregisterClientRequestHeader.decode(r);
        clients.unregister(c, h.producerGroup, h.consumerGroup);
        // Its pulls held on this connection end now: the connection may serve other clients.
        if (h.consumerGroup) ctx.holds.releaseGroup(c, h.consumerGroup);
        return successResponse();
      },
    },
    {
      code: RequestCode.GET_CONSUMER_CONNECTION_LIST,
      handle: (r) => {
        const group = ConsumerGroupRequestHeader.decode(r).consumerGroup;
        validateGroup(group);
        const view = clients.groupView(group);
        if (view.members.length === 0) return createResponse(ResponseCode.CONSUMER_NOT_ONLINE, `the consumer group[${group}] not online`);
        return successResponse(undefined, ConsumerConnectionBody.encode(consumerConnectionOf(view), typeOf(r)));
      },
    },
    {
      code: RequestCode.GET_PRODUCER_CONNECTION_LIST,
      handle: (r) => {
        const group = ProducerGroupRequestHeader.decode(r).producerGroup;
        validateGroup(group);
        const producers = clients.producersOf(group);
        // RocketMQ's answer when no producer of the group is connected here.
        if (producers.length === 0) return createResponse(ResponseCode.SYSTEM_ERROR, `the producer group[${group}] not exist`);
        const connectionSet = producers.map((p) => ({ clientId: p.clientId, clientAddr: p.clientAddr, language: languageName(p.language), version: p.version ?? 0 }));
        return successResponse(undefined, ProducerConnectionBody.encode({ connectionSet }, typeOf(r)));
      },
    },
    {
      code: RequestCode.GET_CONSUMER_LIST_BY_GROUP,
      handle: (r) => successResponse(undefined, ConsumerListBody.encode({ consumerIdList: clients.consumersOf(ConsumerGroupRequestHeader.decode(r).consumerGroup) }, typeOf(r))),
    },
    {
      code: RequestCode.LOCK_BATCH_MQ,
      handle: (r) => {
        const b = lockBody(r);
        return successResponse(undefined, LockBatchResultBody.encode({ lockOKMQSet: locks.tryLock(b.consumerGroup, b.clientId, b.mqSet) }, typeOf(r)));
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

/** RocketMQ's ConsumerConnection of a group's view (its table holds the first member's subscriptions), with the view itself. */
function consumerConnectionOf(view: ConsumerGroupView): ConsumerConnection {
  const first = view.members[0];
  const subscriptionTable: ConsumerConnection["subscriptionTable"] = {};
  for (const s of first?.subscriptions ?? []) subscriptionTable[s.topic] = subscriptionDataOf(s);
  return {
    connectionSet: view.members.map((m) => ({ clientId: m.clientId, clientAddr: m.clientAddr, language: languageName(m.language), version: m.version ?? 0 })),
    subscriptionTable,
    consumeType: first?.consumeType ?? "CONSUME_PASSIVELY",
    messageModel: first?.messageModel ?? "CLUSTERING",
    consumeFromWhere: first?.consumeFromWhere ?? "",
    group: view.group,
    members: view.members.map((m) => ({ clientId: m.clientId, clientAddr: m.clientAddr, messageModel: m.messageModel, consumeFromWhere: m.consumeFromWhere, subscriptions: m.subscriptions })),
    subscriptionsConsistent: view.subscriptionsConsistent,
  };
}

const offsetAnswer = (offset: number) => successResponse(OffsetResponseHeader.encode({ offset }));

function queryOffset(ctx: BrokerContext, req: RemotingCommand): RemotingCommand {
  const h = QueryConsumerOffsetRequestHeader.decode(req);
  const group = h.consumerGroup;
  const [topic, queueId] = topicQueue(h);
  const stored = ctx.offsets.query(group, topic, queueId);
  if (stored !== undefined) return offsetAnswer(stored);
  // RocketMQ: with no stored offset, answer 0 only when the queue still starts at 0.
  if ((h.setZeroIfNotFound ?? true) && ctx.store.minOffset(topic, queueId) === 0) return offsetAnswer(0);
  return createResponse(ResponseCode.QUERY_NOT_FOUND, `no offset of group ${group} for ${topic}:${queueId}`);
}

function updateOffset(ctx: BrokerContext, req: RemotingCommand): RemotingCommand {
  const h = UpdateConsumerOffsetRequestHeader.decode(req);
  const group = h.consumerGroup;
  validateGroup(group);
  const [topic, queueId] = topicQueue(h);
  const offset = h.commitOffset;
  // RocketMQ clients (ali-ons) persist a queue whose in-memory offset is 0 as -1: answered, and
  // never stored over a real offset.
  if (offset === -1) return successResponse();
  if (offset < 0) throw new InvalidParameterError(`commitOffset ${offset} is negative`);
  ctx.slaveSync.commitOffset(group, topic, queueId, offset);
  return successResponse();
}

async function heartbeat(ctx: BrokerContext, req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand> {
  const hb = HeartbeatBody.decode(req.body, typeOf(req));
  const producers = hb.producerDataSet.map((p) => p.groupName);
  const consumers = hb.consumerDataSet;
  for (const d of consumers) validateGroup(d.groupName);
  const changed = ctx.clients.heartbeat(conn, hb.clientID, producers, consumers, Date.now(), { language: req.language, version: req.version });
  if (!changed) throw new SystemBusyError("too many clients");
  let created = false;
  for (const d of consumers) {
    // The group's settings appear with its first member (unless autoCreateSubscriptionGroup is
    // off: an unknown group's member is registered, and its pulls are refused, saying why).
    const g = ctx.groups.findOrCreate(d.groupName);
    // As RocketMQ does: a clustering group's retry topic exists once a member heartbeats, so
    // its members find it in their routes and subscribe to it.
    const retry = RETRY_GROUP_TOPIC_PREFIX + d.groupName;
    if (g && d.messageModel === "CLUSTERING" && !ctx.topics.get(retry)) {
      ctx.topics.ensureSystemTopic(retry, g.retryQueueNums);
      created = true;
    }
  }
  for (const group of changed) checkSubscriptions(ctx, group);
  // A new retry topic is in the NameServers before the answer: the member's next route lookup finds it.
  if (created) await ctx.registered();
  return successResponse();
}

/** Warns when a group's members subscribe differently (messages are then silently skipped). */
export function checkSubscriptions(ctx: BrokerContext, group: string): void {
  const detail = ctx.clients.newlyInconsistent(group);
  if (detail !== undefined) ctx.log.warn(`consumer group ${group} has members with different subscriptions; some messages will be skipped by some members (${detail})`);
}

function lockBody(req: RemotingCommand): LockBatchRequest {
  const b = LockBatchBody.decode(req.body, typeOf(req));
  validateGroup(b.consumerGroup);
  return b;
}
