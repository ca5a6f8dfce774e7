import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** Whether an etcd server binary is installed (Debian: etcd-server; .ci/run installs it). */
export function etcdAvailable(): boolean {
  return spawnSync("sh", ["-c", "command -v etcd"]).status === 0;
}

/** A real single-member etcd on loopback with its data in a temp dir, removed at dispose. */
export async function startEtcd(): Promise<{ url: string } & AsyncDisposable> {
  const dir = mkdtempSync(join(tmpdir(), "bolide-etcd-"));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const proc = spawn("etcd", [
    "--name", "t", "--data-dir", join(dir, "data"),
    "--listen-client-urls", url, "--advertise-client-urls", url,
    "--listen-peer-urls", `http://127.0.0.1:${peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peer}`,
    "--initial-cluster", `t=http://127.0.0.1:${peer}`,
  ], { stdio: "ignore" });
  const exited = new Promise((r) => proc.on("exit", r));
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error("etcd did not start within 15 s");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async [Symbol.asyncDispose]() {
      proc.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
