import { createOffsetMsgId } from "../../common/message_id.ts";
import { DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX, validateGroup } from "../../common/names.ts";
import { MessageProperty } from "../../common/message.ts";
import { decodeRecord } from "../../common/message_record.ts";
import { ResponseCode } from "../../common/response_code.ts";
import { ConsumerSendMsgBackRequestHeader } from "../../protocol/headers/consumer_header.ts";
import { createResponse, type RemotingCommand } from "../../protocol/remoting_command.ts";
import { RequestCode } from "../../protocol/request_code.ts";
import type { PutMessageRequest } from "../../store/message_store.ts";
import type { BrokerContext } from "../broker_context.ts";
import { StatsName } from "../broker_stats_manager.ts";
import { BROKER_ONLY_TOPICS } from "../put_back.ts";
import { toScheduled } from "../schedule_message_service.ts";
import type { ProcessorEntry } from "./processor_table.ts";

/** CONSUMER_SEND_MSG_BACK (in RocketMQ a part of SendMessageProcessor): retries and dead letters. */
export function sendBackProcessor(ctx: BrokerContext): ProcessorEntry[] {
  return [{ code: RequestCode.CONSUMER_SEND_MSG_BACK, writes: true, handle: (r) => sendBack(ctx, r) }];
}

/**
 * A consumer could not handle a message. It goes to %RETRY%<group> (one of the group's
 * retryQueueNums queues) after the delay of level 3 + reconsumeTimes (or the level asked for),
 * through the schedule topic; after maxReconsumeTimes (the header's, else the group's
 * retryMaxTimes), or when asked with a negative level, to %DLQ%<group>.
 */
async function sendBack(ctx: BrokerContext, req: RemotingCommand): Promise<RemotingCommand> {
  if (ctx.shuttingDown) return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, "broker is shutting down");
  const h = ConsumerSendMsgBackRequestHeader.decode(req);
  const { group, offset } = h;
  validateGroup(group);
  const g = ctx.groups.findOrCreate(group);
  if (!g) {
    const r = ctx.groups.unknown(group);
    return createResponse(r.code, r.remark);
  }
  const raw = ctx.store.readRecord(offset);
  if (!raw) return createResponse(ResponseCode.SYSTEM_ERROR, `look message by offset failed, ${offset}`);
  const m = decodeRecord(raw);
  // A parked, half or op record was never delivered to anyone: sending it back would deliver it.
  if (BROKER_ONLY_TOPICS.has(m.topic)) {
    return createResponse(ResponseCode.NO_PERMISSION, `the message at CommitLog offset ${offset} is in topic[${m.topic}], which only the broker writes; it cannot be sent back`);
  }
  const maxTimes = h.maxReconsumeTimes ?? g.retryMaxTimes;
  let level = h.delayLevel ?? 0;
  const props = { ...m.properties };
  props[MessageProperty.RETRY_TOPIC] ??= m.topic;
  props[MessageProperty.ORIGIN_MESSAGE_ID] ??= props[MessageProperty.UNIQ_KEY] ?? h.originMsgId ?? createOffsetMsgId(m.storeHost, m.physicalOffset);
  delete props[MessageProperty.DELAY_TIME_LEVEL];
  const base = {
    body: m.body.slice(),
    flag: m.flag,
    sysFlag: m.sysFlag,
    bornTimestamp: m.bornTimestamp,
    bornHost: m.bornHost,
    reconsumeTimes: m.reconsumeTimes + 1,
  };
  let put: PutMessageRequest;
  if (m.reconsumeTimes >= maxTimes || level < 0) {
    const dlq = DLQ_GROUP_TOPIC_PREFIX + group;
    ctx.topics.ensureSystemTopic(dlq);
    props[MessageProperty.DLQ_ORIGIN_TOPIC] = props[MessageProperty.RETRY_TOPIC];
    props[MessageProperty.DLQ_ORIGIN_MESSAGE_ID] = props[MessageProperty.ORIGIN_MESSAGE_ID];
    put = { ...base, topic: dlq, queueId: 0, properties: props };
  } else {
    const retry = RETRY_GROUP_TOPIC_PREFIX + group;
    ctx.topics.ensureSystemTopic(retry, g.retryQueueNums);
    level = ctx.schedule.clampLevel(level === 0 ? 3 + m.reconsumeTimes : level);
    // Any of the retry queues (the topic may have fewer than the group now asks for: fitted at delivery).
    put = toScheduled(base, retry, Math.floor(Math.random() * g.retryQueueNums), level, props);
  }
  const r = await ctx.store.putMessage(put);
  ctx.statsManager.add(StatsName.SNDBCK_PUT_NUMS, `${props[MessageProperty.RETRY_TOPIC]}@${group}`, 1);
  return createResponse(r.status === "PUT_OK" ? ResponseCode.SUCCESS : ResponseCode.FLUSH_DISK_TIMEOUT, undefined);
}
