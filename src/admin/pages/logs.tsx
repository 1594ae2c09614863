import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.ts";
import { compact } from "../format.ts";
import type { TailEntry } from "../../log-tail.ts";

type Entry = TailEntry;

const KEEP = 1_000;

/** The live tail: the last summaries, then new ones over SSE; pausing keeps them aside, not lost. */
export function LogsPage() {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [paused, setPaused] = useState(false);
  const [status, setStatus] = useState("all");
  const [model, setModel] = useState("");
  const [connected, setConnected] = useState(false);
  const held = useRef<Entry[]>([]);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  useEffect(() => {
    let source: EventSource | undefined;
    let closed = false;
    const add = (more: Entry[]) => setEntries((current) => {
      const seen = new Set(current.map((entry) => entry.cursor));
      return [...current, ...more.filter((entry) => !seen.has(entry.cursor))].slice(-KEEP);
    });
    void api<{ entries: Entry[] }>("/logs").then((first) => {
      if (closed) return;
      add(first.entries);
      source = new EventSource("/admin/api/logs/stream");
      source.onopen = () => setConnected(true);
      source.onerror = () => setConnected(false);
      source.onmessage = (event) => {
        const entry = JSON.parse(event.data) as Entry;
        if (pausedRef.current) held.current.push(entry);
        else add([entry]);
      };
    }).catch(() => setConnected(false));
    return () => {
      closed = true;
      source?.close();
    };
  }, []);
  const resume = () => {
    const waiting = held.current;
    held.current = [];
    setEntries((current) => [...current, ...waiting].slice(-KEEP));
    setPaused(false);
  };
  const shown = entries.filter((entry) => (status === "all" || String(entry.status).startsWith(status[0]!)) && (!model || (entry.model ?? "").includes(model))).slice().reverse();
  return (
    <section aria-labelledby="logs-title">
      <h1 id="logs-title">Logs</h1>
      <div class="toolbar inline">
        <button type="button" aria-pressed={paused} onClick={() => (paused ? resume() : setPaused(true))}>{paused ? `Resume (${held.current.length} waiting)` : "Pause"}</button>
        <label>Status <select value={status} onChange={(event) => setStatus((event.target as HTMLSelectElement).value)}>
          <option value="all">all</option><option value="2xx">2xx</option><option value="4xx">4xx</option><option value="5xx">5xx</option>
        </select></label>
        <label>Model <input type="search" value={model} placeholder="any" onInput={(event) => setModel((event.target as HTMLInputElement).value)} /></label>
        <span class={`small ${connected ? "good-text" : "muted"}`} role="status">{connected ? "live" : "connecting…"}</span>
      </div>
      <div class="table-wrap">
        <table class="logs">
          <caption class="sr-only">Request summaries, newest first</caption>
          <thead><tr><th>Time</th><th>Request</th><th class="num">Status</th><th>Model</th><th>Upstream</th><th class="num">ms</th><th class="num">Tokens</th></tr></thead>
          <tbody>
            {shown.length === 0 && <tr><td colSpan={7} class="muted">No requests yet.</td></tr>}
            {shown.map((entry) => (
              <tr key={entry.cursor} class={entry.status >= 500 ? "row-bad" : entry.status >= 400 ? "row-warn" : ""}>
                <td class="small mono">{new Date(entry.at).toLocaleTimeString()}</td>
                <td class="mono small">{entry.method} {entry.path}</td>
                <td class="num">{entry.status}</td>
                <td>{entry.model ?? ""}</td>
                <td class="small">{[entry.upstream, entry.credential].filter(Boolean).join(" · ")}</td>
                <td class="num">{entry.ms}</td>
                <td class="num">{entry.tokens === undefined ? "" : compact(entry.tokens)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
