// Client API keys across instances: Redis holds every key's row (hash jellycli:client_keys; the
// SHA-256 of the key, never the key) and each change is published; every instance mirrors the rows
// into its own database, which its KeyRing follows. `jellycli keys …` beside a Redis-backed gateway
// writes there too. A key's rpm is one limit for all instances: a per-minute counter in Redis (one
// round trip per request), this instance's own window while Redis is down.
import type { Database } from "bun:sqlite";
import { RedisClient } from "bun";
import { allKeyRows, keyRow, upsertKeyRow, type KeyRecord, type KeyRing } from "../store/keys.ts";
import { PREFIX, type SharedBus } from "./bus.ts";

const KEY = `${PREFIX}client_keys`;
const CHANNEL = `${PREFIX}events`;

export class KeySync {
  constructor(private readonly bus: SharedBus, private readonly db: Database, private readonly ring: KeyRing) {
    bus.on("client-key", (event) => {
      upsertKeyRow(db, event.row as Record<string, unknown>);
      ring.reload();
    });
    bus.onUp(() => this.resync());
  }

  /** After a key was created, changed or revoked here. */
  changed(id: string): void {
    const row = keyRow(this.db, id);
    if (!row) return;
    void this.bus.run((redis) => redis.hset(KEY, id, JSON.stringify(row)));
    this.bus.publish({ type: "client-key", row });
  }

  /** Every row Redis has comes here; every row only this instance has goes there. */
  async resync(): Promise<void> {
    const remote = (await this.bus.run((redis) => redis.hgetall(KEY))) ?? {};
    for (const text of Object.values(remote)) upsertKeyRow(this.db, JSON.parse(text));
    for (const row of allKeyRows(this.db)) {
      if (remote[String(row.id)] === undefined || row.revoked_at !== null) await this.bus.run((redis) => redis.hset(KEY, String(row.id), JSON.stringify(keyRow(this.db, String(row.id)))));
    }
    this.ring.reload();
  }

  /** Waiting time before `key` may be used again (0: now); one counter per key and minute in Redis. */
  async throttle(key: KeyRecord, now: number): Promise<number> {
    if (!key.rpm) return 0;
    const minute = Math.floor(now / 60_000);
    const counter = `${PREFIX}rpm:${key.id}:${minute}`;
    const count = await this.bus.run((redis) => redis.incr(counter));
    if (count === undefined) return this.ring.throttle(key, now);
    if (count === 1) void this.bus.run((redis) => redis.pexpire(counter, 61_000));
    return count > key.rpm ? (minute + 1) * 60_000 - now : 0;
  }
}

/** For the CLI: tells a Redis-backed deployment about a key changed in this database. */
export async function publishKeyChange(url: string, db: Database, id: string): Promise<void> {
  const row = keyRow(db, id);
  if (!row) return;
  const redis = new RedisClient(url, { enableOfflineQueue: false, autoReconnect: false, connectionTimeout: 2_000 });
  try {
    await redis.connect();
    await redis.hset(KEY, id, JSON.stringify(row));
    await redis.publish(CHANNEL, JSON.stringify({ type: "client-key", row, from: "cli" }));
  } finally {
    redis.close();
  }
}
