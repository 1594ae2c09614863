import { useMemo } from "preact/hooks";
import { BarList, TimeChart, type ChartSeries } from "../chart.tsx";
import { compact, percent } from "../format.ts";
import { usePoll } from "../hooks.ts";

interface Overview {
  hourly: { hour: string; requests: number; errors: number; input_tokens: number; output_tokens: number }[];
  daily: { day: string; requests: number; errors: number; input_tokens: number; output_tokens: number }[];
  credentials: Record<"total" | "usable" | "active" | "suspected" | "cooling" | "disabled" | "invalid", number>;
  requests_24h: number;
  errors_24h: number;
  error_rate_24h: number;
  top_models: { model: string; requests: number; tokens: number }[];
  top_keys: { key: string; name: string; requests: number; tokens: number }[];
  open_streams: number;
}

export function OverviewPage() {
  const { data, error } = usePoll<Overview>("/overview", 10_000);
  const charts = useMemo(() => {
    if (!data) return undefined;
    const series = (rows: Overview["hourly"] | Overview["daily"]): ChartSeries[] => [
      { label: "requests", values: rows.map((row) => row.requests), color: "--accent", kind: "bars", scale: "count" },
      { label: "errors", values: rows.map((row) => row.errors), color: "--bad", kind: "bars", scale: "count" },
      { label: "tokens", values: rows.map((row) => row.input_tokens + row.output_tokens), color: "--good", kind: "line", scale: "tokens" },
    ];
    return {
      hourX: data.hourly.map((row) => Date.parse(`${row.hour}:00:00Z`) / 1000), hourSeries: series(data.hourly),
      dayX: data.daily.map((row) => Date.parse(`${row.day}T00:00:00Z`) / 1000), daySeries: series(data.daily),
    };
  }, [data]);
  if (!data || !charts) return <p class="muted">{error ?? "Loading…"}</p>;
  const tokens24h = data.hourly.reduce((sum, row) => sum + row.input_tokens + row.output_tokens, 0);
  const c = data.credentials;
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="cards">
        <Card label="Requests, 24 h" value={compact(data.requests_24h)} />
        <Card label="Tokens, 24 h" value={compact(tokens24h)} />
        <Card label="Error rate, 24 h" value={percent(data.error_rate_24h)} tone={data.error_rate_24h > 0.05 ? "bad" : undefined} />
        <Card label="Open streams" value={String(data.open_streams)} />
        <Card label="Usable credentials" value={`${c.usable} / ${c.total}`} tone={c.usable === 0 && c.total > 0 ? "bad" : undefined}
          detail={`${c.cooling} cooling · ${c.disabled} disabled · ${c.invalid} invalid${c.suspected ? ` · ${c.suspected} suspected` : ""}`} />
      </div>
      <h2>Last 24 hours</h2>
      <TimeChart label="Requests, errors and tokens per hour over the last 24 hours" x={charts.hourX} series={charts.hourSeries} step="hour" />
      <h2>Last 30 days</h2>
      <TimeChart label="Requests, errors and tokens per day over the last 30 days" x={charts.dayX} series={charts.daySeries} step="day" />
      <div class="columns">
        <div>
          <h2>Top models today</h2>
          {data.top_models.length === 0 ? <p class="muted">No requests today.</p>
            : <BarList unit="tokens" rows={data.top_models.map((row) => ({ label: row.model, value: row.tokens, detail: `${compact(row.requests)} req` }))} />}
        </div>
        <div>
          <h2>Top keys today</h2>
          {data.top_keys.length === 0 ? <p class="muted">No requests today.</p>
            : <BarList unit="tokens" rows={data.top_keys.map((row) => ({ label: keyLabel(row), value: row.tokens, detail: `${compact(row.requests)} req` }))} />}
        </div>
      </div>
    </section>
  );
}

function Card(props: { label: string; value: string; detail?: string; tone?: "bad" }) {
  return (
    <div class={`card${props.tone ? ` ${props.tone}` : ""}`}>
      <div class="card-label">{props.label}</div>
      <div class="card-value">{props.value}</div>
      {props.detail && <div class="card-detail">{props.detail}</div>}
    </div>
  );
}

/** Requests without a client key are the shared password's, or nobody's on an open gateway. */
function keyLabel(row: { key: string; name: string }): string {
  return row.key === "password" ? "shared password" : row.key === "-" ? "no key (open)" : row.name;
}
