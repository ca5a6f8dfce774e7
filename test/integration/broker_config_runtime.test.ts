import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "../harness/testing.ts";
import { startCluster } from "../harness/cluster.ts";
import { rejectionOf, waitFor } from "../harness/wait.ts";
import { Admin } from "../../src/client/admin.ts";
import { PullConsumer } from "../../src/client/pull_consumer.ts";
import { BROKER_SETTINGS } from "../../src/broker/broker_config.ts";
import { brokerConfigFrom } from "../../src/cli/server_commands.ts";
import { BolideError, InvalidParameterError } from "../../src/common/errors.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { nodeFileSystem } from "../../src/platform/file_system.ts";
import type { DefaultMessageStore } from "../../src/store/default_message_store.ts";

const SLAVE = { brokerRole: "SLAVE" as const, brokerId: 1, haSendHeartbeatInterval: 200, haMetadataSyncInterval: 200, registerNameServerPeriod: 200 };

describe("broker settings at run time (GET_BROKER_CONFIG, UPDATE_BROKER_CONFIG)", () => {
  test("every setting is readable; live ones change at once on every replica and are written to the properties file; fixed ones are refused, naming why", async () => {
    // consumerOffset.json every 10 minutes to begin with: a change to 100 ms must re-arm the timer, not wait it out.
    await using c = await startCluster({
      brokers: [{ brokerName: "broker-a", dir: "m", flushConsumerOffsetInterval: 600_000 }, { brokerName: "broker-a", dir: "s", ...SLAVE }],
    });
    await using admin = new Admin({ namesrvAddr: c.namesrvAddr });
    await admin.createTopic("Settings", { queues: 1 });
    const [master, slave] = c.brokers;

    const all = await admin.brokerConfig(master.addr);
    assert.deepEqual(Object.keys(all).sort(), Object.keys(BROKER_SETTINGS).sort(), "every setting");
    assert.equal(all.brokerName, "broker-a");
    assert.equal(all.flushConsumerOffsetInterval, "600000");
    assert.equal((await admin.brokerConfig(slave.addr)).brokerRole, "SLAVE");

    const done = await admin.updateBrokerConfig({ slaveReadEnable: true, fileReservedTime: 1.5, flushConsumerOffsetInterval: 100, maxSendBacklog: 10_000 }, { brokerName: "broker-a" });
    assert.deepEqual(done.map((d) => [d.brokerId, d.changed.sort()]), [
      [0, ["fileReservedTime", "flushConsumerOffsetInterval", "slaveReadEnable"]],
      [1, ["fileReservedTime", "flushConsumerOffsetInterval", "slaveReadEnable"]],
    ], "maxSendBacklog was 10000 already");
    assert.equal(master.config.slaveReadEnable, true);
    assert.equal((master.store as DefaultMessageStore).config.fileReservedTimeHours, 1.5, "the store's retention follows");
    assert.equal((await admin.brokerConfig(master.addr)).fileReservedTime, "1.5");

    // The offset file is written at the new interval, not 10 minutes after start.
    await c.producer.send({ topic: "Settings", body: "x" });
    const reader = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "SettingsG", consumeFromWhere: "first" }));
    await reader.subscribe("Settings");
    await waitFor(async () => (await reader.poll(200)).length > 0, { timeoutMs: 10_000, what: "the message" });
    await reader.commit();
    const offsetsFile = join(c.dirOf(0), "config", "consumerOffset.json");
    await waitFor(() => (nodeFileSystem.readText(offsetsFile) ?? "").includes("SettingsG"), { timeoutMs: 10_000, what: "consumerOffset.json written at the new interval" });

    // Written back: the next start reads them (the file is read when no --config is given).
    const file = join(c.dirOf(0), "config", "broker.properties");
    const text = nodeFileSystem.readText(file) ?? "";
    assert.match(text, /^slaveReadEnable=true$/m);
    assert.match(text, /^fileReservedTime=1.5$/m);
    const next = brokerConfigFrom({ storePathRootDir: c.dirOf(0) });
    assert.deepEqual([next.slaveReadEnable, next.fileReservedTime, next.flushConsumerOffsetInterval], [true, 1.5, 100]);
    // A second change rewrites its line in place.
    await admin.updateBrokerConfig({ fileReservedTime: 2 }, { addr: master.addr });
    const again = nodeFileSystem.readText(file) ?? "";
    assert.equal(again.match(/^fileReservedTime=/gm)?.length, 1);
    assert.match(again, /^fileReservedTime=2$/m);

    // A live change the broker acts on at once: unknown groups are refused from now.
    await admin.updateBrokerConfig({ autoCreateSubscriptionGroup: false }, { addr: master.addr });
    const stranger = c.track(new PullConsumer({ namesrvAddr: c.namesrvAddr, group: "Stranger", consumeFromWhere: "first" }));
    await stranger.subscribe("Settings");
    const refusedPull = await rejectionOf(stranger.poll(1_000));
    assert.ok(refusedPull instanceof BolideError && refusedPull.code === ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, String(refusedPull));

    // Refused: a fixed setting (naming why), an unknown one, a bad value; nothing of a refused change applies.
    const fixed = await rejectionOf(admin.updateBrokerConfig({ slaveReadEnable: false, brokerName: "broker-z" }, { addr: master.addr }));
    assert.ok(fixed instanceof InvalidParameterError, String(fixed));
    assert.match(fixed.message, /brokerName cannot change on a running broker: it is who or where the broker is/);
    const layout = await rejectionOf(admin.updateBrokerConfig({ commitLogSegmentBytes: 4096 }, { addr: master.addr }));
    assert.match((layout as Error).message, /commitLogSegmentBytes cannot change on a running broker: it is how the store/);
    const unknown = await rejectionOf(admin.updateBrokerConfig({ noSuchSetting: 1 }, { addr: master.addr }));
    assert.match((unknown as Error).message, /Unknown setting "noSuchSetting"/);
    const bad = await rejectionOf(admin.updateBrokerConfig({ slaveReadEnable: false, fileReservedTime: "soon" }, { addr: master.addr }));
    assert.match((bad as Error).message, /fileReservedTime: "soon" is not a number/);
    const badHours = await rejectionOf(admin.updateBrokerConfig({ deleteWhen: "25" }, { addr: master.addr }));
    assert.match((badHours as Error).message, /deleteWhen/);
    assert.equal(master.config.slaveReadEnable, true, "nothing of a refused change applied");
    assert.equal(master.config.brokerName, "broker-a");
    const noTarget = await rejectionOf(admin.updateBrokerConfig({ maxSendBacklog: 5 }, { brokerName: "broker-z" }));
    assert.match((noTarget as Error).message, /no registered broker matches/);
  });
});
