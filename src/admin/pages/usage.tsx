import { useMemo, useState } from "preact/hooks";
import { BarList, TimeChart, type ChartSeries } from "../chart.tsx";
import { compact, toCsv } from "../format.ts";
import { usePoll } from "../hooks.ts";
import { USAGE_METRICS, type UsageGroup, type UsageRow } from "../../store/usage-shape.ts";

type Group = UsageGroup;
interface Usage {
  rows: UsageRow[];
  totals: UsageRow;
}

const COLUMNS = USAGE_METRICS;
const today = () => new Date().toISOString().slice(0, 10);

export function UsagePage() {
  const [from, setFrom] = useState(new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10));
  const [to, setTo] = useState(today());
  const [group, setGroup] = useState<Group>("day");
  const { data, error } = usePoll<Usage>(from && to ? `/usage?from=${from}&to=${to}&group_by=${group}` : undefined, 15_000);
  const chart = useMemo(() => {
    if (!data || group !== "day") return undefined;
    const byDay = new Map(data.rows.map((row) => [String(row.day), row]));
    const days: string[] = [];
    for (let at = Date.parse(`${from}T00:00:00Z`); at <= Date.parse(`${to}T00:00:00Z`) && days.length < 400; at += 86_400_000) days.push(new Date(at).toISOString().slice(0, 10));
    const value = (day: string, pick: (row: UsageRow) => number) => (byDay.has(day) ? pick(byDay.get(day)!) : 0);
    const series: ChartSeries[] = [
      { label: "requests", values: days.map((day) => value(day, (row) => row.requests)), color: "--accent", kind: "bars", scale: "count" },
      { label: "tokens", values: days.map((day) => value(day, (row) => row.input_tokens + row.output_tokens)), color: "--good", kind: "line", scale: "tokens" },
    ];
    return { x: days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000), series };
  }, [data, group, from, to]);
  const download = () => {
    if (!data) return;
    const blob = new Blob([toCsv([group, ...COLUMNS], data.rows)], { type: "text/csv" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `jellycli-usage-${from}-${to}-by-${group}.csv`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1_000);
  };
  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      <form class="toolbar inline" onSubmit={(event) => event.preventDefault()}>
        <label>From <input type="date" value={from} max={to} onChange={(event) => setFrom((event.target as HTMLInputElement).value)} /></label>
        <label>To <input type="date" value={to} min={from} onChange={(event) => setTo((event.target as HTMLInputElement).value)} /></label>
        <label>By <select value={group} onChange={(event) => setGroup((event.target as HTMLSelectElement).value as Group)}>
          <option value="day">day</option><option value="key">client key</option><option value="model">model</option><option value="credential">credential</option>
        </select></label>
        <button type="button" onClick={download} disabled={!data}>Download CSV</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {!data ? <p class="muted">Loading…</p> : (
        <>
          {chart ? <TimeChart label={`Requests and tokens per day from ${from} to ${to}`} x={chart.x} series={chart.series} step="day" />
            : <BarList unit="tokens" rows={[...data.rows].sort((a, b) => b.input_tokens + b.output_tokens - (a.input_tokens + a.output_tokens)).slice(0, 15)
                .map((row) => ({ label: String(row[group]), value: row.input_tokens + row.output_tokens, detail: `${compact(row.requests)} req` }))} />}
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Usage from {from} to {to} by {group}</caption>
              <thead><tr><th>{group}</th>{COLUMNS.map((column) => <th key={column} class="num">{column.replace("_", " ")}</th>)}</tr></thead>
              <tbody>
                {data.rows.length === 0 && <tr><td colSpan={7} class="muted">Nothing in this range.</td></tr>}
                {data.rows.map((row) => (
                  <tr key={String(row[group])}><td>{String(row[group])}</td>{COLUMNS.map((column) => <td key={column} class="num" title={String(row[column])}>{compact(row[column])}</td>)}</tr>
                ))}
              </tbody>
              {data.totals && <tfoot><tr><th>total</th>{COLUMNS.map((column) => <td key={column} class="num strong">{compact(data.totals[column] ?? 0)}</td>)}</tr></tfoot>}
            </table>
          </div>
        </>
      )}
    </section>
  );
}
