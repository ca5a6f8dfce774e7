import { InvalidParameterError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { propertyKey } from "../common/properties.ts";
import type { FileSystem } from "../platform/file_system.ts";
import { BROKER_SETTINGS, type BrokerConfig, brokerConfig } from "./broker_config.ts";

type Name = keyof BrokerConfig;

/**
 * The settings a running broker changes at once (UPDATE_BROKER_CONFIG), and how each takes
 * effect. Every other setting is read when the broker starts; changing it is refused, naming
 * why, and the properties file is where it changes for the next start.
 */
export const LIVE_SETTINGS: Partial<Record<Name, string>> = {
  flushConsumerOffsetInterval: "consumerOffset.json is written at the new interval from now",
  flushDelayOffsetInterval: "delayOffset.json is written at the new interval from now",
  registerNameServerPeriod: "registrations follow the new period from now",
  fileReservedTime: "the next retention round deletes by the new age",
  deleteWhen: "the next retention round runs at the new hours",
  diskMaxUsedSpaceRatio: "the next retention round compares disk usage with the new ratio",
  channelExpiredTimeout: "silent clients are dropped after the new timeout",
  maxSuspendTimeoutMillis: "pulls arriving from now are held at most this long",
  maxSendBacklog: "sends arriving from now are refused past the new backlog",
  timerMaxDelayMs: "timer messages sent from now may be delayed this long",
  transactionTimeout: "the next check round asks about half messages older than this",
  transactionCheckMax: "the next check round parks half messages after this many checks",
  slaveReadEnable: "pulls from now are told to read from a slave when far behind",
  accessMessageInMemoryMaxRatio: "pulls from now use the new far-behind ratio",
  consumeSlowlyLagBytes: "pulls from now use the new far-behind bytes",
  whichBrokerWhenConsumeSlowly: "groups created from now read from this slave when far behind",
  maxReconsumeTimes: "groups created from now get this retryMaxTimes",
  autoCreateSubscriptionGroup: "groups unknown from now are created, or refused",
};

const IDENTITY: Name[] = [
  "brokerClusterName", "brokerName", "brokerId", "brokerRole", "namesrvAddr", "listenPort", "brokerIP1", "haListenPort", "haMasterAddress",
  "enableControllerMode", "controllerAddr",
];
const STORE_LAYOUT: Name[] = ["storePathRootDir", "flushDiskType", "commitLogSegmentBytes", "maxMessageSize", "timerSegmentBytes", "messageDelayLevel"];

/** Why `name` cannot change on a running broker. */
function whyFixed(name: Name): string {
  if (IDENTITY.includes(name)) return "it is who or where the broker is, which its peers and clients already know";
  if (STORE_LAYOUT.includes(name)) return "it is how the store and its files are laid out, fixed when they open";
  return "it is read once when the broker starts";
}

/**
 * A running broker's settings (RocketMQ's Configuration): all of them readable, the live ones
 * changeable. A change is checked whole (all or nothing), applied to the shared BrokerConfig
 * that the processors read, announced to whoever re-arms a timer or tells the store, and
 * written back to the broker's properties file so the next start keeps it.
 */
export class RuntimeConfig {
  readonly #listeners = new Map<Name, (() => void)[]>();
  readonly #timers = new Set<{ handle: ReturnType<typeof setTimeout> | undefined }>();
  #version = { timestamp: Date.now(), counter: 0 };

  constructor(
    private readonly config: BrokerConfig,
    private readonly fs: FileSystem,
    /** The properties file changes are written to. */
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Every setting as text, as RocketMQ's GET_BROKER_CONFIG gives it: `name=value` lines. */
  text(): string {
    return Object.entries(this.properties()).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
  }

  properties(): Record<string, string> {
    return Object.fromEntries(Object.keys(BROKER_SETTINGS).map((k) => [k, String(this.config[k as Name])]));
  }

  get version(): { timestamp: number; counter: number } {
    return { ...this.#version };
  }

  /** Calls `fn` whenever one of `names` changes. */
  onChange(names: Name[], fn: () => void): void {
    for (const n of names) this.#listeners.set(n, [...this.#listeners.get(n) ?? [], fn]);
  }

  /**
   * Runs `fn` every `period()` ms, re-armed at once when one of `names` changes (a timer whose
   * period is a setting). Stopped by `stop()`.
   */
  every(names: Name[], period: () => number, fn: () => void): void {
    const t: { handle: ReturnType<typeof setTimeout> | undefined } = { handle: undefined };
    const arm = () => {
      clearTimeout(t.handle);
      t.handle = setTimeout(() => {
        arm();
        fn();
      }, period());
    };
    this.#timers.add(t);
    this.onChange(names, arm);
    arm();
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t.handle);
    this.#timers.clear();
  }

  /**
   * Changes live settings: unknown ones, fixed ones and bad values are refused with
   * INVALID_PARAMETER naming the setting and why, and then nothing changes. Returns the
   * settings whose value changed.
   */
  update(changes: Record<string, string>): Name[] {
    const names = Object.keys(changes);
    if (names.length === 0) throw new InvalidParameterError("UPDATE_BROKER_CONFIG names no setting");
    for (const name of names) {
      if (!(name in BROKER_SETTINGS)) throw new InvalidParameterError(`Unknown setting "${name}"`);
      if (!(name in LIVE_SETTINGS)) {
        throw new InvalidParameterError(`Setting ${name} cannot change on a running broker: ${whyFixed(name as Name)}; change it in ${this.path} and restart`);
      }
    }
    // Every value and rule checked before any applies (empty settings are their default, "", and not parsed).
    const now = Object.fromEntries(Object.entries(this.properties()).filter(([, v]) => v !== ""));
    const next = brokerConfig(now, changes);
    const changed = (names as Name[]).filter((n) => next[n] !== this.config[n]);
    if (changed.length === 0) return [];
    const target = this.config as unknown as Record<string, unknown>;
    for (const n of changed) target[n] = next[n];
    this.#version = { timestamp: Date.now(), counter: this.#version.counter + 1 };
    const fired = new Set<() => void>();
    for (const n of changed) for (const fn of this.#listeners.get(n) ?? []) if (!fired.has(fn)) fired.add(fn);
    for (const fn of fired) fn();
    this.#persist(changed);
    this.log.info(`settings changed at run time: ${changed.map((n) => `${n}=${this.config[n]}`).join(", ")}`);
    return changed;
  }

  /** Rewrites the changed keys' lines of the properties file (others and comments kept), or appends them. */
  #persist(changed: Name[]): void {
    const lines = (this.fs.readText(this.path) ?? "").split(/\r?\n/);
    if (lines[lines.length - 1] === "") lines.pop();
    for (const n of changed) {
      const line = `${n}=${this.config[n]}`;
      const at = lines.findIndex((l) => propertyKey(l) === n);
      if (at >= 0) lines[at] = line;
      else lines.push(line);
    }
    try {
      this.fs.writeTextAtomic(this.path, lines.join("\n") + "\n");
    } catch (err) {
      this.log.error(`settings changed, but writing ${this.path} failed: ${(err as Error).message}; they last until a restart`);
    }
  }
}
