import { InvalidParameterError, MessageIllegalError } from "../../common/errors.ts";
import { createOffsetMsgId } from "../../common/message_id.ts";
import { validateTopic } from "../../common/names.ts";
import { hasProperty, MessageProperty, type Properties, propertiesOf, SysFlag, transactionType, withoutBrokerProperties } from "../../common/message.ts";
import { ResponseCode } from "../../common/response_code.ts";
import { Perm } from "../../common/route.ts";
import { decodeBatch } from "../../protocol/message_batch.ts";
import {
  CancelDelayedMessageRequestHeader,
  decodeSendHeader,
  SendMessageResponseHeader,
} from "../../protocol/headers/send_message_header.ts";
import { createResponse, type RemotingCommand, successResponse } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import type { RemotingConnection } from "../../remoting/remoting_connection.ts";
import type { PutMessageRequest } from "../../store/message_store.ts";
import type { BrokerContext } from "../broker_context.ts";
import { BROKER_ONLY_TOPICS } from "../put_back.ts";
import { SCHEDULE_TOPIC, toScheduled } from "../schedule_message_service.ts";
import { TIMER_TOPIC, toTimer, unitDeliverMs } from "../timer_message_service.ts";
import { HALF_TOPIC } from "../transactional_message_service.ts";
import type { ProcessorEntry } from "./processor_table.ts";

/** Properties that make a message delayed (see `delayed`). */
const DELAY_PROPERTIES = [MessageProperty.DELAY_TIME_LEVEL, MessageProperty.TIMER_DELIVER_MS, MessageProperty.TIMER_DELAY_MS];

type PutWithProperties = PutMessageRequest & { properties: string | Uint8Array };

/**
 * RocketMQ's SendMessageProcessor: single and batch sends, delayed and timer messages parked in
 * their schedule topics, transactional half messages parked in the half topic, and the
 * cancellation of a pending delayed message.
 */
export function sendMessageProcessor(ctx: BrokerContext): ProcessorEntry[] {
  return [
    { code: RequestCode.SEND_MESSAGE, writes: true, handle: (r, c) => send(ctx, r, c, false) },
    { code: RequestCode.SEND_MESSAGE_V2, writes: true, handle: (r, c) => send(ctx, r, c, true) },
    { code: RequestCode.SEND_BATCH_MESSAGE, writes: true, handle: (r, c) => send(ctx, r, c, true) },
    { code: RequestCode.CANCEL_DELAYED_MESSAGE, writes: true, handle: (r) => cancelDelayed(ctx, r) },
  ];
}

async function send(ctx: BrokerContext, req: RemotingCommand, conn: RemotingConnection, v2: boolean): Promise<RemotingCommand> {
  const began = performance.now();
  try {
    return await sendOnce(ctx, req, conn, v2);
  } finally {
    ctx.statsManager.observeSend((performance.now() - began) / 1000);
  }
}

