// Prometheus metrics, kept in memory (a few map updates per request) and rendered in the text
// exposition format on GET /metrics. Labels never carry a key, token, e-mail or file name: models,
// surfaces, statuses, pool names, outcome kinds and client key ids only.

/** Seconds; the upper bounds of the histogram buckets. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();

  observe(labels: string, seconds: number): void {
    let entry = this.series.get(labels);
    if (!entry) {
      entry = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.series.set(labels, entry);
    }
    for (let index = 0; index < BUCKETS.length; index++) if (seconds <= BUCKETS[index]!) entry.counts[index]!++;
    entry.sum += seconds;
    entry.count++;
  }

  render(name: string): string[] {
    const lines: string[] = [];
    for (const [labels, entry] of this.series) {
      const prefix = labels ? `${labels},` : "";
      BUCKETS.forEach((bound, index) => lines.push(`${name}_bucket{${prefix}le="${bound}"} ${entry.counts[index]}`));
      lines.push(`${name}_bucket{${prefix}le="+Inf"} ${entry.count}`, `${name}_sum${labels ? `{${labels}}` : ""} ${entry.sum}`, `${name}_count${labels ? `{${labels}}` : ""} ${entry.count}`);
    }
    return lines;
  }
}

const label = (value: string) => value.replace(/[\\"\n]/g, (char) => (char === "\n" ? "\\n" : `\\${char}`));
const rendered = new Map<string, string>();
/** Label sets rendered once and remembered: the request path pays a map lookup, not string work. */
const labels = (pairs: Record<string, string>) => {
  let key = "";
  for (const name in pairs) key += `${name}\u0000${pairs[name]}\u0001`;
  let text = rendered.get(key);
  if (text === undefined) {
    text = Object.entries(pairs).map(([name, value]) => `${name}="${label(value)}"`).join(",");
    if (rendered.size < 10_000) rendered.set(key, text);
  }
  return text;
};

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly tokens = new Map<string, number>();
  private readonly upstream = new Map<string, number>();
  private readonly keyRequests = new Map<string, number>();
  private readonly durations = new Histogram();
  private readonly firstToken = new Histogram();
  openStreams = 0;

  request(surface: string, model: string, status: number, seconds: number, ttftSeconds: number | undefined, tokens: { input: number; output: number; cached: number } | undefined, keyId: string | undefined): void {
    bump(this.requests, labels({ surface, model, status: String(status) }));
    this.durations.observe(labels({ surface }), seconds);
    if (ttftSeconds !== undefined) this.firstToken.observe(labels({ surface }), ttftSeconds);
    if (tokens) for (const type of ["input", "output", "cached"] as const) if (tokens[type] > 0) bump(this.tokens, labels({ model, type }), tokens[type]);
    if (keyId) bump(this.keyRequests, labels({ key_id: keyId }));
  }

  upstreamOutcome(pool: string, outcome: string): void {
    bump(this.upstream, labels({ pool, outcome }));
  }

  render(credentials: { pool: string; state: string; count: number }[], residentBytes: number, redisUp?: boolean): string {
    const counter = (name: string, help: string, map: Map<string, number>) => [
      `# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...[...map].map(([key, value]) => `${name}{${key}} ${value}`),
    ];
    return [
      ...counter("jellycli_requests_total", "Requests answered, by surface, model and status.", this.requests),
      "# HELP jellycli_request_duration_seconds Time from request to the last byte.", "# TYPE jellycli_request_duration_seconds histogram",
      ...this.durations.render("jellycli_request_duration_seconds"),
      "# HELP jellycli_time_to_first_token_seconds Time from request to the first streamed chunk.", "# TYPE jellycli_time_to_first_token_seconds histogram",
      ...this.firstToken.render("jellycli_time_to_first_token_seconds"),
      ...counter("jellycli_tokens_total", "Tokens, by model and type (input, output with reasoning, cached).", this.tokens),
      ...counter("jellycli_upstream_requests_total", "Upstream calls, by pool and outcome.", this.upstream),
      "# HELP jellycli_credentials Credentials, by pool and state.", "# TYPE jellycli_credentials gauge",
      ...credentials.map((entry) => `jellycli_credentials{${labels({ pool: entry.pool, state: entry.state })}} ${entry.count}`),
      "# HELP jellycli_open_streams Streamed answers being sent now.", "# TYPE jellycli_open_streams gauge", `jellycli_open_streams ${this.openStreams}`,
      ...counter("jellycli_client_key_requests_total", "Requests, by client key id.", this.keyRequests),
      "# HELP process_resident_memory_bytes Resident memory of the process.", "# TYPE process_resident_memory_bytes gauge", `process_resident_memory_bytes ${residentBytes}`,
      ...(redisUp === undefined ? [] : ["# HELP jellycli_redis_up Whether the shared Redis is reachable (1) or not (0).", "# TYPE jellycli_redis_up gauge", `jellycli_redis_up ${redisUp ? 1 : 0}`]),
      "",
    ].join("\n");
  }
}
