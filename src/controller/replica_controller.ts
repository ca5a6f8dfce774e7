import { InvalidParameterError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";

/**
 * Automatic failover (RocketMQ 5's controller mode, RIP-44): for each broker group the
 * controller keeps the master, an epoch that grows with every election, and the sync state set
 * (the replicas holding everything the master acknowledged). Brokers heartbeat it; when the
 * master falls silent for heartbeatTimeoutMs it elects the most advanced live member of the sync
 * state set, bumps the epoch, and every broker learns the new view from its next heartbeat. A
 * replica outside the set is never elected (no unclean election): with no electable replica the
 * group waits without a master.
 */

export interface ControllerOptions {
  /** A broker silent this long is dead; a dead master is replaced. */
  heartbeatTimeoutMs: number;
  /** Groups tracked at most (each costs a few hundred bytes). */
  maxGroups?: number;
}

/** What a broker reports every heartbeat. */
export interface ReplicaHeartbeat {
  clusterName: string;
  brokerName: string;
  /** Stable id of this replica within its group (≥ 1). */
  brokerId: number;
  /** Client address (host:port) and HA address. */
  addr: string;
  haAddr: string;
  /** The newest epoch this replica knows, and the end of its CommitLog. */
  epoch: number;
  maxOffset: number;
  /** Whether it claims to be the master of `epoch` (used to rebuild state after a controller restart). */
  isMaster: boolean;
}

/** The group as the controller sees it, answered to every heartbeat. */
export interface GroupView {
  brokerName: string;
  epoch: number;
  /** 0 when the group has no master. */
  masterId: number;
  masterAddr: string;
  masterHaAddr: string;
  /** Where the master's epoch begins in the CommitLog. */
  epochStartOffset: number;
  syncStateSet: number[];
}

/** What the controller must not forget about a group (kept in etcd by a controller group): its view. */
export type GroupState = GroupView;

interface Replica {
  brokerId: number;
  addr: string;
  haAddr: string;
  maxOffset: number;
  lastSeen: number;
}

interface Group {
  brokerName: string;
  epoch: number;
  masterId: number;
  epochStartOffset: number;
  syncStateSet: Set<number>;
  replicas: Map<number, Replica>;
  /**
   * False for a group this controller has not seen elect a master (it is new, or the controller
   * restarted): its sync state set is unknown, so the first election waits electNotBefore for a
   * master to announce itself, then takes the live replica with the longest log.
   */
  known: boolean;
  electNotBefore: number;
}

export class ReplicaController {
  readonly #groups = new Map<string, Group>();

  constructor(private readonly opts: ControllerOptions, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  /** Records a heartbeat and answers with the group's view (electing a first master if it has none). */
  heartbeat(hb: ReplicaHeartbeat): GroupView {
    if (!Number.isInteger(hb.brokerId) || hb.brokerId < 1) throw new InvalidParameterError(`controller mode needs brokerId ≥ 1, got ${hb.brokerId}`);
    if (!hb.brokerName || !hb.addr) throw new InvalidParameterError("a controller heartbeat needs brokerName and addr");
    const now = this.now();
    let g = this.#groups.get(hb.brokerName);
    if (!g) {
      if (this.#groups.size >= (this.opts.maxGroups ?? 10_000)) throw new InvalidParameterError(`the controller tracks ${this.#groups.size} broker groups, its maximum`);
      g = {
        brokerName: hb.brokerName,
        epoch: 0,
        masterId: 0,
        epochStartOffset: 0,
        syncStateSet: new Set(),
        replicas: new Map(),
        known: false,
        electNotBefore: now + this.opts.heartbeatTimeoutMs,
      };
      this.#groups.set(hb.brokerName, g);
    }
    g.replicas.set(hb.brokerId, { brokerId: hb.brokerId, addr: hb.addr, haAddr: hb.haAddr, maxOffset: hb.maxOffset, lastSeen: now });
    if (hb.isMaster && (hb.epoch > g.epoch || (!g.known && hb.epoch === g.epoch && g.masterId === 0))) {
      // A master of an epoch we did not elect: this controller restarted and lost its state.
      g.epoch = hb.epoch;
      g.masterId = hb.brokerId;
      g.epochStartOffset = 0;
      g.syncStateSet = new Set([hb.brokerId]);
      g.known = true;
      this.log.info(`group ${g.brokerName}: master ${hb.brokerId} announced epoch ${hb.epoch}`);
    } else if (hb.epoch > g.epoch) {
      g.epoch = hb.epoch; // the next election must go past every epoch a replica has seen
    }
    if (g.masterId === 0) this.#elect(g, now);
    return this.#view(g);
  }

  /**
   * The master changes its sync state set (a slave caught up, or fell behind). Refused unless
   * it comes from the current master at the current epoch (a fenced master cannot shrink it).
   */
  alterSyncStateSet(brokerName: string, masterId: number, epoch: number, set: number[]): GroupView {
    const g = this.#groups.get(brokerName);
    if (!g) throw new InvalidParameterError(`unknown broker group ${brokerName}`);
    if (g.masterId !== masterId || g.epoch !== epoch) {
      throw new InvalidParameterError(`broker ${masterId} at epoch ${epoch} is not the master of ${brokerName} (master ${g.masterId}, epoch ${g.epoch})`);
    }
    const next = new Set(set.filter((id) => Number.isInteger(id) && id >= 1));
    next.add(masterId);
    g.syncStateSet = next;
    return this.#view(g);
  }

  /** Replaces masters silent for longer than heartbeatTimeoutMs. Returns the groups that changed. */
  scan(): string[] {
    const now = this.now();
    const changed: string[] = [];
    for (const g of this.#groups.values()) {
      for (const [id, r] of g.replicas) {
        // Forget replicas silent for long (they re-announce themselves when they come back).
        if (now - r.lastSeen > 60 * this.opts.heartbeatTimeoutMs && id !== g.masterId) g.replicas.delete(id);
      }
      const master = g.replicas.get(g.masterId);
      if (g.masterId !== 0 && master && now - master.lastSeen <= this.opts.heartbeatTimeoutMs) continue;
      if (g.masterId !== 0) {
        this.log.warn(`group ${g.brokerName}: master ${g.masterId} silent for ${master ? now - master.lastSeen : "?"} ms`);
        g.masterId = 0;
      }
      if (this.#elect(g, now)) changed.push(g.brokerName);
    }
    return changed;
  }

  /** The durable part of a group, to compare before and after a change and to store. */
  state(brokerName: string): GroupState | undefined {
    const g = this.#groups.get(brokerName);
    if (!g || !g.known) return undefined;
    return this.#view(g);
  }

  /**
   * A controller that just became the leader takes the stored groups. Liveness is not stored:
   * each master counts as heard from now, so nobody is replaced before it had a timeout's worth
   * of chances to heartbeat this controller.
   */
  restore(states: GroupState[]): void {
    const now = this.now();
    this.#groups.clear();
    for (const st of states) {
      const replicas = new Map<number, Replica>();
      if (st.masterId !== 0) replicas.set(st.masterId, { brokerId: st.masterId, addr: st.masterAddr, haAddr: st.masterHaAddr, maxOffset: st.epochStartOffset, lastSeen: now });
      this.#groups.set(st.brokerName, {
        brokerName: st.brokerName,
        epoch: st.epoch,
        masterId: st.masterId,
        epochStartOffset: st.epochStartOffset,
        syncStateSet: new Set(st.syncStateSet),
        replicas,
        known: true,
        electNotBefore: now + this.opts.heartbeatTimeoutMs,
      });
    }
  }

  /** Forgets everything (a controller that lost the leadership). */
  clear(): void {
    this.#groups.clear();
  }

  view(brokerName: string): GroupView | undefined {
    const g = this.#groups.get(brokerName);
    return g && this.#view(g);
  }

  groups(): GroupView[] {
    return [...this.#groups.values()].map((g) => this.#view(g));
  }

  /** Elects the live member of the sync state set with the longest log; false when none can be. */
  #elect(g: Group, now: number): boolean {
    const alive = [...g.replicas.values()].filter((r) => now - r.lastSeen <= this.opts.heartbeatTimeoutMs);
    if (!g.known && now < g.electNotBefore) return false;
    const electable = g.known ? alive.filter((r) => g.syncStateSet.has(r.brokerId)) : alive;
    if (electable.length === 0) return false;
    electable.sort((a, b) => b.maxOffset - a.maxOffset || a.brokerId - b.brokerId);
    const winner = electable[0];
    g.epoch++;
    g.masterId = winner.brokerId;
    g.epochStartOffset = winner.maxOffset;
    g.syncStateSet = new Set([winner.brokerId]);
    g.known = true;
    this.log.warn(`group ${g.brokerName}: broker ${winner.brokerId} (${winner.addr}) elected master at epoch ${g.epoch}`);
    return true;
  }

  #view(g: Group): GroupView {
    const m = g.replicas.get(g.masterId);
    return {
      brokerName: g.brokerName,
      epoch: g.epoch,
      masterId: g.masterId,
      masterAddr: m?.addr ?? "",
      masterHaAddr: m?.haAddr ?? "",
      epochStartOffset: g.epochStartOffset,
      syncStateSet: [...g.syncStateSet].sort((a, b) => a - b),
    };
  }
}