async function sendOnce(ctx: BrokerContext, req: RemotingCommand, conn: RemotingConnection, v2: boolean): Promise<RemotingCommand> {
  const h = decodeSendHeader(req, v2);
  const { stats, config } = ctx;
  if (ctx.shuttingDown) return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, "broker is shutting down");
  if (stats.sendsInFlight >= config.maxSendBacklog) {
    return createResponse(ResponseCode.SYSTEM_BUSY, `[TIMEOUT_CLEAN_QUEUE]broker busy: ${stats.sendsInFlight} sends in progress, try another broker`);
  }
  const topic = h.topic;
  validateTopic(topic);
  if (BROKER_ONLY_TOPICS.has(topic)) return createResponse(ResponseCode.NO_PERMISSION, `Sending message to topic[${topic}] is forbidden.`);
  const tc = ctx.topics.forSend(topic, h.defaultTopic, h.defaultTopicQueueNums);
  if ((tc.perm & Perm.WRITE) === 0) {
    return createResponse(ResponseCode.NO_PERMISSION, `the topic[${topic}] sending is forbidden`);
  }
  let queueId = h.queueId ?? -1;
  if (queueId < 0) queueId = Math.floor(Math.random() * tc.writeQueueNums);
  if (queueId >= tc.writeQueueNums) {
    throw new InvalidParameterError(`queueId ${queueId} is out of range: topic ${topic} has ${tc.writeQueueNums} write queues`);
  }
  const body = req.body;
  if (!body || body.byteLength === 0) throw new MessageIllegalError("Message body is empty");
  const common = {
    topic,
    queueId,
    sysFlag: h.sysFlag ?? 0,
    bornTimestamp: h.bornTimestamp ?? Date.now(),
    bornHost: conn.remoteAddr,
    reconsumeTimes: h.reconsumeTimes ?? 0,
  };
  stats.sendsInFlight++;
  try {
    if (req.code === RequestCode.SEND_BATCH_MESSAGE || h.batch) {
      const entries = decodeBatch(body);
      for (const e of entries) {
        if (DELAY_PROPERTIES.some((name) => hasProperty(e.properties ?? "", name))) {
          throw new MessageIllegalError("A batch cannot hold delayed or timer messages; send them one by one");
        }
      }
      const results = await ctx.store.putMessages(entries.map((e) => ({
        ...common,
        body: e.body,
        flag: e.flag,
        // The broker's own properties (REAL_TOPIC, TIMER_OUT_MS, …) are dropped whatever the client sent.
        properties: withoutBrokerProperties(e.properties),
      })));
      ctx.statsManager.put(topic, entries.length, results.reduce((n, r) => n + r.size, 0));
      const timedOut = results.some((r) => r.status !== "PUT_OK");
      const last = results[results.length - 1];
      const code = await ctx.role.replicated(last.physicalOffset + last.size, timedOut ? ResponseCode.FLUSH_DISK_TIMEOUT : ResponseCode.SUCCESS);
      return createResponse(code, undefined, SendMessageResponseHeader.encode({
        msgId: results.map((r) => createOffsetMsgId(ctx.addr, r.physicalOffset)).join(","),
        queueId,
        queueOffset: results[0].queueOffset,
      }));
    }
    const message = { ...common, body, flag: h.flag ?? 0, properties: withoutBrokerProperties(h.properties ?? "") };
    const put = transactionType(common.sysFlag) === SysFlag.TRANSACTION_PREPARED_TYPE ? half(message) : delayed(ctx, message);
    const r = await ctx.store.putMessage(put);
    ctx.statsManager.put(topic, 1, r.size);
    const code = await ctx.role.replicated(r.physicalOffset + r.size, r.status === "PUT_OK" ? ResponseCode.SUCCESS : ResponseCode.FLUSH_DISK_TIMEOUT);
    return createResponse(code, undefined, SendMessageResponseHeader.encode({
      msgId: createOffsetMsgId(ctx.addr, r.physicalOffset),
      queueId,
      queueOffset: r.queueOffset,
    }));
  } finally {
    stats.sendsInFlight--;
  }
}

/**
 * A message with a delay level (DELAY) goes to SCHEDULE_TOPIC, one with a time
 * (TIMER_DELIVER_MS, or MessageProperty.TIMER_DELAY_MS from now) to TIMER_TOPIC; both keep their real topic
 * and queue in properties. A time already past, or level 0, means now. Transactional half
 * messages are never delayed (their delay, if any, applies when they are committed).
 */
