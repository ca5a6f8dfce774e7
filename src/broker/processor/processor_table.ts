import type { RemotingCommand } from "../../protocol/remoting_command.ts";
import type { RemotingConnection } from "../../remoting/remoting_connection.ts";
import type { RemotingServer } from "../../remoting/remoting_server.ts";
import type { BrokerContext } from "../broker_context.ts";

/** Handles one request code on the broker. */
export type BrokerHandler = (req: RemotingCommand, conn: RemotingConnection) => RemotingCommand | Promise<RemotingCommand>;

/** One request code a processor serves, and what serving it needs of the broker. */
export interface ProcessorEntry {
  code: number;
  handle: BrokerHandler;
  /**
   * The request appends to the log or changes replicated metadata: a slave, or a master fenced
   * off by the controller, refuses it.
   */
  writes?: boolean;
}

/** A family of request codes (RocketMQ's SendMessageProcessor, PullMessageProcessor, …) built on the context. */
export type BrokerProcessor = (ctx: BrokerContext) => ProcessorEntry[];

/**
 * Registers every entry of `processors` on `server`. What a request needs is checked here, once
 * for every code, so a new code that writes cannot miss the slave guard.
 */
export function registerProcessors(server: RemotingServer, ctx: BrokerContext, processors: readonly BrokerProcessor[]): void {
  for (const processor of processors) {
    for (const entry of processor(ctx)) {
      if (server.processorOf(entry.code)) throw new Error(`request code ${entry.code} has two processors`);
      const { code, handle } = entry;
      server.registerProcessor(code, entry.writes
        ? (req, rc) => ctx.role.refuseWrite(code) ?? handle(req, rc.connection)
        : (req, rc) => handle(req, rc.connection));
    }
  }
}
