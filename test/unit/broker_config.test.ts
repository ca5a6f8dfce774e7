import assert from "node:assert/strict";
import { parseDelayLevels } from "../../src/broker/schedule_message_service.ts";
import { describe, test } from "../harness/testing.ts";
import { brokerConfig, brokerSettingsHelp, parseProperties } from "../../src/broker/broker_config.ts";
import { InvalidParameterError } from "../../src/common/errors.ts";

describe("broker configuration", () => {
  test("reads RocketMQ property files, with later layers (env, flags) winning", () => {
    const file = parseProperties(`# a broker.conf
brokerClusterName = ProdCluster
brokerName=broker-b
! comment
brokerId=1
namesrvAddr=10.0.0.1:9876;10.0.0.2:9876
flushDiskType=SYNC_FLUSH
autoCreateTopicEnable=false
`);
    const c = brokerConfig(file, { listenPort: "10921" }, { brokerId: "0" });
    assert.equal(c.brokerClusterName, "ProdCluster");
    assert.equal(c.brokerName, "broker-b");
    assert.equal(c.brokerId, 0);
    assert.equal(c.listenPort, 10921);
    assert.equal(c.namesrvAddr, "10.0.0.1:9876;10.0.0.2:9876");
    assert.equal(c.flushDiskType, "SYNC_FLUSH");
    assert.equal(c.autoCreateTopicEnable, false);
    assert.equal(c.defaultTopicQueueNums, 8, "defaults fill the rest");
  });

  test("unknown or malformed settings are refused, naming the setting", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ brokerNmae: "x" }, /Unknown setting "brokerNmae"/],
      [{ listenPort: "ten" }, /listenPort: "ten" is not an integer/],
      [{ listenPort: "70000" }, /listenPort: 70000 is outside 0..65535/],
      [{ flushDiskType: "SOMETIMES" }, /flushDiskType: "SOMETIMES" is not one of ASYNC_FLUSH, SYNC_FLUSH/],
      [{ autoCreateTopicEnable: "yes" }, /autoCreateTopicEnable: "yes" is not true or false/],
      [{ brokerName: "  " }, /brokerName is empty/],
      [{ messageDelayLevel: "1s 5x" }, /messageDelayLevel: "5x" is not a number followed by ms, s, m, h or d/],
      [{ messageDelayLevel: "0s" }, /messageDelayLevel: "0s" is out of range/],
      [{ brokerRole: "SLAVE" }, /brokerRole and brokerId disagree: a SLAVE has brokerId > 0/],
      [{ brokerId: "2" }, /brokerRole and brokerId disagree/],
      [{ inSyncReplicas: "0" }, /inSyncReplicas: 0 is outside 1..16/],
      [{ fileReservedTime: "soon" }, /fileReservedTime: "soon" is not a number/],
      [{ fileReservedTime: "0" }, /fileReservedTime: 0 is outside 0.001..87600/],
      [{ deleteWhen: "4am" }, /deleteWhen: "4am" is not hours of the day/],
      [{ deleteWhen: "03;25" }, /deleteWhen: "03;25" is not hours of the day/],
      [{ diskMaxUsedSpaceRatio: "95" }, /diskMaxUsedSpaceRatio: 95 is outside 1..90/],
    ];
    const retention = brokerConfig({ fileReservedTime: "0.25", deleteWhen: "03;04", diskMaxUsedSpaceRatio: "80" });
    assert.deepEqual([retention.fileReservedTime, retention.deleteWhen, retention.diskMaxUsedSpaceRatio], [0.25, "03;04", 80]);
    assert.equal(brokerConfig({ brokerRole: "SLAVE", brokerId: "2" }).brokerId, 2);
    for (const [layer, why] of cases) {
      assert.throws(() => brokerConfig(layer), (e: Error) => e instanceof InvalidParameterError && why.test(e.message), JSON.stringify(layer));
    }
    assert.throws(() => parseProperties("just words here", "broker.conf"), /broker.conf:1: expected key=value/);
  });

  test("delay levels parse with ms, s, m, h and d units", () => {
    assert.deepEqual(parseDelayLevels("100ms 1s 2m 1h 1d"), [100, 1000, 120_000, 3_600_000, 86_400_000]);
    assert.equal(parseDelayLevels(brokerConfig().messageDelayLevel).length, 18);
    assert.equal(parseDelayLevels(brokerConfig().messageDelayLevel)[2], 10_000); // level 3, the first retry
  });

  test("--help lists every setting with its default", () => {
    const help = brokerSettingsHelp();
    for (const name of ["brokerClusterName", "namesrvAddr", "storePathRootDir", "flushDiskType", "maxSendBacklog"]) assert.match(help, new RegExp(name));
  });
});
