import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, testNeeding } from "../harness/testing.ts";
import { tempDir } from "../harness/temp_dir.ts";
import { waitFor } from "../harness/wait.ts";
import { createTopic, startBroker, startNameServer } from "../harness/servers.ts";
import { etcdAvailable, startEtcd } from "../harness/etcd.ts";
import { Producer } from "../../src/client/producer.ts";
import { Child, runtimeBinary } from "../harness/process.ts";
import { EtcdClient } from "../../src/controller/etcd_client.ts";
import { decodeBody } from "../../src/protocol/body_codec.ts";
import { ResponseCode } from "../../src/common/response_code.ts";
import { RemotingClient } from "../../src/remoting/remoting_client.ts";
import { createRequest } from "../../src/protocol/remoting_command.ts";
import { RequestCode } from "../../src/protocol/request_code.ts";
import { decodeRecord } from "../../src/common/message_record.ts";
import type { BrokerController } from "../../src/broker/broker_controller.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** One member of a controller group, as its own `bolide controller --etcd` process. */
async function startMember(etcd: string) {
  const child = new Child(runtimeBinary(), [CLI, "controller", "--port", "0", "--etcd", etcd, "--controller-timeout-ms", "800", "--log-level", "warn"]);
  return { child, addr: await child.listenAddr() };
}

const isMaster = (b: BrokerController) => b.runtimeInfo().brokerRole.includes("elected");

const ETCD = { what: "an etcd binary (Debian: etcd-server; .ci/run installs it)", met: etcdAvailable() };

describe("controller group in etcd", () => {
  testNeeding(ETCD, "three controllers, one leads; losing it moves the lead and the state, the data path keeps going, and the next failover still happens", async () => {
    using dir = tempDir();
    await using etcd = await startEtcd();
    const members = [await startMember(etcd.url), await startMember(etcd.url), await startMember(etcd.url)];
    const admin = new RemotingClient();
    /** The member answering as leader, and its view of the group. */
    const leader = async () => {
      for (const m of members) {
        const r = await admin.invoke(m.addr, createRequest(RequestCode.CONTROLLER_GET_GROUPS), 1000).catch(() => undefined);
        if (r?.code === ResponseCode.SUCCESS) {
          const groups = decodeBody<{ groups: { brokerName: string; epoch: number; masterId: number; syncStateSet: number[] }[] }>(r.body, r.serializeType).groups;
          return { member: m, view: groups.find((g) => g.brokerName === "broker-a") };
        }
      }
      return undefined;
    };
    await waitFor(leader, { what: "a leader" });
    await using ns = await startNameServer({ controller: false });
    const controllerAddr = members.map((m) => m.addr).join(";");
    const CONTROLLED = (id: number) => ({
      enableControllerMode: true, brokerId: id, brokerRole: "SYNC_MASTER" as const, controllerAddr,
      controllerHeartbeatInterval: 100, controllerLeaseMs: 600, haSendHeartbeatInterval: 200, haMetadataSyncInterval: 200, registerNameServerPeriod: 500,
    });
    await using b1 = await startBroker(ns.addr, join(dir.path, "b1"), CONTROLLED(1));
    await waitFor(() => isMaster(b1), { what: "broker 1 elected" });
    await createTopic(b1.addr, "G", 2);
    await using b2 = await startBroker(ns.addr, join(dir.path, "b2"), CONTROLLED(2));
    await waitFor(async () => (await leader())?.view?.syncStateSet.length === 2, { what: "both brokers in the sync state set" });
    const producer = new Producer({ namesrvAddr: ns.addr, group: "pg", sendTimeoutMs: 2000 });
    const acked: string[] = [];
    const send = async (body: string) => {
      try {
        const r = await producer.send({ topic: "G", body });
        if (r.status === "SEND_OK") acked.push(body);
        return r.status;
      } catch {
        return "failed";
      }
    };
    assert.equal(await send("before"), "SEND_OK");

    // The leading controller is killed (SIGKILL: no resignation, its etcd lease must run out):
    // sends keep being acknowledged meanwhile, and another member leads with the same view,
    // loaded from etcd.
    const first = (await leader())!;
    assert.equal(await new EtcdClient([etcd.url]).leader("bolide/controller/leader"), first.member.addr, "etcd names the leading member");
    first.member.child.kill("SIGKILL");
    await first.member.child.exited;
    members.splice(members.indexOf(first.member), 1);
    const cutAt = Date.now();
    const statuses: string[] = [];
    await waitFor(async () => {
      statuses.push(await send(`during-${statuses.length}`));
      return (await leader()) !== undefined;
    }, { what: "a new controller leader", timeoutMs: 15_000 });
    console.log(`controller group: a new leader ${Date.now() - cutAt} ms after the old one was killed; ${statuses.length} sends meanwhile`);
    assert.deepEqual([...new Set(statuses)], ["SEND_OK"], "the data path kept acknowledging while no controller led");
    const second = (await leader())!;
    assert.deepEqual([second.view?.epoch, second.view?.masterId, second.view?.syncStateSet], [first.view?.epoch, first.view?.masterId, first.view?.syncStateSet]);

    // The master dies: the new leader fails the group over.
    await b1.kill();
    const killedAt = Date.now();
    await waitFor(async () => (await send(`after-${Date.now()}`)) !== "failed" && isMaster(b2), { what: "broker 2 elected by the new leader", timeoutMs: 15_000 });
    console.log(`controller group: failover by the second leader took ${Date.now() - killedAt} ms`);
    assert.equal((await leader())!.view!.epoch, first.view!.epoch + 1);
    const stored = new Set<string>();
    for (let q = 0; q < 2; q++) {
      const r = b2.store.getMessage("G", q, 0, 100_000);
      for (const raw of r.messages) stored.add(new TextDecoder().decode(decodeRecord(raw).body));
    }
    assert.deepEqual(acked.filter((b) => !stored.has(b)), [], "acknowledged messages missing on the new master");
    admin.close();
    await producer.shutdown();
    for (const m of members) await m.child[Symbol.asyncDispose]();
  }, 60_000);
});
