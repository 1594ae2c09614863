// What a usage report is made of, with no imports: the database, Redis, the admin API, the CLI
// and the admin page (browser code) all read these, so the metric list exists once.

export const USAGE_GROUPS = ["day", "key", "model", "credential"] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

/** The counters every usage row carries, in report order. */
export const USAGE_METRICS = ["requests", "errors_4xx", "errors_5xx", "input_tokens", "output_tokens", "cached_tokens"] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];

export interface UsageRow {
  [group: string]: string | number;
  requests: number;
  errors_4xx: number;
  errors_5xx: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
}

export interface HourRow {
  hour: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
}
