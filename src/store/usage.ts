// Usage statistics per UTC day × client key ("password" for the password, "-" without auth) ×
// credential × model: requests, errors by class, input / output / cached tokens. Counted in memory
// on the request path (one map update), written in one transaction every `usage_flush_interval_s`
// and on shutdown, so a kill -9 loses at most that interval.
import type { Database } from "bun:sqlite";
import { USAGE_GROUPS, USAGE_METRICS, type HourRow, type UsageGroup, type UsageRow } from "./usage-shape.ts";

export { USAGE_GROUPS, USAGE_METRICS, type HourRow, type UsageGroup, type UsageRow };

export interface UsageEvent {
  at: number;
  keyId: string;
  credential: string;
  model: string;
  status: number;
  input: number;
  output: number;
  cached: number;
}

interface Counters {
  day: string;
  keyId: string;
  credential: string;
  model: string;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  input: number;
  output: number;
  cached: number;
}

const COLUMN: Record<UsageGroup, string> = { day: "day", key: "key_id", model: "model", credential: "credential" };

interface Spent {
  day: string;
  dayTokens: number;
  month: string;
  monthTokens: number;
  total: number;
}

interface HourCounters {
  requests: number;
  errors: number;
  input: number;
  output: number;
}

/** One flush's worth of counts: per day × key × credential × model, and per hour. */
export interface UsageBatch {
  rows: { day: string; keyId: string; credential: string; model: string; requests: number; errors4xx: number; errors5xx: number; input: number; output: number; cached: number }[];
  hours: [string, { requests: number; errors: number; input: number; output: number }][];
}

export class UsageRecorder {
  /** Several instances (shared/usage.ts): each batch also goes to Redis. */
  onFlush?: (batch: UsageBatch) => void;

  private pending = new Map<string, Counters>();
  private pendingHours = new Map<string, HourCounters>();
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Tokens each key spent, for budgets: loaded once, then kept up to date in memory. */
  private readonly spent = new Map<string, Spent>();
  /** When each client key was last used, written with the next flush. */
  private lastUsed = new Map<string, number>();

  constructor(private readonly db: Database, now = Date.now()) {
    const day = new Date(now).toISOString().slice(0, 10);
    const rows = db.query(`SELECT key_id, SUM(input_tokens + output_tokens) AS total,
        SUM(CASE WHEN day = ? THEN input_tokens + output_tokens ELSE 0 END) AS today,
        SUM(CASE WHEN substr(day, 1, 7) = ? THEN input_tokens + output_tokens ELSE 0 END) AS month
      FROM usage GROUP BY key_id`).all(day, day.slice(0, 7)) as { key_id: string; total: number; today: number; month: number }[];
    for (const row of rows) this.spent.set(row.key_id, { day, dayTokens: row.today, month: day.slice(0, 7), monthTokens: row.month, total: row.total });
  }

  /** What every instance together spent with `keyId` (shared/usage.ts keeps it current). */
  setSpent(keyId: string, spent: { day: string; dayTokens: number; month: string; monthTokens: number; total: number }): void {
    this.spent.set(keyId, { ...spent });
  }

  /** Input + output tokens `keyId` spent in the current UTC day, month, or in total. */
  spentBy(keyId: string, period: "day" | "month" | "total", now: number): number {
    const spent = this.spent.get(keyId);
    if (!spent) return 0;
    const day = new Date(now).toISOString().slice(0, 10);
    if (period === "day") return spent.day === day ? spent.dayTokens : 0;
    if (period === "month") return spent.month === day.slice(0, 7) ? spent.monthTokens : 0;
    return spent.total;
  }

  private dayStart = 0;
  private dayEnd = 0;
  private dayText = "";

  /** The UTC day of `at`, formatted once per day rather than once per request. */
  private dayOf(at: number): string {
    if (at < this.dayStart || at >= this.dayEnd) {
      this.dayStart = at - (at % 86_400_000);
      this.dayEnd = this.dayStart + 86_400_000;
      this.dayText = new Date(this.dayStart).toISOString().slice(0, 10);
    }
    return this.dayText;
  }

  private hourStart = 0;
  private hourText = "";

  /** "YYYY-MM-DDTHH" (UTC) of `at`, formatted once per hour. */
  private hourOf(at: number): string {
    if (at < this.hourStart || at >= this.hourStart + 3_600_000) {
      this.hourStart = at - (at % 3_600_000);
      this.hourText = new Date(this.hourStart).toISOString().slice(0, 13);
    }
    return this.hourText;
  }

  record(event: UsageEvent): void {
    const day = this.dayOf(event.at);
    const hour = this.hourOf(event.at);
    let hourly = this.pendingHours.get(hour);
    if (!hourly) {
      hourly = { requests: 0, errors: 0, input: 0, output: 0 };
      this.pendingHours.set(hour, hourly);
    }
    hourly.requests++;
    if (event.status >= 400) hourly.errors++;
    hourly.input += event.input;
    hourly.output += event.output;
    const tokens = event.input + event.output;
    const spent = this.spent.get(event.keyId) ?? { day, dayTokens: 0, month: day.slice(0, 7), monthTokens: 0, total: 0 };
    if (spent.day !== day) Object.assign(spent, { day, dayTokens: 0 });
    if (spent.month !== day.slice(0, 7)) Object.assign(spent, { month: day.slice(0, 7), monthTokens: 0 });
    spent.dayTokens += tokens;
    spent.monthTokens += tokens;
    spent.total += tokens;
    this.spent.set(event.keyId, spent);
    if (event.keyId.startsWith("key_")) this.lastUsed.set(event.keyId, event.at);
    const id = `${day}\u0000${event.keyId}\u0000${event.credential}\u0000${event.model}`;
    let counters = this.pending.get(id);
    if (!counters) {
      counters = { day, keyId: event.keyId, credential: event.credential, model: event.model, requests: 0, errors4xx: 0, errors5xx: 0, input: 0, output: 0, cached: 0 };
      this.pending.set(id, counters);
    }
    counters.requests++;
    if (event.status >= 500) counters.errors5xx++;
    else if (event.status >= 400) counters.errors4xx++;
    counters.input += event.input;
    counters.output += event.output;
    counters.cached += event.cached;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }

  /** Everything counted since the last flush, added to the database in one transaction. */
  flush(): void {
    if (this.pending.size === 0 && this.lastUsed.size === 0 && this.pendingHours.size === 0) {
      // Nothing new here; the others may have spent (shared/usage.ts refreshes budgets on every tick).
      this.onFlush?.({ rows: [], hours: [] });
      return;
    }
    const rows = [...this.pending.values()];
    const hours = [...this.pendingHours];
    const lastUsed = [...this.lastUsed];
    this.pending = new Map();
    this.pendingHours = new Map();
    this.lastUsed = new Map();
    const upsert = this.db.prepare(`INSERT INTO usage (day, key_id, credential, model, requests, errors_4xx, errors_5xx, input_tokens, output_tokens, cached_tokens)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (day, key_id, credential, model) DO UPDATE SET
        requests = requests + excluded.requests, errors_4xx = errors_4xx + excluded.errors_4xx, errors_5xx = errors_5xx + excluded.errors_5xx,
        input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, cached_tokens = cached_tokens + excluded.cached_tokens`);
    const touch = this.db.prepare("UPDATE client_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?");
    const hourly = this.db.prepare(`INSERT INTO usage_hours (hour, requests, errors, input_tokens, output_tokens) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (hour) DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens`);
    this.db.transaction(() => {
      for (const row of rows) upsert.run(row.day, row.keyId, row.credential, row.model, row.requests, row.errors4xx, row.errors5xx, row.input, row.output, row.cached);
      for (const [hour, row] of hours) hourly.run(hour, row.requests, row.errors, row.input, row.output);
      for (const [id, at] of lastUsed) touch.run(at, id);
    })();
    this.onFlush?.({ rows, hours });
  }
}

/** Totals between two UTC days (inclusive), grouped as asked. */
export function usageReport(db: Database, from: string, to: string, groups: readonly UsageGroup[]): UsageRow[] {
  const columns = groups.map((group) => `${COLUMN[group]} AS ${group}`);
  const groupBy = groups.length > 0 ? `GROUP BY ${groups.map((group) => COLUMN[group]).join(", ")} ORDER BY ${groups.map((group) => COLUMN[group]).join(", ")}` : "";
  const sums = USAGE_METRICS.map((metric) => `SUM(${metric}) AS ${metric}`).join(", ");
  return db.query(`SELECT ${[...columns, sums].join(", ")} FROM usage WHERE day >= ? AND day <= ? ${groupBy}`).all(from, to) as UsageRow[];
}

/** The `hours` UTC hours up to the one holding `now`, oldest first, zeros where nothing happened. */
export function hourlyUsage(db: Database, now: number, hours = 24): HourRow[] {
  const last = now - (now % 3_600_000);
  const slots = Array.from({ length: hours }, (_, index) => new Date(last - (hours - 1 - index) * 3_600_000).toISOString().slice(0, 13));
  const found = new Map((db.query("SELECT hour, requests, errors, input_tokens, output_tokens FROM usage_hours WHERE hour >= ? AND hour <= ?").all(slots[0]!, slots.at(-1)!) as HourRow[]).map((row) => [row.hour, row]));
  return slots.map((hour) => found.get(hour) ?? { hour, requests: 0, errors: 0, input_tokens: 0, output_tokens: 0 });
}

/** Where reports come from: this instance's database, or Redis for all instances (shared/usage.ts). */
export interface UsageSource {
  report(from: string, to: string, groups: readonly UsageGroup[]): Promise<UsageRow[]>;
  hourly(now: number, hours?: number): Promise<HourRow[]>;
}

export function localUsage(db: Database): UsageSource {
  return {
    report: async (from, to, groups) => usageReport(db, from, to, groups),
    hourly: async (now, hours) => hourlyUsage(db, now, hours),
  };
}

/** Rows with all their group columns (day, key, credential, model) → grouped and summed like usageReport. */
export function groupRows(rows: (UsageRow & { day: string; key: string; credential: string; model: string })[], groups: readonly UsageGroup[]): UsageRow[] {
  const grouped = new Map<string, UsageRow>();
  for (const row of rows) {
    const id = groups.map((group) => row[group]).join("\u0000");
    let target = grouped.get(id);
    if (!target) {
      target = { requests: 0, errors_4xx: 0, errors_5xx: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0 };
      for (const group of groups) target[group] = row[group];
      grouped.set(id, target);
    }
    for (const metric of USAGE_METRICS) target[metric] += row[metric];
  }
  const result = [...grouped.values()].sort((a, b) => groups.map((group) => String(a[group]).localeCompare(String(b[group]))).find((order) => order !== 0) ?? 0);
  return groups.length === 0 && result.length === 0 ? [{ requests: 0, errors_4xx: 0, errors_5xx: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0 }] : result;
}
