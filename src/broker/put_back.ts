import { NoPermissionError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { propertiesOf } from "../common/message.ts";
import { AUTO_CREATE_TOPIC_KEY_TOPIC, RETRY_GROUP_TOPIC_PREFIX } from "../common/names.ts";
import { Perm } from "../common/route.ts";
import type { MessageStore, PutMessageRequest, PutResult } from "../store/message_store.ts";
import { SCHEDULE_TOPIC } from "./schedule_message_service.ts";
import { TIMER_TOPIC, toTimer } from "./timer_message_service.ts";
import type { TopicConfigManager } from "./topic_config_manager.ts";
import { HALF_TOPIC, OP_TOPIC, PARK_TOPIC } from "./transactional_message_service.ts";

/**
 * Topics only the broker itself writes (RocketMQ's TopicValidator): a plain send to one would
 * be put back to its REAL_TOPIC later, around that topic's permission, and would auto-create
 * it; a send-back of one of their messages would deliver what was never due or committed.
 */
export const BROKER_ONLY_TOPICS: ReadonlySet<string> = new Set([AUTO_CREATE_TOPIC_KEY_TOPIC, SCHEDULE_TOPIC, TIMER_TOPIC, HALF_TOPIC, OP_TOPIC, PARK_TOPIC]);

/**
 * Why a parked message cannot go back to `topic` now: its permission was taken away while the
 * message waited. Undefined when it can (a topic that is gone is written as before: an operator
 * who creates it again finds its messages).
 */
export function putBackRefusal(topics: TopicConfigManager, topic: string): string | undefined {
  const tc = topics.get(topic);
  return tc && (tc.perm & Perm.WRITE) === 0 ? `the topic[${topic}] sending is forbidden` : undefined;
}

/**
 * How the schedule and timer services put a due message back. A retry topic is created on first
 * use. A topic that is not writable now keeps the message: it is parked again as a timer due in
 * `retryMs` (brokerConfig putBackRetryMillis; nothing acknowledged is lost, nothing is written around the permission,
 * and a delay level's other messages are not held up behind it).
 */
export function scheduledDelivery(topics: TopicConfigManager, store: MessageStore, retryMs: number, log: Logger): (req: PutMessageRequest) => Promise<void> {
  let warnedAt = 0;
  let held = 0;
  return async (req) => {
    if (!topics.get(req.topic) && req.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) topics.ensureSystemTopic(req.topic);
    else req = topics.fitQueue(req);
    const refusal = putBackRefusal(topics, req.topic);
    if (refusal === undefined) {
      await store.putMessage(req);
      return;
    }
    await store.putMessage(reparked(req, Date.now() + retryMs));
    held++;
    const now = Date.now();
    if (now - warnedAt >= retryMs) {
      log.warn(`${held} due message(s) held back (${refusal}); parked again for ${retryMs} ms`);
      warnedAt = now;
      held = 0;
    }
  };
}

/**
 * How the transaction service writes: op and park records to its own topics; a committed message
 * to its real topic only while that is writable (else NoPermissionError: the half message stays
 * undecided, the commit can be sent again and the check-back asks again).
 */
export function transactionalPut(topics: TopicConfigManager, store: MessageStore): (req: PutMessageRequest) => Promise<PutResult> {
  return (req) => {
    // Parked half messages are in a topic of their own, readable like any, for an operator.
    if (req.topic === PARK_TOPIC) topics.ensureSystemTopic(PARK_TOPIC);
    else if (req.topic !== OP_TOPIC) {
      const refusal = putBackRefusal(topics, req.topic);
      if (refusal !== undefined) return Promise.reject(new NoPermissionError(refusal));
    }
    return store.putMessage(topics.fitQueue(req));
  };
}

/** `req` parked in the timer topic again, due at `dueMs`, its real topic and queue kept. */
function reparked(req: PutMessageRequest, dueMs: number): PutMessageRequest {
  return toTimer(req, propertiesOf(req.properties), dueMs);
}
