// Client API keys: `jk-` + 32 random bytes in base62, shown once when created; only a SHA-256
// hash is stored. The gateway answers from an in-memory copy (KeyRing) that follows the database
// within a second or two — also changes made by `jellycli keys` while the server runs.
import type { Database } from "bun:sqlite";
import { createHash, randomBytes } from "node:crypto";
import { parseModelName } from "../models.ts";
import { checkpoint, dataVersion, secretFingerprint } from "./database.ts";
import { PLAINTEXT, type Sealer } from "../sealing.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export interface KeyRecord {
  id: string;
  name: string;
  /** What lists show: "jk-AbCd" and the last four characters; never the key. */
  prefix: string;
  last4: string;
  /** Exact names and `prefix*` patterns; null: every model. */
  models: string[] | null;
  rpm: number | null;
  /** Input + output tokens allowed per budget_period. */
  token_budget: number | null;
  budget_period: BudgetPeriod | null;
  expires_at: number | null;
  disabled: boolean;
  revoked_at: number | null;
  created_at: number;
  last_used_at: number | null;
}

export type BudgetPeriod = "day" | "month" | "total";
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ["day", "month", "total"];

export interface NewKey {
  name: string;
  models?: string[];
  rpm?: number;
  tokenBudget?: number;
  budgetPeriod?: BudgetPeriod;
  expiresAt?: number;
}

function base62(bytes: Uint8Array): string {
  // Rejection sampling keeps every character equally likely.
  let out = "";
  for (const byte of bytes) if (byte < 248) out += BASE62[byte % 62];
  return out;
}

export const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");

export function createKey(db: Database, input: NewKey, now = Date.now()): { key: string; record: KeyRecord } {
  let secret = "";
  while (secret.length < 43) secret += base62(randomBytes(48)); // ≥ 32 bytes of entropy
  const key = `jk-${secret.slice(0, 43)}`;
  const id = `key_${base62(randomBytes(16)).slice(0, 12)}`;
  db.run(
    "INSERT INTO client_keys (id, name, hash, prefix, last4, models, rpm, token_budget, budget_period, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [id, input.name, hashKey(key), key.slice(0, 7), key.slice(-4), input.models ? JSON.stringify(input.models) : null, input.rpm ?? null,
      input.tokenBudget ?? null, input.tokenBudget ? input.budgetPeriod ?? "month" : null, input.expiresAt ?? null, now],
  );
  return { key, record: listKeys(db).find((record) => record.id === id)! };
}

export function listKeys(db: Database): KeyRecord[] {
  return (db.query("SELECT id, name, prefix, last4, models, rpm, token_budget, budget_period, expires_at, disabled, revoked_at, created_at, last_used_at FROM client_keys ORDER BY created_at").all() as Record<string, unknown>[])
    .map((row) => ({
      ...(row as unknown as KeyRecord),
      models: typeof row.models === "string" ? JSON.parse(row.models) as string[] : null,
      disabled: row.disabled === 1,
    }));
}

export interface KeyChanges {
  name?: string;
  models?: string[] | null;
  rpm?: number | null;
  tokenBudget?: number | null;
  budgetPeriod?: BudgetPeriod;
  expiresAt?: number | null;
  disabled?: boolean;
}

/** Edits a key's limits; false when there is no such (unrevoked) key. */
export function updateKey(db: Database, id: string, changes: KeyChanges): boolean {
  const sets: string[] = [];
  const values: (string | number | null)[] = [];
  const set = (column: string, value: string | number | null) => {
    sets.push(`${column} = ?`);
    values.push(value);
  };
  if (changes.name !== undefined) set("name", changes.name);
  if (changes.models !== undefined) set("models", changes.models === null ? null : JSON.stringify(changes.models));
  if (changes.rpm !== undefined) set("rpm", changes.rpm);
  if (changes.tokenBudget !== undefined) set("token_budget", changes.tokenBudget);
  if (changes.budgetPeriod !== undefined) set("budget_period", changes.budgetPeriod);
  if (changes.expiresAt !== undefined) set("expires_at", changes.expiresAt);
  if (changes.disabled !== undefined) set("disabled", changes.disabled ? 1 : 0);
  if (sets.length === 0) return listKeys(db).some((record) => record.id === id && record.revoked_at === null);
  return db.run(`UPDATE client_keys SET ${sets.join(", ")} WHERE id = ? AND revoked_at IS NULL`, [...values, id]).changes > 0;
}

