import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { PROCESSORS } from "../../src/broker/processor/processors.ts";
import type { BrokerContext } from "../../src/broker/broker_context.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode, requestCodeName } from "../../src/protocol/request_code.ts";
import { ResponseCode } from "../../src/common/response_code.ts";

/** The processors' declared entries; building them only captures the context, so an empty one will do. */
const entries = PROCESSORS.flatMap((p) => p({} as BrokerContext));

describe("broker processors", () => {
  test("each request code has one processor, and the send, send-back, transaction and topic codes declare that they write", () => {
    const codes = entries.map((e) => e.code);
    assert.equal(new Set(codes).size, codes.length, "a code registered twice");
    const writes = new Set(entries.filter((e) => e.writes).map((e) => e.code));
    for (const code of [RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE, RequestCode.CONSUMER_SEND_MSG_BACK,
      RequestCode.END_TRANSACTION, RequestCode.CANCEL_DELAYED_MESSAGE, RequestCode.UPDATE_AND_CREATE_TOPIC, RequestCode.DELETE_TOPIC_IN_BROKER]) {
      assert.ok(writes.has(code), `${requestCodeName(code)} writes`);
    }
    assert.ok(!writes.has(RequestCode.PULL_MESSAGE));
  });

  test("a slave refuses every code declared as writing, before reading its header, and serves the others", async () => {
    await using cluster = await startCluster({ brokers: [{ dir: "s", brokerRole: "SLAVE", brokerId: 1 }], producerGroup: false });
    const { broker: slave } = cluster;
    const client = new RemotingClient();
    try {
      for (const e of entries) {
        // No header fields at all: a guarded code is refused before its handler would complain.
        const r = await client.invoke(slave.addr, createRequest(e.code));
        const said = `${requestCodeName(e.code)} answered ${r.code}: ${r.remark ?? ""}`;
        if (e.writes) {
          assert.equal(r.code, ResponseCode.SERVICE_NOT_AVAILABLE, said);
          assert.match(r.remark ?? "", /is a slave: .* goes to its master/, said);
        } else {
          assert.doesNotMatch(r.remark ?? "", /is a slave/, said);
        }
      }
      assert.ok((await client.invoke(slave.addr, createRequest(RequestCode.GET_BROKER_RUNTIME_INFO))).code === ResponseCode.SUCCESS);
    } finally {
      client.close();
    }
  });
});
