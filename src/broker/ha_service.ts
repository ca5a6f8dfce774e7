import type { Logger } from "../common/log.ts";
import { ResponseCode } from "../common/response_code.ts";
import { HaPullRequestHeader, HaPullResponseHeader } from "../protocol/headers/broker_header.ts";
import { createRequest, createResponse, type RemotingCommand, successResponse } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import { RemotingClient } from "../remoting/remoting_client.ts";
import type { MessageStore } from "../store/message_store.ts";
import type { EpochEntry, EpochFile } from "./epoch_file.ts";
import { Limits } from "../common/limits.ts";

/**
 * Replication, RocketMQ's classic HA on its own port, carried by our remoting frames instead of
 * a hand-rolled stream: a slave asks HA_PULL with the end of its CommitLog (which is also its
 * acknowledgement of everything below), the master answers with the next whole records (held
 * up to `holdMs` when it has none, so an idle pull doubles as a heartbeat), and the slave appends
 * them byte for byte and asks again at once. SYNC_MASTER sends wait here for enough slaves to
 * acknowledge their end offset.
 */

export interface HAMasterOptions {
  /** Replicas, the master included, that must hold a message before a SYNC_MASTER send is acknowledged. */
  inSyncReplicas: number;
  /** How long a SYNC_MASTER send waits for the slaves (then FLUSH_SLAVE_TIMEOUT). */
  slaveTimeoutMs: number;
  /** A slave further behind than this many bytes is not in sync. */
  maxGapNotInSync: number;
  /** A slave not heard from for this long is not in sync (and is forgotten). */
  housekeepingMs: number;
  /** Longest chunk of records one answer carries. */
  transferBatchBytes: number;
}

export type ReplicationStatus = "OK" | "FLUSH_SLAVE_TIMEOUT" | "SLAVE_NOT_AVAILABLE";

interface SlaveState {
  brokerId: number;
  addr: string;
  /** The slave holds every CommitLog byte below this. */
  acked: number;
  lastSeen: number;
  /** Last time it asked from this log's very end: it held everything then. */
  lastCaughtUp: number;
}

interface Waiter {
  end: number;
  mustAck: readonly number[];
  resolve(s: ReplicationStatus): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface SlaveView {
  brokerId: number;
  addr: string;
  ackedOffset: number;
  behindBytes: number;
  lastSeenMsAgo: number;
  inSync: boolean;
  /** ms since it last held everything (-1: never). */
  caughtUpMsAgo: number;
}

export class HAMaster {
  readonly #slaves = new Map<number, SlaveState>();
  #waiters: Waiter[] = [];
  /** Pulls waiting for the log to grow. */
  readonly #held = new Set<() => void>();

  constructor(
    private readonly store: MessageStore,
    private readonly opts: HAMasterOptions,
    private readonly log: Logger,
    /** Controller mode: the epochs of this log, to find where a rejoining replica diverges. */
    private readonly epochs?: EpochFile,
    /** Controller mode: whether this broker is the master now (a slave's HA port answers nothing). */
    private readonly serving: () => boolean = () => true,
  ) {
    store.onCommitLogAdvanced(() => {
      for (const wake of [...this.#held]) wake();
    });
  }

  /** HA_PULL: records the slave's acknowledgement, then answers with what follows it. */
  async pull(req: RemotingCommand, remoteAddr: string): Promise<RemotingCommand> {
    const h = HaPullRequestHeader.decode(req);
    const { offset, brokerId } = h;
    const holdMs = Math.max(0, Math.min(Limits.maxHaHoldMs, h.holdMs ?? 0));
    if (!this.serving()) return createResponse(ResponseCode.SERVICE_NOT_AVAILABLE, "this broker is not the master");
    const max = this.store.commitLogMaxOffset;
    const replicaEpoch = h.epoch ?? 0;
    const epochExt = this.#epochExt(replicaEpoch);
    if (this.epochs) {
      // A replica that last saw an older epoch may hold writes this log never had, from where
      // the next epoch began: it must cut its log there before copying on.
      const diverge = this.epochs.divergenceFor(replicaEpoch);
      if (offset > diverge) {
        this.#slaves.delete(brokerId);
        return createResponse(ResponseCode.HA_OFFSET_ILLEGAL, `replica ${brokerId} at ${offset} diverged at ${diverge}: truncate`, HaPullResponseHeader.encode({ truncateTo: diverge, ...epochExt }));
      }
    }
    if (offset > max) {
      // The slave has bytes this master never wrote (it followed another master): it must not
      // be counted, and replication cannot continue until it is truncated.
      this.#slaves.delete(brokerId);
      return createResponse(ResponseCode.HA_OFFSET_ILLEGAL, `slave offset ${offset} is beyond this master's end ${max}`, HaPullResponseHeader.encode({ masterMaxOffset: max }));
    }
    const known = this.#slaves.get(brokerId);
    if (!known) this.log.info(`slave ${brokerId} at ${remoteAddr} replicating from offset ${offset}`);
    const now = Date.now();
    this.#slaves.set(brokerId, { brokerId, addr: remoteAddr, acked: offset, lastSeen: now, lastCaughtUp: offset >= max ? now : known?.lastCaughtUp ?? 0 });
    this.#answerWaiters();
    // An empty slave starts where this log starts (older segments may be gone).
    const min = this.store.commitLogMinOffset;
    let from = offset;
    if (offset < min) {
      if (offset !== 0) {
        return createResponse(ResponseCode.HA_OFFSET_ILLEGAL, `slave offset ${offset} is below this master's first stored offset ${min}`, HaPullResponseHeader.encode({ masterMinOffset: min }));
      }
      from = min;
    }
    let chunk = this.store.readReplica(from, this.opts.transferBatchBytes);
    if (!chunk && holdMs > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(t);
          this.#held.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, holdMs);
        this.#held.add(wake);
      });
      chunk = this.store.readReplica(from, this.opts.transferBatchBytes);
      // A slave whose pull was held all along is alive: it counts as heard from now.
      const s = this.#slaves.get(brokerId);
      if (s && s.acked === offset) {
        s.lastSeen = Date.now();
        if (!chunk) s.lastCaughtUp = s.lastSeen;
      }
    }
    return successResponse(HaPullResponseHeader.encode({ offset: from, next: chunk?.next ?? from, masterMaxOffset: this.store.commitLogMaxOffset, ...epochExt }), chunk?.bytes);
  }

