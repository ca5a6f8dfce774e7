import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "../../harness/testing.ts";
import { tempDir } from "../../harness/temp_dir.ts";
import { nodeFileSystem } from "../../../src/platform/file_system.ts";
import { check } from "../../../src/common/check.ts";
import { JsonConfigFile, MetadataFileError } from "../../../src/broker/json_config_file.ts";
import { ConsumerOffsetManager } from "../../../src/broker/consumer_offset_manager.ts";
import { EpochFile } from "../../../src/broker/epoch_file.ts";
import { TopicConfigManager } from "../../../src/broker/topic_config_manager.ts";
import { BrokerController } from "../../../src/broker/broker_controller.ts";
import { mkdirSync } from "node:fs";

const SHAPE = check.object({ offset: check.int(0) });

describe("JsonConfigFile", () => {
  test("saves atomically and keeps the previous good content beside the file", () => {
    using dir = tempDir();
    const path = join(dir.path, "f.json");
    const f = new JsonConfigFile(nodeFileSystem, path, SHAPE);
    assert.equal(f.load(), undefined, "no file yet");
    f.save({ offset: 1 });
    f.save({ offset: 2 });
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), { offset: 2 });
    assert.deepEqual(JSON.parse(readFileSync(`${path}.bak`, "utf8")), { offset: 1 });
    assert.deepEqual(new JsonConfigFile(nodeFileSystem, path, SHAPE).load(), { offset: 2 });
  });

  test("a damaged file is refused, naming the file, the damage and the last good copy; it is never reset", () => {
    using dir = tempDir();
    const path = join(dir.path, "f.json");
    const f = new JsonConfigFile(nodeFileSystem, path, SHAPE);
    f.save({ offset: 1 });
    f.save({ offset: 2 });
    writeFileSync(path, '{"offset": 3');
    assert.throws(() => new JsonConfigFile(nodeFileSystem, path, SHAPE).load(), (err) => {
      assert.ok(err instanceof MetadataFileError);
      assert.match(err.message, /f\.json is damaged \(not JSON: .*\); refusing to start.*last good copy is .*f\.json\.bak/);
      return true;
    });
    writeFileSync(path, '{"offset": -4}');
    assert.throws(() => new JsonConfigFile(nodeFileSystem, path, SHAPE).load(), /damaged \(file\.offset must be an integer ≥ 0, got -4\)/);
    assert.equal(readFileSync(path, "utf8"), '{"offset": -4}', "the damaged file is left for the operator");
    assert.deepEqual(JSON.parse(readFileSync(`${path}.bak`, "utf8")), { offset: 1 });
  });

  test("the broker's metadata files refuse damage too: topics, consumer offsets, controller epochs", () => {
    using dir = tempDir();
    const topics = join(dir.path, "topics.json");
    writeFileSync(topics, JSON.stringify({ topicConfigTable: { T: { topicName: "T", readQueueNums: "four", writeQueueNums: 4, perm: 6 } } }));
    assert.throws(() => new TopicConfigManager(nodeFileSystem, topics, { autoCreateTopicEnable: true, defaultTopicQueueNums: 4 }), /topics\.json is damaged \(file\.topicConfigTable\.T\.readQueueNums must be/);
    const offsets = join(dir.path, "consumerOffset.json");
    writeFileSync(offsets, "\u0000\u0000garbage");
    assert.throws(() => new ConsumerOffsetManager(nodeFileSystem, offsets), MetadataFileError);
    const epochs = join(dir.path, "epoch.json");
    writeFileSync(epochs, JSON.stringify({ epochs: [{ epoch: 1, startOffset: 0 }, { epoch: 2 }] }));
    assert.throws(() => new EpochFile(nodeFileSystem, epochs), /epoch\.json is damaged \(file\.epochs\[1\]\.startOffset must be an integer/);
  });

  test("a broker whose consumerOffset.json is damaged does not start, and says which file and why", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "config"), { recursive: true });
    writeFileSync(join(dir.path, "config", "consumerOffset.json"), '{"offsetTable": {"T@g": {"0": "x"}}}');
    const broker = new BrokerController({ namesrvAddr: "127.0.0.1:1", listenPort: 0, storePathRootDir: dir.path, commitLogSegmentBytes: 1024 * 1024, maxMessageSize: 64 * 1024 });
    await assert.rejects(broker.start(), /consumerOffset\.json is damaged \(file\.offsetTable\.T@g\.0 must be an integer, got "x"\)/);
  });
});
