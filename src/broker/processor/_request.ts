import { InvalidParameterError } from "../../common/errors.ts";
import { validateTopic } from "../../common/names.ts";
import { extInt, extString, type RemotingCommand } from "../../protocol/remoting_command.ts";
import { SerializeType } from "../../protocol/serialize_type.ts";

/** The serialize type an answer's body goes back in: the request's own. */
export function typeOf(req: RemotingCommand): number {
  return req.serializeType ?? SerializeType.CBOR;
}

/** A request's topic and queue id, validated. */
export function topicQueue(req: RemotingCommand): [string, number] {
  const topic = extString(req, "topic");
  validateTopic(topic);
  const queueId = extInt(req, "queueId");
  if (queueId < 0 || queueId > 65_535) throw new InvalidParameterError(`queueId ${queueId} is out of range`);
  return [topic, queueId];
}
