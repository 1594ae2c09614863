import { span } from "../format.ts";
import { usePoll } from "../hooks.ts";

export function SettingsPage() {
  const { data, error } = usePoll<{ config: Record<string, unknown>; version: string | null; uptime_s: number | null; started_at: string | null }>("/config", 30_000);
  if (!data) return <p class="muted">{error ?? "Loading…"}</p>;
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <dl class="facts">
        <dt>Version</dt><dd>{data.version ?? "—"}</dd>
        <dt>Up for</dt><dd>{data.uptime_s === null ? "—" : span(data.uptime_s * 1000)}{data.started_at ? ` (since ${new Date(data.started_at).toLocaleString()})` : ""}</dd>
      </dl>
      <h2>Effective configuration</h2>
      <p class="small muted">Secrets are masked. Change them in config.toml, the environment or flags, then restart.</p>
      <div class="table-wrap">
        <table>
          <thead><tr><th>Key</th><th>Value</th></tr></thead>
          <tbody>
            {Object.entries(data.config).filter(([key]) => !key.endsWith("_ms")).map(([key, value]) => (
              <tr key={key}><td class="mono">{key}</td><td class="mono small wrap">{typeof value === "string" ? value : JSON.stringify(value)}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
