// Redis for several jellycli instances (redis_url): Bun's built-in client, one connection for
// commands and one subscribed to the event channel. Nothing waits on Redis when it is down:
// commands fail at once (no offline queue), events are dropped, and each instance serves from its
// own state. It reconnects by itself every second; `onUp` handlers then resynchronise.
import { RedisClient } from "bun";
import type { Logger } from "../log.ts";

export const PREFIX = "jellycli:";
const CHANNEL = `${PREFIX}events`;
const RETRY_MS = 1_000;

/** Something one instance tells the others: what changed, never a whole state dump. */
export interface BusEvent {
  type: string;
  [key: string]: unknown;
}

export class SharedBus {
  /** This process, so it can ignore its own events. */
  readonly instance = crypto.randomUUID();
  private readonly commands: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly handlers = new Map<string, ((event: BusEvent) => void)[]>();
  private readonly upHandlers: (() => Promise<void> | void)[] = [];
  private retry: ReturnType<typeof setInterval> | undefined;
  private wasUp: boolean | undefined;
  private stopped = false;
  private connecting: Promise<void> | undefined;

  constructor(url: string, private readonly log: Logger) {
    const options = { enableOfflineQueue: false, autoReconnect: false, connectionTimeout: 2_000 };
    this.commands = new RedisClient(url, options);
    this.subscriber = new RedisClient(url, options);
    this.commands.onclose = () => this.down();
    this.subscriber.onclose = () => this.down();
  }

  get up(): boolean {
    return this.commands.connected && this.subscriber.connected;
  }

  /** Connects (or learns that it cannot: then it keeps trying in the background). */
  async start(): Promise<void> {
    await this.connect();
    this.retry = setInterval(() => {
      if (!this.up && !this.stopped) void this.connect();
    }, RETRY_MS);
    this.retry.unref?.();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.retry);
    this.commands.close();
    this.subscriber.close();
  }

  on(type: string, handler: (event: BusEvent) => void): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler]);
  }

  /** Runs after every (re)connection: pull what others wrote, push what changed here meanwhile. */
  onUp(handler: () => Promise<void> | void): void {
    this.upHandlers.push(handler);
  }

  /** Fire and forget: the others hear it within milliseconds, or not at all while Redis is down. */
  publish(event: BusEvent): void {
    if (!this.up) return;
    this.commands.publish(CHANNEL, JSON.stringify({ ...event, from: this.instance })).catch(() => {});
  }

  /** One Redis command, or undefined at once when Redis is down or the command fails. */
  async run<T>(command: (redis: RedisClient) => Promise<T>): Promise<T | undefined> {
    if (!this.up) return undefined;
    try {
      return await command(this.commands);
    } catch {
      return undefined;
    }
  }

  private async connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      try {
        if (!this.commands.connected) await this.commands.connect();
        if (!this.subscriber.connected) {
          await this.subscriber.connect();
          await this.subscriber.subscribe(CHANNEL, (message) => this.deliver(message));
        }
      } catch {
        this.down();
        return;
      } finally {
        this.connecting = undefined;
      }
      if (this.wasUp !== true) {
        this.wasUp = true;
        this.log.info("redis connected: sharing state with the other instances");
        for (const handler of this.upHandlers) await Promise.resolve(handler()).catch((error: Error) => this.log.warn("redis resync failed", { error: error.message }));
      }
    })();
    return this.connecting;
  }

  private down(): void {
    if (this.stopped || this.wasUp === false) return;
    this.wasUp = false;
    // Logged once per outage, not once per failed command.
    this.log.warn("redis unreachable: serving from this instance's own state until it is back");
  }

  private deliver(message: string): void {
    let event: BusEvent & { from?: string };
    try {
      event = JSON.parse(message);
    } catch {
      return;
    }
    if (event.from === this.instance) return;
    for (const handler of this.handlers.get(event.type) ?? []) {
      try {
        handler(event);
      } catch (error) {
        this.log.warn("could not apply a shared change", { type: event.type, error: (error as Error).message });
      }
    }
  }
}