  /** This log's epochs, for a replica whose newest epoch differs from ours. */
  #epochExt(replicaEpoch: number): { epochs?: string } {
    if (!this.epochs || this.epochs.lastEpoch === replicaEpoch) return {};
    return { epochs: JSON.stringify(this.epochs.entries) };
  }

  /** Slaves heard from within housekeepingMs and within maxGapNotInSync of this log's end. */
  inSyncCount(now = Date.now()): number {
    const max = this.store.commitLogMaxOffset;
    let n = 0;
    for (const s of this.#slaves.values()) {
      if (now - s.lastSeen <= this.opts.housekeepingMs && max - s.acked <= this.opts.maxGapNotInSync) n++;
    }
    return n;
  }

  /**
   * For a SYNC_MASTER send stored up to `end`: OK once inSyncReplicas − 1 slaves hold it, and,
   * in controller mode, every slave of the sync state set (`mustAck`: any of them may be elected
   * next, so each must hold what was acknowledged); SLAVE_NOT_AVAILABLE at once when fewer slaves
   * than needed are in sync; FLUSH_SLAVE_TIMEOUT after slaveTimeoutMs. The message stays stored
   * in every case.
   */
  waitReplicated(end: number, mustAck: readonly number[] = []): Promise<ReplicationStatus> {
    const needed = Math.max(this.opts.inSyncReplicas - 1, mustAck.length);
    if (needed <= 0 || this.#satisfied(end, mustAck)) return Promise.resolve("OK");
    if (this.inSyncCount() < needed) return Promise.resolve("SLAVE_NOT_AVAILABLE");
    return new Promise((resolve) => {
      const w: Waiter = {
        end,
        mustAck,
        resolve,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          resolve("FLUSH_SLAVE_TIMEOUT");
        }, this.opts.slaveTimeoutMs),
      };
      this.#waiters.push(w);
    });
  }

  /** Forgets slaves silent for longer than housekeepingMs. */
  housekeep(now = Date.now()): void {
    for (const [id, s] of this.#slaves) {
      if (now - s.lastSeen > this.opts.housekeepingMs) {
        this.#slaves.delete(id);
        this.log.warn(`slave ${id} at ${s.addr} silent for ${now - s.lastSeen} ms: dropped`);
      }
    }
  }

  slaves(now = Date.now()): SlaveView[] {
    const max = this.store.commitLogMaxOffset;
    return [...this.#slaves.values()].map((s) => ({
      brokerId: s.brokerId,
      addr: s.addr,
      ackedOffset: s.acked,
      behindBytes: max - s.acked,
      lastSeenMsAgo: now - s.lastSeen,
      inSync: now - s.lastSeen <= this.opts.housekeepingMs && max - s.acked <= this.opts.maxGapNotInSync,
      caughtUpMsAgo: s.lastCaughtUp ? now - s.lastCaughtUp : -1,
    }));
  }

  /** Answers held pulls and waiting sends (shutdown): sends get FLUSH_SLAVE_TIMEOUT. */
  stop(): void {
    for (const wake of [...this.#held]) wake();
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.resolve("FLUSH_SLAVE_TIMEOUT");
    }
    this.#waiters = [];
  }

  #satisfied(end: number, mustAck: readonly number[]): boolean {
    let n = 0;
    for (const s of this.#slaves.values()) if (s.acked >= end) n++;
    if (n < Math.max(this.opts.inSyncReplicas - 1, mustAck.length)) return false;
    return mustAck.every((id) => (this.#slaves.get(id)?.acked ?? -1) >= end);
  }

  #answerWaiters(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.#satisfied(w.end, w.mustAck)) {
        clearTimeout(w.timer);
        w.resolve("OK");
      } else still.push(w);
    }
    this.#waiters = still;
  }
}

