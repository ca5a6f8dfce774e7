import { InvalidParameterError } from "../common/errors.ts";
import type { Message } from "./message.ts";
import { Producer, type ProducerOptions, type TransactionListener, type TransactionSendResult } from "./producer.ts";

export interface TransactionProducerOptions extends ProducerOptions {
  transactionListener: TransactionListener;
}

/**
 * RocketMQ's TransactionMQProducer: `sendMessageInTransaction` stores a half message, runs
 * `executeLocalTransaction`, then commits (consumers see the message) or rolls back (nobody
 * ever does). A half message left undecided is checked back with `checkLocalTransaction` on a
 * live producer of the same group, which is why this producer must stay started. Its other
 * sends work as a Producer's.
 */
export class TransactionProducer extends Producer {
  readonly #listener: TransactionListener;

  constructor(opts: TransactionProducerOptions) {
    super(opts);
    const l = opts.transactionListener;
    if (typeof l?.executeLocalTransaction !== "function" || typeof l.checkLocalTransaction !== "function") {
      throw new InvalidParameterError("transactionListener needs executeLocalTransaction and checkLocalTransaction");
    }
    this.#listener = l;
    this.handleTransactionChecks(l);
  }

  /** Starts, and registers with every master broker at once so check-backs can reach it. */
  override async start(): Promise<void> {
    await super.start();
    await this.heartbeatEveryBroker();
  }

  sendMessageInTransaction(message: Message, arg?: unknown): Promise<TransactionSendResult> {
    return this.sendInTransaction(message, arg, this.#listener);
  }
}
