import { validateTopic } from "../../common/names.ts";
import type { RemotingCommand } from "../../protocol/remoting_command.ts";
import { SerializeType } from "../../protocol/serialize_type.ts";

/** The serialize type an answer's body goes back in: the request's own. */
export function typeOf(req: RemotingCommand): number {
  return req.serializeType ?? SerializeType.CBOR;
}

/** A decoded header's topic (validated) and queue id (its range checked by the header's codec). */
export function topicQueue(h: { topic: string; queueId: number }): [string, number] {
  validateTopic(h.topic);
  return [h.topic, h.queueId];
}