function delayed(ctx: BrokerContext, put: PutWithProperties): PutMessageRequest {
  const raw = put.properties;
  if (!DELAY_PROPERTIES.some((name) => hasProperty(raw, name))) return put;
  if (transactionType(put.sysFlag ?? 0) === SysFlag.TRANSACTION_PREPARED_TYPE) return put;
  const props: Properties = propertiesOf(raw);
  const at = props[MessageProperty.TIMER_DELIVER_MS];
  const after = props[MessageProperty.TIMER_DELAY_MS];
  delete props[MessageProperty.TIMER_DELIVER_MS];
  delete props[MessageProperty.TIMER_DELAY_MS];
  const now = Date.now();
  if (at !== undefined || after !== undefined) {
    const value = Number(at ?? after);
    if (!Number.isSafeInteger(value) || (after !== undefined && at === undefined && value < 0)) {
      throw new MessageIllegalError(`${at !== undefined ? "TIMER_DELIVER_MS" : "TIMER_DELAY_MS"} must be an integer number of ms, got "${(at ?? after)!.slice(0, 40)}"`);
    }
    const deliverMs = at !== undefined ? value : now + value;
    if (deliverMs - now > ctx.config.timerMaxDelayMs) {
      throw new MessageIllegalError(`Timer delay of ${deliverMs - now} ms exceeds timerMaxDelayMs (${ctx.config.timerMaxDelayMs} ms)`);
    }
    delete props[MessageProperty.DELAY_TIME_LEVEL];
    if (deliverMs <= now) return { ...put, properties: props };
    return toTimer(put, props, deliverMs);
  }
  const level = Number(props[MessageProperty.DELAY_TIME_LEVEL]);
  if (!Number.isInteger(level) || level < 0) {
    throw new MessageIllegalError(`DELAY must be a delay level (an integer ≥ 0), got "${props[MessageProperty.DELAY_TIME_LEVEL].slice(0, 40)}"`);
  }
  delete props[MessageProperty.DELAY_TIME_LEVEL];
  if (level === 0) return { ...put, properties: props };
  const { topic, queueId, ...rest } = put;
  return toScheduled({ ...rest, properties: props }, topic, queueId, ctx.schedule.clampLevel(level), props);
}

/**
 * A half message: stored in HALF_TOPIC (with a ConsumeQueue unit there, so the check service
 * can walk it) and its real topic and queue kept in properties; consumers never see it.
 */
function half(put: PutWithProperties): PutMessageRequest {
  const raw = put.properties;
  const props: Properties = propertiesOf(raw);
  if (!props[MessageProperty.PRODUCER_GROUP]) throw new MessageIllegalError("A half message needs its producer group (property PGROUP)");
  return {
    ...put,
    topic: HALF_TOPIC,
    queueId: 0,
    sysFlag: (put.sysFlag ?? 0) & ~0xc,
    properties: { ...props, [MessageProperty.REAL_TOPIC]: put.topic, [MessageProperty.REAL_QUEUE_ID]: String(put.queueId) },
  };
}

/**
 * Cancels a pending delayed or timer message of `topic` by its unique id, on this broker.
 * Answers QUERY_NOT_FOUND when none is pending here (unknown, delivered or cancelled).
 */
function cancelDelayed(ctx: BrokerContext, req: RemotingCommand): RemotingCommand {
  const { topic, uniqKey: id } = CancelDelayedMessageRequestHeader.decode(req);
  validateTopic(topic);
  for (const m of ctx.store.queryMessage(TIMER_TOPIC, id, 8)) {
    if (m.properties[MessageProperty.REAL_TOPIC] !== topic || m.properties[MessageProperty.UNIQ_KEY] !== id) continue;
    const unitMs = unitDeliverMs(Number(m.properties[MessageProperty.TIMER_OUT_MS]), m.storeTimestamp, ctx.config.timerRollIntervalMs);
    if (ctx.timer.cancel(m.physicalOffset, unitMs)) return successResponse();
  }
  for (const m of ctx.store.queryMessage(SCHEDULE_TOPIC, id, 8)) {
    if (m.properties[MessageProperty.REAL_TOPIC] !== topic || m.properties[MessageProperty.UNIQ_KEY] !== id) continue;
    if (ctx.schedule.cancel(m)) return successResponse();
  }
  return createResponse(ResponseCode.QUERY_NOT_FOUND, `no pending delayed message ${id} of ${topic} on this broker (delivered, cancelled, or never sent here)`);
}
