import type { Logger } from "../common/log.ts";
import { MessageProperty, SysFlag } from "../common/message.ts";
import { decodeRecord, type StoredMessage } from "../common/message_record.ts";
import { check } from "../common/check.ts";
import type { FileSystem } from "../platform/file_system.ts";
import type { MessageStore, PutMessageRequest, PutResult } from "../store/message_store.ts";
import { fromUtf8, utf8 } from "../util/bytes.ts";
import { JsonConfigFile } from "./json_config_file.ts";
import { copyOfStored, toRealTopic } from "./real_topic.ts";
import { Limits } from "../common/limits.ts";
import { createOffsetMsgId } from "../common/message_id.ts";
import { CheckTransactionStateRequestHeader } from "../protocol/headers/transaction_header.ts";
import { createRequest } from "../protocol/remoting_command.ts";
import { RequestCode } from "../protocol/request_code.ts";
import type { ClientManager } from "./client_manager.ts";

/** transactionOffset.json: how far the check service and the op queue have been read. */
const TRANSACTION_FILE = check.object({ halfOffset: check.int(0), opOffset: check.int(0) });

/** Half messages wait here, invisible to consumers (one queue). */
export const HALF_TOPIC = "RMQ_SYS_TRANS_HALF_TOPIC";
/** One op record per decision: body "uniqKey,bound" (see #decided). */
export const OP_TOPIC = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/** Half messages still undecided after transactionCheckMax check-backs end up here, for an operator. */
export const PARK_TOPIC = "TRANS_CHECK_MAX_TIME_TOPIC";

const READ_BATCH = Limits.serviceReadBatch;
/** One check round stops after this long; the next round goes on from there. */
const MAX_ROUND_MS = Limits.transactionCheckRoundMs;

export interface TransactionConfig {
  transactionTimeout: number;
  transactionCheckInterval: number;
  transactionCheckMax: number;
}

export interface CheckBack {
  /** The copy just appended to the half queue: its record and where it is. */
  raw: Uint8Array;
  put: PutResult;
  producerGroup: string;
}

/**
 * Transactional messages on the broker (RocketMQ §3.9). A half message is stored in HALF_TOPIC
 * with its real topic and queue in properties. A commit puts the real message and then an op
 * record; a rollback puts only the op record. Decisions are keyed by the message's unique id,
 * so a second commit (a late END_TRANSACTION after a check-back answered) is ignored.
 *
 * Every transactionCheckInterval a round walks the half queue from its check point: decided
 * messages are passed; one older than transactionTimeout is appended again with
 * TRANSACTION_CHECK_TIMES + 1 (so the check point can move past it) and a CHECK_TRANSACTION_STATE
 * goes to a live producer of its group; after transactionCheckMax checks it is moved to
 * PARK_TOPIC instead. The check point and the op-queue point are persisted; decisions live in
 * the op queue, so a restart neither resurrects a decided message nor loses an undecided one.
 */
export class TransactionalMessageService {
  /** Unique id → half-queue max offset when it was decided: every copy of it lies below. */
  readonly #decided = new Map<string, number>();
  /** Decisions in op-queue order, so they leave #decided (and the op point moves) in order. */
  #decidedOrder: { opOffset: number; uniq: string; bound: number }[] = [];
  #halfOffset = 0;
  #opOffset = 0;
  /** Next op record to read into #decided. */
  #opRead = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #file: JsonConfigFile<ReturnType<typeof TRANSACTION_FILE>>;
  #running = false;
  #stopped = true;

  constructor(
    private readonly store: MessageStore,
    fs: FileSystem,
    path: string,
    private readonly config: TransactionConfig,
    /** Puts a message (real topic, op, park, or a half copy) and resolves with where it went. */
    private readonly put: (req: PutMessageRequest) => Promise<PutResult>,
    /** Sends a check-back; false when no producer of the group is connected. */
    private readonly checkBack: (c: CheckBack) => boolean,
    private readonly log: Logger,
  ) {
    this.#file = new JsonConfigFile(fs, path, TRANSACTION_FILE);
    const saved = this.#file.load();
    if (saved) {
      this.#halfOffset = saved.halfOffset;
      this.#opOffset = saved.opOffset;
    }
    this.#opRead = this.#opOffset;
  }

