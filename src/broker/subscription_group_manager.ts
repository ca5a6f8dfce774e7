import { SystemBusyError } from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { validateGroup } from "../common/names.ts";
import type { FileSystem } from "../platform/file_system.ts";
import { ResponseCode } from "../common/response_code.ts";
import {
  defaultSubscriptionGroup,
  mergeSubscriptionGroup,
  type SubscriptionGroupConfig,
  type SubscriptionGroupSettings,
  subscriptionGroupWrapper,
} from "../protocol/bodies/broker_bodies.ts";
import { JsonConfigFile } from "./json_config_file.ts";

/** Why a group may not consume: the code and remark its pulls are answered with. */
export interface ConsumeRefusal {
  code: number;
  remark: string;
}

interface GroupDefaults {
  autoCreateSubscriptionGroup: boolean;
  /** An auto-created group's retryMaxTimes. */
  maxReconsumeTimes: number;
  /** An auto-created group's whichBrokerWhenConsumeSlowly. */
  whichBrokerWhenConsumeSlowly: number;
  brokerName: string;
}

/**
 * The broker's consumer groups and their settings (RocketMQ's SubscriptionGroupManager),
 * persisted to subscriptionGroup.json. A group appears at its first heartbeat, pull or
 * send-back when autoCreateSubscriptionGroup is on; otherwise only an operator creates it.
 */
export class SubscriptionGroupManager {
  readonly #groups = new Map<string, SubscriptionGroupConfig>();
  #dataVersion = { timestamp: Date.now(), counter: 0 };
  readonly #file: JsonConfigFile<ReturnType<typeof subscriptionGroupWrapper>>;

  constructor(fs: FileSystem, path: string, private readonly opts: GroupDefaults) {
    this.#file = new JsonConfigFile(fs, path, subscriptionGroupWrapper);
    const saved = this.#file.load();
    if (saved) {
      for (const [name, g] of Object.entries(saved.subscriptionGroupTable)) this.#groups.set(name, g);
      if (saved.dataVersion) this.#dataVersion = saved.dataVersion;
    }
  }

  get(group: string): SubscriptionGroupConfig | undefined {
    return this.#groups.get(group);
  }

  /** The group's settings, created with the defaults if auto-creation is on; undefined if it is off and the group is unknown. */
  findOrCreate(group: string): SubscriptionGroupConfig | undefined {
    const g = this.#groups.get(group);
    if (g || !this.opts.autoCreateSubscriptionGroup) return g;
    return this.update({ groupName: group });
  }

  /** The answer to a request of a group that is unknown while auto-creation is off. */
  unknown(group: string): ConsumeRefusal {
    return {
      code: ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
      remark: `subscription group [${group}] does not exist on broker ${this.opts.brokerName} and autoCreateSubscriptionGroup is off; create it first`,
    };
  }

  /**
   * Why `group`'s members may not pull: an unknown group when auto-creation is off,
   * consumption disabled, or broadcasting disabled and `broadcasting()` (asked only then: it
   * looks at the group's members). Undefined when they may; the group is auto-created on the way.
   */
  consumeRefusal(group: string, broadcasting: () => boolean): ConsumeRefusal | undefined {
    const g = this.findOrCreate(group);
    const on = this.opts.brokerName;
    if (!g) return this.unknown(group);
    if (!g.consumeEnable) return { code: ResponseCode.NO_PERMISSION, remark: `subscription group [${group}] may not consume on broker ${on} (consumeEnable=false)` };
    if (!g.consumeBroadcastEnable && broadcasting()) {
      return { code: ResponseCode.NO_PERMISSION, remark: `subscription group [${group}] may not consume by broadcasting on broker ${on} (consumeBroadcastEnable=false)` };
    }
    return undefined;
  }

  /** Creates or changes a group: fields left out keep their value (or, for a new group, the broker's defaults). */
  update(settings: SubscriptionGroupSettings): SubscriptionGroupConfig {
    validateGroup(settings.groupName);
    const o = this.opts;
    const config = mergeSubscriptionGroup(
      this.#groups.get(settings.groupName) ?? defaultSubscriptionGroup(settings.groupName, o.maxReconsumeTimes, o.whichBrokerWhenConsumeSlowly),
      settings,
    );
    if (!this.#groups.has(config.groupName) && this.#groups.size >= Limits.maxSubscriptionGroups) {
      throw new SystemBusyError(`the broker holds ${Limits.maxSubscriptionGroups} consumer groups, its limit`);
    }
    this.#groups.set(config.groupName, config);
    this.#changed();
    return config;
  }

  delete(group: string): boolean {
    const had = this.#groups.delete(group);
    if (had) this.#changed();
    return had;
  }

  table(): { subscriptionGroupTable: Record<string, SubscriptionGroupConfig>; dataVersion: { timestamp: number; counter: number } } {
    return { subscriptionGroupTable: Object.fromEntries(this.#groups), dataVersion: this.#dataVersion };
  }

  /** A slave takes its master's groups as they are. */
  adopt(table: Record<string, SubscriptionGroupConfig>): void {
    if (JSON.stringify(Object.fromEntries(this.#groups)) === JSON.stringify(table)) return;
    this.#groups.clear();
    for (const [name, g] of Object.entries(table)) this.#groups.set(name, g);
    this.#changed();
  }

  #changed(): void {
    this.#dataVersion = { timestamp: Date.now(), counter: this.#dataVersion.counter + 1 };
    this.#file.save(this.table(), true);
  }
}
