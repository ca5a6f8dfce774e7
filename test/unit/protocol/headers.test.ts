import assert from "node:assert/strict";
import { describe, test } from "../../harness/testing.ts";
import { InvalidParameterError } from "../../../src/common/errors.ts";
import { createRequest } from "../../../src/protocol/remoting_command.ts";
import { decodeSendHeader, SendMessageRequestHeader, SendMessageRequestHeaderV2 } from "../../../src/protocol/headers/send_message_header.ts";
import { PullMessageRequestHeader } from "../../../src/protocol/headers/pull_message_header.ts";
import { HeartbeatBody, LockBatchBody } from "../../../src/protocol/bodies/client_bodies.ts";
import { SerializeType } from "../../../src/protocol/serialize_type.ts";
import { RequestCode } from "../../../src/protocol/request_code.ts";
import { encodeBody } from "../../../src/protocol/body_codec.ts";

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InvalidParameterError, String(err));
    return err.message;
  }
  assert.fail("no error");
};

describe("typed headers", () => {
  test("a header encodes with RocketMQ's names and decodes back; SEND_MESSAGE_V2 uses its one-letter names", () => {
    const h = { producerGroup: "pg", topic: "T", queueId: 3, sysFlag: 0, bornTimestamp: 1, flag: 0, properties: "a\u0001b\u0002", reconsumeTimes: 0 };
    const v1 = SendMessageRequestHeader.encode(h);
    assert.deepEqual(Object.keys(v1).sort(), Object.keys(h).sort());
    assert.deepEqual(SendMessageRequestHeader.decode(createRequest(RequestCode.SEND_MESSAGE, v1)), h);
    const v2 = SendMessageRequestHeaderV2.encode(h);
    assert.deepEqual(Object.keys(v2).sort(), ["a", "b", "e", "f", "g", "h", "i", "j"]);
    assert.deepEqual(decodeSendHeader(createRequest(RequestCode.SEND_MESSAGE_V2, v2), true), h);
    // A batch sent with the long names is read as such.
    assert.deepEqual(decodeSendHeader(createRequest(RequestCode.SEND_BATCH_MESSAGE, v1), true), h);
  });

  test("a JSON header's strings are read as the field's type", () => {
    const req = createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: "g", topic: "T", queueId: "2", queueOffset: "-1", sysFlag: "3" });
    assert.deepEqual(PullMessageRequestHeader.decode(req), { consumerGroup: "g", topic: "T", queueId: 2, queueOffset: -1, sysFlag: 3 });
  });

  test("a bad field fails once with INVALID_PARAMETER naming the header, the field and the rule", () => {
    const pull = (ext: Record<string, string | number>) => () => PullMessageRequestHeader.decode(createRequest(RequestCode.PULL_MESSAGE, ext));
    const base = { consumerGroup: "g", topic: "T", queueId: 0, queueOffset: 0 };
    assert.match(refusal(pull({ ...base, queueId: 70_000 })), /PullMessageRequestHeader: header field "queueId" must be an integer in 0\.\.65535, got 70000/);
    assert.match(refusal(pull({ ...base, queueOffset: "ten" })), /"queueOffset" must be an integer, got "ten"/);
    const { topic: _t, ...noTopic } = base;
    assert.match(refusal(pull(noTopic)), /PullMessageRequestHeader: missing header field "topic"/);
    assert.match(refusal(pull({ ...base, topic: 7 })), /"topic" must be a string/);
  });
});

describe("typed bodies", () => {
  test("a heartbeat is validated whole and its consumer data completed with RocketMQ's defaults", () => {
    const body = encodeBody({ clientID: "c1", consumerDataSet: [{ groupName: "g", subscriptionDataSet: [{ topic: "T" }] }] });
    assert.deepEqual(HeartbeatBody.decode(body, SerializeType.CBOR), {
      clientID: "c1",
      producerDataSet: [],
      consumerDataSet: [{
        groupName: "g",
        messageModel: "CLUSTERING",
        consumeType: "CONSUME_PASSIVELY",
        consumeFromWhere: "",
        subscriptionDataSet: [{ topic: "T", subString: "*", expressionType: "TAG" }],
      }],
    });
    const json = encodeBody({ clientID: "c1", consumerDataSet: [{ groupName: 5 }] }, SerializeType.JSON);
    assert.match(refusal(() => HeartbeatBody.decode(json, SerializeType.JSON)), /HeartbeatData\.consumerDataSet\[0\]\.groupName must be a string, got 5/);
    // A data set that is not an array is named (it once reached `.map` and answered SYSTEM_ERROR).
    for (const field of ["producerDataSet", "consumerDataSet"]) {
      const notArray = encodeBody({ clientID: "c1", [field]: { groupName: "g" } });
      assert.match(refusal(() => HeartbeatBody.decode(notArray, SerializeType.CBOR)), new RegExp(`HeartbeatData\\.${field} must be an array`));
    }
  });

  test("a lock request names the entry that is wrong; an undecodable body says so", () => {
    const bad = encodeBody({ consumerGroup: "g", clientId: "c", mqSet: [{ topic: "T", brokerName: "b", queueId: 1 }, { topic: "T", brokerName: "b" }] });
    assert.match(refusal(() => LockBatchBody.decode(bad, SerializeType.CBOR)), /LockBatchRequestBody\.mqSet\[1\]\.queueId must be an integer/);
    assert.match(refusal(() => LockBatchBody.decode(new Uint8Array([0xff, 0x01]), SerializeType.CBOR)), /LockBatchRequestBody of 2 bytes is not decodable/);
  });

  test("a body field holding a CBOR big integer is refused naming it (the message once threw a TypeError: SYSTEM_ERROR)", () => {
    const bad = encodeBody({ consumerGroup: 2n ** 70n, clientId: "c", mqSet: [] });
    assert.match(refusal(() => LockBatchBody.decode(bad, SerializeType.CBOR)), /LockBatchRequestBody\.consumerGroup must be .*, got 1180591620717411303424/);
  });
});
