import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, test } from "../../harness/testing.ts";
import { tempDir } from "../../harness/temp_dir.ts";
import { brokerConfig } from "../../../src/broker/broker_config.ts";
import { LIVE_SETTINGS, RuntimeConfig } from "../../../src/broker/runtime_config.ts";
import { InvalidParameterError } from "../../../src/common/errors.ts";
import { silentLogger } from "../../../src/common/log.ts";
import { nodeFileSystem } from "../../../src/platform/file_system.ts";

describe("RuntimeConfig", () => {
  test("a change rewrites only its lines of the properties file, keeping comments and the rest; listeners hear each change once", () => {
    using dir = tempDir();
    const path = join(dir.path, "broker.properties");
    writeFileSync(path, "# broker-a\nbrokerName=broker-a\nfileReservedTime = 48\n! old style comment\n");
    const config = brokerConfig({ brokerName: "broker-a", fileReservedTime: "48" });
    const rc = new RuntimeConfig(config, nodeFileSystem, path, silentLogger);
    let heard = 0;
    rc.onChange(["fileReservedTime", "deleteWhen"], () => heard++);
    assert.deepEqual(rc.update({ fileReservedTime: "12", deleteWhen: "03;04", maxSendBacklog: String(config.maxSendBacklog) }).sort(), ["deleteWhen", "fileReservedTime"]);
    assert.equal(heard, 1, "one call for a change of two settings it listens to");
    assert.equal(readFileSync(path, "utf8"), "# broker-a\nbrokerName=broker-a\nfileReservedTime=12\n! old style comment\ndeleteWhen=03;04\n");
    assert.equal(rc.version.counter, 1);
    assert.deepEqual(rc.update({ fileReservedTime: "12" }), [], "no change: nothing written, nobody told");
    assert.equal(heard, 1);
    assert.match(rc.text(), /^fileReservedTime=12$/m);
  });

  test("all or nothing: a fixed, unknown or bad setting refuses the whole change", () => {
    using dir = tempDir();
    const config = brokerConfig();
    const rc = new RuntimeConfig(config, nodeFileSystem, join(dir.path, "b.properties"), silentLogger);
    for (const [changes, why] of [
      [{ slaveReadEnable: "true", storePathRootDir: "/elsewhere" }, /storePathRootDir cannot change on a running broker: it is how the store/],
      [{ slaveReadEnable: "true", transactionCheckInterval: "10" }, /transactionCheckInterval cannot change on a running broker: it is read once/],
      [{ slaveReadEnable: "true", nope: "1" }, /Unknown setting "nope"/],
      [{ slaveReadEnable: "yes" }, /slaveReadEnable: "yes" is not true or false/],
      [{ slaveReadEnable: "true", diskMaxUsedSpaceRatio: "95" }, /diskMaxUsedSpaceRatio: 95 is outside 1..90/],
      [{}, /names no setting/],
    ] as const) {
      assert.throws(() => rc.update(changes as Record<string, string>), (e: unknown) => e instanceof InvalidParameterError && why.test(e.message), JSON.stringify(changes));
    }
    assert.equal(config.slaveReadEnable, false);
    assert.equal(nodeFileSystem.exists(join(dir.path, "b.properties")), false, "nothing written");
  });

  test("docs/operations.md lists every live setting", () => {
    const doc = readFileSync(new URL("../../../docs/operations.md", import.meta.url), "utf8");
    for (const name of Object.keys(LIVE_SETTINGS)) assert.match(doc, new RegExp(`^\\| ${name} \\|`, "m"), name);
  });
});
