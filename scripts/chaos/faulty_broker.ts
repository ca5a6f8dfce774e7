/**
 * A broker process whose disk can be made slow or full from outside, for the chaos checker:
 * `bolide broker`'s settings as `--<setting> value` flags, and BOLIDE_CHAOS_CONTROL naming a
 * JSON file read every 50 ms: {"slowSyncMs": N} delays every fdatasync by N ms (a slow disk, as
 * the store's flush and SYNC_FLUSH acknowledgements see it), {"full": true} makes every data
 * write fail with ENOSPC and the disk report itself full (as a filled partition does). Prints
 * its listen address as its first line, like `bolide broker`.
 *
 * Usage: bun scripts/chaos/faulty_broker.ts --namesrvAddr H:P --listenPort N --storePathRootDir DIR [...]
 */
import { readFileSync } from "node:fs";
import { BrokerController } from "../../src/broker/broker_controller.ts";
import { brokerConfigFrom } from "../../src/cli/server_commands.ts";
import { createLogger } from "../../src/common/log.ts";
import { type FileSystem, nodeFileSystem, type StoreFile } from "../../src/platform/file_system.ts";

interface Control {
  slowSyncMs?: number;
  full?: boolean;
}

const controlPath = process.env.BOLIDE_CHAOS_CONTROL;
let control: Control = {};
function readControl(): void {
  if (!controlPath) return;
  try {
    control = JSON.parse(readFileSync(controlPath, "utf8"));
  } catch {
    control = {}; // absent or being rewritten: no fault
  }
}
readControl();
setInterval(readControl, 50).unref();

const enospc = (path: string) => Object.assign(new Error(`ENOSPC: no space left on device, write '${path}' (chaos: full disk)`), { code: "ENOSPC" });

function faultyFile(inner: StoreFile): StoreFile {
  return {
    get path() {
      return inner.path;
    },
    write(data, position) {
      if (control.full) throw enospc(inner.path);
      inner.write(data, position);
    },
    read: (buf, position) => inner.read(buf, position),
    async sync() {
      const ms = control.slowSyncMs ?? 0;
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      await inner.sync();
    },
    size: () => inner.size(),
    truncate: (length) => inner.truncate(length),
    close: () => inner.close(),
  };
}

const faultyFs: FileSystem = {
  ...nodeFileSystem,
  open: (path, opts) => faultyFile(nodeFileSystem.open(path, opts)),
  writeTextAtomic(path, text) {
    if (control.full) throw enospc(path);
    nodeFileSystem.writeTextAtomic(path, text);
  },
  diskUsage(path) {
    const u = nodeFileSystem.diskUsage(path);
    return control.full ? { ...u, freeBytes: 0, usedRatio: 0.999 } : u;
  },
};

const values: Record<string, string> = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error(`expected --<setting> value, got ${argv[i]}`);
  values[argv[i].slice(2)] = argv[i + 1];
}
const level = (values["log-level"] ?? "warn") as "debug" | "info" | "warn" | "error";
delete values["log-level"];
const config = brokerConfigFrom(values);
const log = createLogger(`broker.${config.brokerName}.${config.brokerId}`, level);
const broker = new BrokerController(config, { log, fs: faultyFs });
const addr = await broker.start();
console.log(`bolide broker listening on ${addr}`);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    void broker.shutdown().finally(() => process.exit(0));
  });
}