export interface HASlaveOptions {
  brokerId: number;
  /** The master's HA address, when known (from configuration or the NameServer). */
  masterHaAddr(): string | undefined;
  /** How long the master may hold a pull with nothing to send: the heartbeat interval. */
  holdMs: number;
  timeoutMs: number;
  /** Pause after a failure before asking again. */
  retryMs: number;
  /** Controller mode: this log's epochs (sent with each pull; the master's are taken). */
  epochs?: EpochFile;
}

/**
 * The slave side: a loop of HA_PULL → append, started by `start()`, ended by `stop()`. It has a
 * connection of its own, closed at stop: a pull held by a master that went silent (a partition
 * drops packets, nobody resets the connection) must not delay a promotion by its whole timeout.
 */
export class HASlave {
  readonly #remoting = new RemotingClient();
  #running = false;
  #loop: Promise<void> | undefined;
  #lastContact = 0;
  #masterMax = 0;
  #lastError = "";
  #wakeSleep: (() => void) | undefined;

  constructor(
    private readonly store: MessageStore,
    private readonly opts: HASlaveOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wakeSleep?.();
    this.#remoting.close(); // fails a pull in flight at once
    await this.#loop;
  }

  status(now = Date.now()): { masterHaAddr: string; offset: number; behindBytes: number; lastContactMsAgo: number; lastError: string } {
    return {
      masterHaAddr: this.opts.masterHaAddr() ?? "",
      offset: this.store.commitLogMaxOffset,
      behindBytes: Math.max(0, this.#masterMax - this.store.commitLogMaxOffset),
      lastContactMsAgo: this.#lastContact ? now - this.#lastContact : -1,
      lastError: this.#lastError,
    };
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const addr = this.opts.masterHaAddr();
      if (!addr) {
        await this.#sleep(this.opts.retryMs);
        continue;
      }
      try {
        const resp = await this.#remoting.invoke(addr, createRequest(RequestCode.HA_PULL, HaPullRequestHeader.encode({
          offset: this.store.commitLogMaxOffset,
          brokerId: this.opts.brokerId,
          holdMs: this.opts.holdMs,
          epoch: this.opts.epochs?.lastEpoch ?? 0,
        })), this.opts.holdMs + this.opts.timeoutMs);
        if (!this.#running) return;
        this.#lastContact = Date.now();
        const h = HaPullResponseHeader.decode(resp);
        this.#masterMax = h.masterMaxOffset ?? this.#masterMax;
        const truncateTo = h.truncateTo;
        if (resp.code === ResponseCode.HA_OFFSET_ILLEGAL && truncateTo !== undefined && this.opts.epochs) {
          // This log holds writes of an epoch the master never saw (this broker was its master).
          await this.store.truncateTo(truncateTo);
          this.opts.epochs.dropFrom(truncateTo);
          this.log.warn(`log truncated to ${truncateTo} to follow master ${addr}`);
          continue;
        }
        if (resp.code !== ResponseCode.SUCCESS) throw new Error(`master ${addr} answered ${resp.code}: ${resp.remark ?? ""}`);
        if (resp.body && resp.body.byteLength > 0) {
          if (h.offset === undefined) throw new Error(`master ${addr} sent records without their offset`);
          await this.store.appendReplicated(h.offset, resp.body);
        }
        const epochs = h.epochs;
        if (this.opts.epochs && epochs !== undefined) this.opts.epochs.adopt(JSON.parse(epochs) as EpochEntry[], this.store.commitLogMaxOffset);
        this.#lastError = "";
      } catch (err) {
        if (!this.#running) return;
        const msg = (err as Error).message;
        if (msg !== this.#lastError) this.log.warn(`replication from ${addr}: ${msg}`);
        this.#lastError = msg;
        await this.#sleep(this.opts.retryMs);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wakeSleep = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wakeSleep = done;
    });
  }
}
