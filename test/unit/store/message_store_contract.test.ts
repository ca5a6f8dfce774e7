import { tempDir } from "../../harness/temp_dir.ts";
import { DefaultMessageStore } from "../../../src/store/default_message_store.ts";
import { MemoryMessageStore } from "../../../src/store/memory_message_store.ts";
import { describeMessageStore } from "./message_store_contract.ts";

describeMessageStore("DefaultMessageStore (files)", () => {
  const dir = tempDir();
  const store = DefaultMessageStore.open({ storePathRootDir: dir.path, commitLogSegmentBytes: 128 * 1024, maxMessageSize: 32 * 1024, indexHashSlots: 101, indexMaxEntries: 400 });
  return {
    store,
    async [Symbol.asyncDispose]() {
      await store.close();
      dir[Symbol.dispose]();
    },
  };
});

describeMessageStore("MemoryMessageStore", () => {
  const store = new MemoryMessageStore({ maxMessageSize: 32 * 1024 });
  return { store, [Symbol.asyncDispose]: () => store.close() };
});
