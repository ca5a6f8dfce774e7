import assert from "node:assert/strict";
import { describe, test } from "../harness/testing.ts";
import { decodeProperties, encodeProperties, encodePropertiesBytes } from "../../src/common/message.ts";
import { createOffsetMsgId, parseOffsetMsgId } from "../../src/common/message_id.ts";
import { InvalidParameterError } from "../../src/common/errors.ts";
import { utf8 } from "../../src/util/bytes.ts";

describe("message properties and ids", () => {
  test("properties encode to the same bytes either way, and decode back", () => {
    const cases = [{}, { a: "b" }, { TAGS: "t", KEYS: "k1 k2", UNIQ_KEY: "ABC" }, { k: "ключ", "ключ": "v" }, { big: "x".repeat(40_000) }];
    for (const props of cases) {
      assert.deepEqual(encodePropertiesBytes(props), utf8(encodeProperties(props)));
      assert.deepEqual(decodeProperties(encodeProperties(props)), props);
    }
    for (const bad of [{ "a\u0001": "b" }, { a: "b\u0002c" }]) {
      assert.throws(() => encodePropertiesBytes(bad), InvalidParameterError);
      assert.throws(() => encodeProperties(bad), InvalidParameterError);
    }
  });

  test("offset message ids carry the store host and offset", () => {
    const id = createOffsetMsgId("10.1.2.3:10911", 2 ** 40 + 77);
    assert.equal(id, "0A010203" + "00002A9F" + "00000100" + "0000004D");
    assert.deepEqual(parseOffsetMsgId(id), { addr: "10.1.2.3:10911", offset: 2 ** 40 + 77 });
    assert.throws(() => parseOffsetMsgId("not-an-id"), InvalidParameterError);
  });
});