  start(): void {
    this.#stopped = false;
    this.#readOps();
    this.#timer = setInterval(() => void this.check(), this.config.transactionCheckInterval);
  }

  stop(persist = true): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    if (persist) this.#persist();
  }

  /** Half messages not yet passed by the check point (decided or not). */
  get halfBacklog(): number {
    return Math.max(0, this.store.maxOffset(HALF_TOPIC, 0) - this.#halfOffset);
  }

  /** The stored half message for a client's END_TRANSACTION. */
  halfAt(commitLogOffset: number): StoredMessage | undefined {
    const m = this.store.lookMessageByOffset(commitLogOffset);
    return m && m.topic === HALF_TOPIC ? m : undefined;
  }

  /**
   * Commits (puts the real message) or rolls back the half message `half`, then records the
   * decision. Returns false when it was decided already (the call changes nothing).
   */
  async decide(half: StoredMessage, commit: boolean, toReal: (half: StoredMessage) => PutMessageRequest): Promise<boolean> {
    this.#readOps();
    const uniq = uniqOf(half);
    if (this.#decided.has(uniq)) return false;
    const bound = this.store.maxOffset(HALF_TOPIC, 0);
    this.#decided.set(uniq, bound); // before any await: a concurrent decision sees it
    try {
      if (commit) await this.put(toReal(half));
      await this.#recordOp(uniq, bound);
    } catch (err) {
      this.#decided.delete(uniq);
      throw err;
    }
    return true;
  }

  async #recordOp(uniq: string, bound: number): Promise<void> {
    const r = await this.put({ topic: OP_TOPIC, queueId: 0, body: utf8(`${uniq},${bound}`), properties: { [MessageProperty.TAGS]: "d" } });
    this.#decidedOrder.push({ opOffset: r.queueOffset, uniq, bound });
    if (r.queueOffset >= this.#opRead) this.#opRead = r.queueOffset + 1;
  }

  /** Reads op records not yet seen (after a restart: all since the persisted op point). */
  #readOps(): void {
    for (;;) {
      const r = this.store.getMessage(OP_TOPIC, 0, this.#opRead, READ_BATCH);
      if (r.status !== "FOUND" && r.status !== "OFFSET_FOUND_NULL") {
        if (r.status === "OFFSET_TOO_SMALL") {
          this.#opRead = r.nextBeginOffset;
          continue;
        }
        return;
      }
      for (const raw of r.messages) {
        const m = decodeRecord(raw);
        const [uniq, boundText] = fromUtf8(m.body).split(",");
        const bound = Number(boundText);
        if (!uniq || !Number.isSafeInteger(bound)) continue;
        if (!this.#decided.has(uniq)) {
          this.#decided.set(uniq, bound);
          this.#decidedOrder.push({ opOffset: m.queueOffset, uniq, bound });
        }
      }
      this.#opRead = r.nextBeginOffset;
    }
  }

  /** One check round (also run by the timer). */
  async check(now = Date.now()): Promise<void> {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    try {
      this.#readOps();
      const until = now + MAX_ROUND_MS;
      round: while (!this.#stopped && Date.now() < until) {
        const r = this.store.getMessage(HALF_TOPIC, 0, this.#halfOffset, READ_BATCH);
        if (r.status === "OFFSET_TOO_SMALL" || r.status === "OFFSET_FOUND_NULL") {
          this.#halfOffset = r.nextBeginOffset;
          continue;
        }
        if (r.status !== "FOUND") break;
        for (const raw of r.messages) {
          const m = decodeRecord(raw);
          if (this.#decided.has(uniqOf(m))) {
            this.#halfOffset = m.queueOffset + 1;
            continue;
          }
          // In store order, so every later one is younger: nothing more to check this round.
          if (now - m.storeTimestamp < this.config.transactionTimeout) break round;
          await this.#checkOne(m);
          this.#halfOffset = m.queueOffset + 1;
        }
      }
      this.#prune();
      this.#persist();
    } catch (err) {
      this.log.warn(`transaction check round failed: ${(err as Error).message}`);
    } finally {
      this.#running = false;
    }
  }

  async #checkOne(m: StoredMessage): Promise<void> {
    const checks = Number(m.properties[MessageProperty.TRANSACTION_CHECK_TIMES] ?? "0") || 0;
    const group = m.properties[MessageProperty.PRODUCER_GROUP] ?? "";
    const uniq = uniqOf(m);
    if (checks >= this.config.transactionCheckMax) {
      const bound = this.store.maxOffset(HALF_TOPIC, 0);
      this.#decided.set(uniq, bound);
      await this.put({ ...copyOfStored(m), topic: PARK_TOPIC, queueId: 0 });
      await this.#recordOp(uniq, bound);
      this.log.warn(`half message ${uniq} of ${m.properties[MessageProperty.REAL_TOPIC]} still undecided after ${checks} check-backs: parked in ${PARK_TOPIC}`);
      return;
    }
    // The copy goes to the end of the half queue, so the check point can pass the original.
    const put = await this.put({
      ...copyOfStored(m),
      topic: HALF_TOPIC,
      queueId: 0,
      properties: { ...m.properties, [MessageProperty.TRANSACTION_CHECK_TIMES]: String(checks + 1) },
    });
    const raw = this.store.readRecord(put.physicalOffset);
    if (raw && !this.checkBack({ raw, put, producerGroup: group })) {
      this.log.warn(`no live producer of group ${group} to check half message ${uniq} (check ${checks + 1} of ${this.config.transactionCheckMax})`);
    }
  }

  /** Forgets decisions every copy of which the check point has passed, in op order. */
  #prune(): void {
    let i = 0;
    while (i < this.#decidedOrder.length && this.#decidedOrder[i].bound <= this.#halfOffset) {
      const d = this.#decidedOrder[i];
      if (this.#decided.get(d.uniq) === d.bound) this.#decided.delete(d.uniq);
      this.#opOffset = d.opOffset + 1;
      i++;
    }
    if (i > 0) this.#decidedOrder = this.#decidedOrder.slice(i);
  }

  #persist(): void {
    try {
      this.#file.save({ halfOffset: this.#halfOffset, opOffset: this.#opOffset });
    } catch (err) {
      this.log.error(`writing ${this.#file.path} failed: ${(err as Error).message}`);
    }
  }
}