export function revokeKey(db: Database, id: string, now = Date.now()): boolean {
  return db.run("UPDATE client_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now, id]).changes > 0;
}

/** Why a key may not be used now, or undefined when it may. */
export function keyRefusal(record: KeyRecord, now: number): string | undefined {
  if (record.revoked_at !== null) return "This API key was revoked.";
  if (record.disabled) return "This API key is disabled.";
  if (record.expires_at !== null && record.expires_at <= now) return `This API key expired on ${new Date(record.expires_at).toISOString()}.`;
  return undefined;
}

/** Whether `record` may use `model` (variants such as -search follow their base model). */
export function keyAllows(record: KeyRecord, model: string): boolean {
  if (!record.models) return true;
  const base = parseModelName(model).base;
  return record.models.some((pattern) => pattern === model || pattern === base || (pattern.endsWith("*") && base.startsWith(pattern.slice(0, -1))));
}

/** The keys by hash, in memory, refreshed when the database changed (checked once a second). */
export class KeyRing {
  private byHash = new Map<string, KeyRecord & { hash: string }>();
  private version = -1;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly recent = new Map<string, number[]>();

  constructor(private readonly db: Database) {
    this.refresh();
  }

  get size(): number {
    return this.byHash.size;
  }

  start(): void {
    this.timer = setInterval(() => this.refresh(), 1000);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Our own connection's writes (the admin API) do not change data_version: reload now. */
  reload(): void {
    this.version = -1;
    this.refresh();
  }

  refresh(): void {
    const version = dataVersion(this.db);
    if (version === this.version) return;
    this.version = version;
    const rows = this.db.query("SELECT hash, id FROM client_keys").all() as { hash: string; id: string }[];
    const records = new Map(listKeys(this.db).map((record) => [record.id, record]));
    this.byHash = new Map(rows.map((row) => [row.hash, { ...records.get(row.id)!, hash: row.hash }]));
  }

  list(): KeyRecord[] {
    return [...this.byHash.values()];
  }

  /** The key a presented secret is, if it is one of ours. */
  find(candidate: string): KeyRecord | undefined {
    return candidate.startsWith("jk-") ? this.byHash.get(hashKey(candidate)) : undefined;
  }

  /** Counts a request against the key's rpm; the wait in ms when it is over, else 0. */
  throttle(record: KeyRecord, now: number): number {
    if (!record.rpm) return 0;
    const window = (this.recent.get(record.id) ?? []).filter((at) => at > now - 60_000);
    if (window.length >= record.rpm) {
      this.recent.set(record.id, window);
      return window[0]! + 60_000 - now;
    }
    window.push(now);
    this.recent.set(record.id, window);
    return 0;
  }
}

/** API keys of upstream pools (Gemini API, OpenAI-compatible servers) added at run time, by pool. Throws SealError for one no key opens. */
export function upstreamKeys(db: Database, sealer: Sealer = PLAINTEXT): Map<string, string[]> {
  const byPool = new Map<string, string[]>();
  for (const row of db.query("SELECT pool, secret FROM upstream_secrets ORDER BY added_at").all() as { pool: string; secret: string }[]) {
    byPool.set(row.pool, [...(byPool.get(row.pool) ?? []), sealer.open(row.secret)]);
  }
  return byPool;
}

/** Stored keys no given key opens, as `pool:fingerprint` (never the key). */
export function lockedUpstreamKeys(db: Database, sealer: Sealer): string[] {
  const rows = db.query("SELECT pool, fingerprint, secret FROM upstream_secrets").all() as { pool: string; fingerprint: string; secret: string }[];
  return rows.filter((row) => {
    try {
      sealer.open(row.secret);
      return false;
    } catch {
      return true;
    }
  }).map((row) => `${row.pool}:${row.fingerprint.slice(0, 8)}`);
}

export function addUpstreamKey(db: Database, pool: string, apiKey: string, sealer: Sealer = PLAINTEXT, now = Date.now()): void {
  db.run("INSERT OR IGNORE INTO upstream_secrets (pool, fingerprint, secret, added_at) VALUES (?, ?, ?, ?)", [pool, secretFingerprint(apiKey), sealer.seal(apiKey), now]);
}

export function removeUpstreamKey(db: Database, pool: string, apiKey: string): boolean {
  return db.run("DELETE FROM upstream_secrets WHERE pool = ? AND fingerprint = ?", [pool, secretFingerprint(apiKey)]).changes > 0;
}

/**
 * Every stored key sealed with the sealer's current key (or opened, without one), in one
 * transaction: all rows change or none. Returns how many were rewritten.
 */
export function resealUpstreamKeys(db: Database, sealer: Sealer): number {
  const rows = db.query("SELECT pool, fingerprint, secret FROM upstream_secrets").all() as { pool: string; fingerprint: string; secret: string }[];
  const stale = rows.filter((row) => !sealer.isCurrent(row.secret));
  if (stale.length === 0) return 0;
  db.transaction(() => {
    for (const row of stale) {
      db.run("UPDATE upstream_secrets SET secret = ? WHERE pool = ? AND fingerprint = ?", [sealer.seal(sealer.open(row.secret)), row.pool, row.fingerprint]);
    }
  })();
  checkpoint(db);
  return stale.length;
}

/** A key's whole row (its hash included, never the key): what another instance needs to know it. */
export function keyRow(db: Database, id: string): Record<string, unknown> | undefined {
  return (db.query("SELECT * FROM client_keys WHERE id = ?").get(id) as Record<string, unknown> | null) ?? undefined;
}

export function allKeyRows(db: Database): Record<string, unknown>[] {
  return db.query("SELECT * FROM client_keys").all() as Record<string, unknown>[];
}

const KEY_COLUMNS = ["id", "name", "hash", "prefix", "last4", "models", "rpm", "token_budget", "budget_period", "expires_at", "disabled", "revoked_at", "created_at", "last_used_at"] as const;

/** Another instance's row, as it is (a revocation stays a revocation: revoked_at never goes back). */
export function upsertKeyRow(db: Database, row: Record<string, unknown>): void {
  const values = KEY_COLUMNS.map((column) => (row[column] ?? null) as string | number | null);
  db.run(`INSERT INTO client_keys (${KEY_COLUMNS.join(", ")}) VALUES (${KEY_COLUMNS.map(() => "?").join(", ")})
    ON CONFLICT (id) DO UPDATE SET ${KEY_COLUMNS.filter((column) => column !== "id" && column !== "last_used_at").map((column) => column === "revoked_at" ? "revoked_at = COALESCE(client_keys.revoked_at, excluded.revoked_at)" : `${column} = excluded.${column}`).join(", ")}`, values);
}
