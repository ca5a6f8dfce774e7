import type { Logger } from "../common/log.ts";
import type { RemotingServer } from "../remoting/remoting_server.ts";
import type { MessageStore } from "../store/message_store.ts";
import type { BrokerConfig } from "./broker_config.ts";
import type { BrokerRole } from "./broker_role.ts";
import type { ClientManager } from "./client_manager.ts";
import type { ConsumerOffsetManager } from "./consumer_offset_manager.ts";
import type { PullHoldService } from "./pull_hold_service.ts";
import type { RebalanceLockManager } from "./rebalance_lock_manager.ts";
import type { RuntimeConfig } from "./runtime_config.ts";
import type { BrokerStatsManager } from "./broker_stats_manager.ts";
import type { ScheduleMessageService } from "./schedule_message_service.ts";
import type { SlaveSynchronize } from "./slave_synchronize.ts";
import type { SubscriptionGroupManager } from "./subscription_group_manager.ts";
import type { TimerMessageService } from "./timer_message_service.ts";
import type { TopicConfigManager } from "./topic_config_manager.ts";
import type { TransactionalMessageService } from "./transactional_message_service.ts";

/** Counters the processors keep and the runtime info reports. */
export interface BrokerStats {
  sendsInFlight: number;
  pullsFound: number;
}

/**
 * What a processor may use of the broker: its store, managers, services, configuration and log.
 * Processors get this instead of the controller, so none of them reaches into another's state.
 */
export interface BrokerContext {
  readonly config: BrokerConfig;
  /** The settings as an operator reads and changes them at run time (the same object as `config`). */
  readonly runtime: RuntimeConfig;
  readonly log: Logger;
  readonly store: MessageStore;
  readonly topics: TopicConfigManager;
  readonly offsets: ConsumerOffsetManager;
  readonly groups: SubscriptionGroupManager;
  readonly clients: ClientManager;
  readonly locks: RebalanceLockManager;
  readonly holds: PullHoldService;
  /** The client-facing server's connections and their shared memory, for the runtime info. */
  readonly remoting: Pick<RemotingServer, "connections" | "budget" | "refusedConnections">;
  readonly schedule: ScheduleMessageService;
  readonly timer: TimerMessageService;
  readonly tx: TransactionalMessageService;
  readonly role: BrokerRole;
  readonly slaveSync: SlaveSynchronize;
  readonly stats: BrokerStats;
  /** Put and get counts and rates per topic and group (VIEW_BROKER_STATS_DATA, consumeTps, the runtime info's TPS). */
  readonly statsManager: BrokerStatsManager;
  /** Resolves when the NameServers have the topic table as it is now (a change registers at once). */
  registered(): Promise<void>;
  /** "host:port" clients use. */
  readonly addr: string;
  readonly shuttingDown: boolean;
}
