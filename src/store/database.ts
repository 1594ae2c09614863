// The embedded database (bun:sqlite, one file, created on first start with mode 0600): numbered
// migrations applied at start, WAL so readers never wait on the writer and a kill -9 never leaves
// the file unreadable. Nothing on the request path touches it: callers keep what they need in
// memory and write in batches.
import { Database } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";

/** Each entry runs once, in order, inside a transaction; never edit one that has shipped. */
const MIGRATIONS: (string | ((db: Database) => void))[] = [
  `CREATE TABLE client_keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     prefix TEXT NOT NULL,
     last4 TEXT NOT NULL,
     models TEXT,
     rpm INTEGER,
     token_budget INTEGER,
     budget_period TEXT,
     expires_at INTEGER,
     disabled INTEGER NOT NULL DEFAULT 0,
     revoked_at INTEGER,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER
   )`,
  `CREATE TABLE usage (
     day TEXT NOT NULL,
     key_id TEXT NOT NULL,
     credential TEXT NOT NULL,
     model TEXT NOT NULL,
     requests INTEGER NOT NULL DEFAULT 0,
     errors_4xx INTEGER NOT NULL DEFAULT 0,
     errors_5xx INTEGER NOT NULL DEFAULT 0,
     input_tokens INTEGER NOT NULL DEFAULT 0,
     output_tokens INTEGER NOT NULL DEFAULT 0,
     cached_tokens INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (day, key_id, credential, model)
   )`,
  `CREATE TABLE upstream_keys (
     pool TEXT NOT NULL,
     api_key TEXT NOT NULL,
     added_at INTEGER NOT NULL,
     PRIMARY KEY (pool, api_key)
   )`,
  // Sealed values differ every time (a fresh IV), so a key is found by its fingerprint, not its text.
  (db) => {
    db.run(`CREATE TABLE upstream_secrets (
       pool TEXT NOT NULL,
       fingerprint TEXT NOT NULL,
       secret TEXT NOT NULL,
       added_at INTEGER NOT NULL,
       PRIMARY KEY (pool, fingerprint)
     )`);
    const rows = db.query("SELECT pool, api_key, added_at FROM upstream_keys").all() as { pool: string; api_key: string; added_at: number }[];
    for (const row of rows) {
      db.run("INSERT OR IGNORE INTO upstream_secrets (pool, fingerprint, secret, added_at) VALUES (?, ?, ?, ?)", [row.pool, secretFingerprint(row.api_key), row.api_key, row.added_at]);
    }
    db.run("DROP TABLE upstream_keys");
  },
  // The admin page's last-24-hours chart: every request by UTC hour, whoever made it.
  `CREATE TABLE usage_hours (
     hour TEXT PRIMARY KEY,
     requests INTEGER NOT NULL DEFAULT 0,
     errors INTEGER NOT NULL DEFAULT 0,
     input_tokens INTEGER NOT NULL DEFAULT 0,
     output_tokens INTEGER NOT NULL DEFAULT 0
   )`,
];

/** How a stored secret is found again without storing it in the clear: SHA-256, hex. */
export function secretFingerprint(secret: string): string {
  return new Bun.CryptoHasher("sha256").update(secret).digest("hex");
}

export function openDatabase(path: string): Database {
  const fresh = path !== ":memory:" && !existsSync(path);
  const db = new Database(path, { create: true, strict: true });
  if (fresh) chmodSync(path, 0o600);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA busy_timeout = 5000");
  // A secret replaced by its sealed form must not linger in a free page.
  db.run("PRAGMA secure_delete = ON");
  db.run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const applied = (db.query("SELECT MAX(version) AS version FROM schema_migrations").get() as { version: number | null }).version ?? 0;
  for (let version = applied + 1; version <= MIGRATIONS.length; version++) {
    db.transaction(() => {
      const migration = MIGRATIONS[version - 1]!;
      if (typeof migration === "string") db.run(migration);
      else migration(db);
      db.run("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", [version, Date.now()]);
    })();
  }
  return db;
}

/** Changes committed by another connection (the CLI beside a running server) bump this number. */
export function dataVersion(db: Database): number {
  return (db.query("PRAGMA data_version").get() as { data_version: number }).data_version;
}

/** Writes the WAL back and empties it, so no older copy of a rewritten row stays on disk. */
export function checkpoint(db: Database): void {
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
}
