// What the admin API answers, shaped for the admin page: the overview, a client key without its
// secret parts, the configuration with secrets masked, the live log tail.
import { SECRET_KEYS } from "../../config.ts";
import type { LogTail, TailEntry } from "../../log-tail.ts";
import { mask } from "../../log.ts";
import { listKeys } from "../../store/keys.ts";
import type { UsageRow, UsageSource } from "../../store/usage.ts";
import type { AdminDeps } from "./admin.ts";

const DAY_MS = 86_400_000;

/** What the admin page's first screen shows: the last 24 hours by hour, 30 days by day, credentials, today's top models and keys. */
export async function overview(deps: AdminDeps, usage: UsageSource) {
  const now = deps.now();
  const day = (at: number) => new Date(at).toISOString().slice(0, 10);
  const days = Array.from({ length: 30 }, (_, index) => day(now - (29 - index) * DAY_MS));
  const byDay = new Map((await usage.report(days[0]!, days.at(-1)!, ["day"])).map((row) => [row.day, row]));
  const daily = days.map((name) => {
    const row = byDay.get(name);
    return { day: name, requests: row?.requests ?? 0, errors: (row?.errors_4xx ?? 0) + (row?.errors_5xx ?? 0), input_tokens: row?.input_tokens ?? 0, output_tokens: row?.output_tokens ?? 0 };
  });
  const hourly = await usage.hourly(now);
  const credentials = { total: 0, usable: 0, active: 0, suspected: 0, cooling: 0, disabled: 0, invalid: 0 };
  for (const { pool } of deps.pools) for (const [state, count] of Object.entries(pool.summary(now))) credentials[state as keyof typeof credentials] += count;
  const today = day(now);
  const tokens = (row: UsageRow) => row.input_tokens + row.output_tokens;
  const top = async (group: "model" | "key") => (await usage.report(today, today, [group])).sort((a, b) => tokens(b) - tokens(a) || b.requests - a.requests).slice(0, 5);
  const names = new Map(listKeys(deps.db).map((record) => [record.id, record.name]));
  const requests = hourly.reduce((sum, row) => sum + row.requests, 0);
  const errors = hourly.reduce((sum, row) => sum + row.errors, 0);
  return {
    now: new Date(now).toISOString(), hourly, daily, credentials,
    requests_24h: requests, errors_24h: errors, error_rate_24h: requests === 0 ? 0 : errors / requests,
    top_models: (await top("model")).map((row) => ({ model: row.model, requests: row.requests, tokens: tokens(row) })),
    top_keys: (await top("key")).map((row) => ({ key: row.key, name: names.get(String(row.key)) ?? String(row.key), requests: row.requests, tokens: tokens(row) })),
    open_streams: deps.openStreams?.() ?? 0,
  };
}

export function publicKey(record: ReturnType<typeof listKeys>[number]) {
  const { prefix, last4, ...rest } = record;
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    ...rest, key_preview: `${prefix}…${last4}`,
    expires_at: iso(record.expires_at), revoked_at: iso(record.revoked_at), created_at: iso(record.created_at), last_used_at: iso(record.last_used_at),
  };
}

export function maskSecrets(value: unknown, key = ""): unknown {
  if (SECRET_KEYS.has(key)) return Array.isArray(value) ? value.map((entry) => mask(String(entry))) : value === undefined ? undefined : mask(String(value));
  if (Array.isArray(value)) return value.map((entry) => maskSecrets(entry));
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, maskSecrets(inner, name)]));
  return value;
}

/** New summaries as they happen, until the client goes away. */
export async function* liveTail(tail: LogTail | undefined, signal: AbortSignal): AsyncGenerator<TailEntry> {
  if (!tail) return;
  const queue: TailEntry[] = [];
  let wake: (() => void) | undefined;
  const stop = tail.listen((entry) => {
    queue.push(entry);
    wake?.();
  });
  signal.addEventListener("abort", () => wake?.(), { once: true });
  try {
    while (!signal.aborted) {
      if (queue.length === 0) await new Promise<void>((resolve) => { wake = resolve; });
      wake = undefined;
      while (queue.length > 0) yield queue.shift()!;
    }
  } finally {
    stop();
  }
}