function uniqOf(m: StoredMessage): string {
  return m.properties[MessageProperty.UNIQ_KEY] ?? `@${m.physicalOffset}`;
}

/** The committed message: real topic and queue back, marked committed. */
export function committedOf(half: StoredMessage): PutMessageRequest {
  // A half message always names its real topic (the broker set it); an empty topic is refused by the put.
  const put = toRealTopic(half, [MessageProperty.TRANSACTION_CHECK_TIMES]) ?? { ...copyOfStored(half), topic: "" };
  return { ...put, sysFlag: (half.sysFlag & ~0xc) | SysFlag.TRANSACTION_COMMIT_TYPE };
}

/**
 * A transaction check-back: asks one live producer of the half message's group for its decision
 * (CHECK_TRANSACTION_STATE, oneway; its END_TRANSACTION is the answer). False if none is online.
 */
export function askProducer(clients: Pick<ClientManager, "producerConnectionsOf">, brokerAddr: string, { raw, put, producerGroup }: CheckBack): boolean {
  const conns = clients.producerConnectionsOf(producerGroup);
  if (conns.length === 0) return false;
  const conn = conns[Math.floor(Math.random() * conns.length)];
  const msgId = decodeRecord(raw).properties[MessageProperty.UNIQ_KEY] ?? "";
  conn.invokeOneway(createRequest(RequestCode.CHECK_TRANSACTION_STATE, CheckTransactionStateRequestHeader.encode({
    commitLogOffset: put.physicalOffset,
    tranStateTableOffset: put.queueOffset,
    offsetMsgId: createOffsetMsgId(brokerAddr, put.physicalOffset),
    msgId,
    transactionId: msgId,
  }), raw)).catch(() => {});
  return true;
}
