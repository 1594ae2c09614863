// Usage across instances: every flush also adds its counts to Redis (HINCRBY, so instances never
// overwrite each other), reports read Redis, and each key's spending comes back from there so a
// token budget is one budget for all instances. While Redis is down the counts wait in memory and
// go up when it is back; reports then show this instance's own database.
import type { KeyRing } from "../store/keys.ts";
import { groupRows, type UsageBatch, type UsageRecorder, type UsageSource } from "../store/usage.ts";
import { USAGE_METRICS, type HourRow, type UsageGroup, type UsageMetric, type UsageRow } from "../store/usage-shape.ts";
import { PREFIX, type SharedBus } from "./bus.ts";

const DAY_KEY = (day: string) => `${PREFIX}usage:${day}`;
const HOUR_KEY = (day: string) => `${PREFIX}usage-hours:${day}`;
const SPENT_KEY = (keyId: string) => `${PREFIX}spent:${keyId}`;
const HOURS_KEPT_S = 3 * 86_400;
const MAX_DAYS = 400;

export class SharedUsage implements UsageSource {
  /** Counts not yet in Redis (it was down): Redis key → field → amount. */
  private pending = new Map<string, Map<string, number>>();

  /** `recorder` and `ring`: an instance that counts (the CLI only reads). */
  constructor(private readonly bus: SharedBus, private readonly local: UsageSource, private readonly recorder?: UsageRecorder, private readonly ring?: KeyRing, private readonly now: () => number = Date.now) {
    if (recorder) {
      recorder.onFlush = (batch) => void this.push(batch);
      bus.onUp(() => this.send());
    }
  }

  private add(key: string, field: string, amount: number): void {
    if (amount === 0) return;
    const fields = this.pending.get(key) ?? new Map<string, number>();
    fields.set(field, (fields.get(field) ?? 0) + amount);
    this.pending.set(key, fields);
  }

  private async push(batch: UsageBatch): Promise<void> {
    for (const row of batch.rows) {
      const combo = `${row.keyId}\t${row.credential}\t${row.model}`;
      const values = [row.requests, row.errors4xx, row.errors5xx, row.input, row.output, row.cached];
      USAGE_METRICS.forEach((field, index) => this.add(DAY_KEY(row.day), `${combo}\t${field}`, values[index]!));
      const tokens = row.input + row.output;
      if (row.keyId.startsWith("key_")) {
        this.add(SPENT_KEY(row.keyId), `day:${row.day}`, tokens);
        this.add(SPENT_KEY(row.keyId), `month:${row.day.slice(0, 7)}`, tokens);
        this.add(SPENT_KEY(row.keyId), "total", tokens);
      }
    }
    for (const [hour, counts] of batch.hours) {
      const key = HOUR_KEY(hour.slice(0, 10));
      this.add(key, `${hour}\trequests`, counts.requests);
      this.add(key, `${hour}\terrors`, counts.errors);
      this.add(key, `${hour}\tinput_tokens`, counts.input);
      this.add(key, `${hour}\toutput_tokens`, counts.output);
    }
    await this.send();
  }

  /** Sends what is pending; what fails stays pending. Then learns what every instance spent per budgeted key. */
  private async send(): Promise<void> {
    if (!this.bus.up) return;
    const pending = this.pending;
    this.pending = new Map();
    for (const [key, fields] of pending) {
      for (const [field, amount] of fields) {
        const done = await this.bus.run((redis) => redis.hincrby(key, field, amount));
        if (done === undefined) this.add(key, field, amount);
      }
      if (key.startsWith(`${PREFIX}usage-hours:`)) void this.bus.run((redis) => redis.expire(key, HOURS_KEPT_S));
    }
    await this.refreshSpent();
  }

  private async refreshSpent(): Promise<void> {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    if (!this.recorder || !this.ring) return;
    for (const key of this.ring.list().filter((record) => record.token_budget)) {
      const spent = await this.bus.run((redis) => redis.hgetall(SPENT_KEY(key.id)));
      if (!spent) continue;
      this.recorder.setSpent(key.id, {
        day, dayTokens: Number(spent[`day:${day}`] ?? 0), month: day.slice(0, 7), monthTokens: Number(spent[`month:${day.slice(0, 7)}`] ?? 0), total: Number(spent.total ?? 0),
      });
    }
  }

  async report(from: string, to: string, groups: readonly UsageGroup[]): Promise<UsageRow[]> {
    if (!this.bus.up) return this.local.report(from, to, groups);
    const rows: (UsageRow & { day: string; key: string; credential: string; model: string })[] = [];
    for (const day of daysBetween(from, to, this.now())) {
      const fields = await this.bus.run((redis) => redis.hgetall(DAY_KEY(day)));
      if (fields === undefined) return this.local.report(from, to, groups);
      const combos = new Map<string, UsageRow & { day: string; key: string; credential: string; model: string }>();
      for (const [field, value] of Object.entries(fields)) {
        const [key, credential, model, metric] = field.split("\t") as [string, string, string, UsageMetric];
        const id = `${key}\t${credential}\t${model}`;
        let row = combos.get(id);
        if (!row) {
          row = { day, key, credential, model, requests: 0, errors_4xx: 0, errors_5xx: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0 };
          combos.set(id, row);
        }
        row[metric] = Number(value);
      }
      rows.push(...combos.values());
    }
    return groupRows(rows, groups);
  }

  async hourly(now: number, hours = 24): Promise<HourRow[]> {
    const last = now - (now % 3_600_000);
    const slots = Array.from({ length: hours }, (_, index) => new Date(last - (hours - 1 - index) * 3_600_000).toISOString().slice(0, 13));
    const fields: Record<string, string> = {};
    for (const day of new Set(slots.map((hour) => hour.slice(0, 10)))) {
      const part = await this.bus.run((redis) => redis.hgetall(HOUR_KEY(day)));
      if (part === undefined) return this.local.hourly(now, hours);
      Object.assign(fields, part);
    }
    const value = (hour: string, metric: string) => Number(fields[`${hour}\t${metric}`] ?? 0);
    return slots.map((hour) => ({ hour, requests: value(hour, "requests"), errors: value(hour, "errors"), input_tokens: value(hour, "input_tokens"), output_tokens: value(hour, "output_tokens") }));
  }
}

/** The days of a range, at most the MAX_DAYS up to today ("all time" is the last 400 days here). */
function daysBetween(from: string, to: string, now: number): string[] {
  const end = Math.min(Date.parse(`${to}T00:00:00Z`), now - (now % 86_400_000));
  const start = Math.max(Date.parse(`${from}T00:00:00Z`), end - (MAX_DAYS - 1) * 86_400_000);
  const days: string[] = [];
  for (let at = start; at <= end; at += 86_400_000) days.push(new Date(at).toISOString().slice(0, 10));
  return days;
}
