import type { Logger } from "../common/log.ts";
import { EtcdClient, type LeaderKey } from "./etcd_client.ts";
import type { GroupState } from "./replica_controller.ts";

const ELECTION = "bolide/controller/leader";
const GROUPS = "bolide/controller/groups/";

export interface EtcdLeadershipOptions {
  endpoints: string[];
  /** The address brokers reach this controller at; proclaimed when it leads. */
  selfAddr: string;
  /** Lease TTL, seconds: a leader that stops renewing loses the election after this long. */
  ttlSeconds?: number;
}

/**
 * A controller group's leadership and memory, both kept in etcd: every member campaigns with a
 * lease it renews; the one etcd elects loads the groups' states, and every state it changes is
 * written only while it still holds the election (a txn on its election key), so a deposed
 * leader can never overwrite its successor. The followers answer brokers with the leader's
 * address.
 */
export class EtcdLeadership {
  readonly #client: EtcdClient;
  readonly #ttl: number;
  #lease = "";
  #leader: LeaderKey | undefined;
  #leaderAddr: string | undefined;
  #running = false;
  #campaign: AbortController | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #watch: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly opts: EtcdLeadershipOptions,
    private readonly log: Logger,
    /** Called with the stored states when this member becomes the leader, and with undefined when it stops being it. */
    private readonly onChange: (states: GroupState[] | undefined) => void,
  ) {
    this.#client = new EtcdClient(opts.endpoints);
    this.#ttl = opts.ttlSeconds ?? 2;
  }

  get isLeader(): boolean {
    return this.#leader !== undefined;
  }

  /** The leader's address as last seen (this member's own when it leads). */
  get leaderAddr(): string | undefined {
    return this.#leader ? this.opts.selfAddr : this.#leaderAddr;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#run();
    this.#watch = setInterval(() => {
      if (!this.#leader) this.#client.leader(ELECTION).then((a) => void (this.#leaderAddr = a), () => {});
    }, 300);
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#watch);
    this.#campaign?.abort();
    const leader = this.#leader;
    this.#depose("stopping");
    if (leader) await this.#client.resign(leader);
    if (this.#lease) await this.#client.revokeLease(this.#lease);
  }

  /** Stores a group's state; false (and the leadership given up) when this member no longer leads. */
  async persist(state: GroupState): Promise<boolean> {
    const leader = this.#leader;
    if (!leader) return false;
    try {
      if (await this.#client.putIfLeader(leader, GROUPS + state.brokerName, JSON.stringify(state))) return true;
      this.#lostLease(this.#lease, "etcd refused a write: another controller leads");
    } catch (err) {
      this.#lostLease(this.#lease, `etcd write failed: ${(err as Error).message}`);
    }
    return false;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        this.#lease = await this.#client.grantLease(this.#ttl);
        const lease = this.#lease;
        let renewed = Date.now();
        clearInterval(this.#keepAlive);
        this.#keepAlive = setInterval(() => {
          // Lost when etcd says so, or when no renewal got through for most of the TTL (etcd may
          // expire it any moment then, and a successor may already lead).
          if (Date.now() - renewed > this.#ttl * 800) return this.#lostLease(lease, `no lease renewal for ${Date.now() - renewed} ms`);
          this.#client.keepAlive(lease).then(
            (ttl) => (ttl > 0 ? void (renewed = Date.now()) : this.#lostLease(lease, "the lease expired")),
            () => {},
          );
        }, Math.max(100, (this.#ttl * 1000) / 5));
        this.#campaign = new AbortController();
        const leader = await this.#client.campaign(ELECTION, lease, this.opts.selfAddr, this.#campaign.signal);
        if (!this.#running || this.#lease !== lease) continue;
        const states = (await this.#client.range(GROUPS)).map((kv) => JSON.parse(kv.value) as GroupState);
        this.#leader = leader;
        this.log.warn(`controller ${this.opts.selfAddr} leads (${states.length} broker groups loaded from etcd)`);
        this.onChange(states);
        // Lead until the lease is lost (#lostLease aborts this wait).
        await new Promise<void>((resolve) => this.#campaign!.signal.addEventListener("abort", () => resolve(), { once: true }));
      } catch (err) {
        if (!this.#running) return;
        this.log.warn(`controller election: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  #lostLease(lease: string, why: string): void {
    if (!lease || lease !== this.#lease) return;
    this.#lease = "";
    clearInterval(this.#keepAlive);
    this.#depose(why);
    this.#campaign?.abort();
    void this.#client.revokeLease(lease); // its candidate key must not win an election later
  }

  #depose(why: string): void {
    if (!this.#leader) return;
    this.#leader = undefined;
    this.log.warn(`controller ${this.opts.selfAddr} no longer leads: ${why}`);
    this.onChange(undefined);
  }
}
