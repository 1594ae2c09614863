import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { compact, relative } from "../format.ts";
import { useNow, usePoll } from "../hooks.ts";

interface Credential {
  id: string;
  pool: string;
  kind: "oauth" | "api_key";
  label: string;
  email: string | null;
  project_id: string | null;
  tier: string | null;
  state: "active" | "suspected" | "cooling" | "disabled" | "invalid";
  reason: string | null;
  help_url: string | null;
  cooldowns: Record<string, string>;
  success_count: number;
  error_count: number;
  last_used_at: string | null;
  last_error: string | null;
}

interface Credentials {
  pools: { name: string; kind: "oauth" | "api_key" }[];
  credentials: Credential[];
}

type Notice = { tone: "good" | "bad"; text: string } | undefined;

export function CredentialsPage() {
  const { data, error, reload } = usePoll<Credentials>("/credentials", 5_000);
  const [notice, setNotice] = useState<Notice>();
  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      setNotice({ tone: "good", text: done });
    } catch (caught) {
      setNotice({ tone: "bad", text: (caught as Error).message });
    }
    await reload();
  };
  return (
    <section aria-labelledby="credentials-title">
      <h1 id="credentials-title">Credentials</h1>
      {notice && <p class={`notice ${notice.tone}`} role="status">{notice.text}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="toolbar">
        <GoogleLogin onDone={(text, tone) => { setNotice({ tone, text }); void reload(); }} />
        <Upload onDone={(text, tone) => { setNotice({ tone, text }); void reload(); }} />
        <AddApiKey pools={data?.pools.filter((pool) => pool.kind === "api_key") ?? []} act={act} />
      </div>
      {!data ? <p class="muted">Loading…</p> : data.credentials.length === 0
        ? <p class="muted">No credentials yet: add a Google account, upload credential files, or add an API key.</p>
        : <CredentialTable rows={data.credentials} act={act} />}
    </section>
  );
}

function CredentialTable(props: { rows: Credential[]; act: (what: () => Promise<unknown>, done: string) => Promise<void> }) {
  const now = useNow();
  const [confirming, setConfirming] = useState<string>();
  const path = (id: string) => `/credentials/${encodeURIComponent(id)}`;
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">Every credential of every pool</caption>
        <thead>
          <tr><th>Credential</th><th>Pool</th><th>State</th><th>Cooldowns</th><th class="num">OK</th><th class="num">Errors</th><th>Last used</th><th>Actions</th></tr>
        </thead>
        <tbody>
          {props.rows.map((row) => {
            const cooling = Object.entries(row.cooldowns).filter(([, until]) => Date.parse(until) > now);
            return (
              <tr key={`${row.pool}/${row.id}`} data-credential={row.id}>
                <td>
                  <div class="strong">{row.label}</div>
                  {row.email && <div class="muted small">{row.email}</div>}
                  {(row.project_id || row.tier) && <div class="muted small">{[row.project_id, row.tier].filter(Boolean).join(" · ")}</div>}
                </td>
                <td>{row.pool}</td>
                <td>
                  <span class={`badge ${row.state}`}>{row.state}</span>
                  {row.reason && <div class="small reason">{row.reason}</div>}
                  {row.help_url && <div class="small"><a href={row.help_url} target="_blank" rel="noopener noreferrer">How to fix it</a></div>}
                  {!row.reason && row.last_error && row.state !== "active" && <div class="small muted">{row.last_error}</div>}
                </td>
                <td class="small">
                  {cooling.length === 0 ? <span class="muted">—</span> : cooling.map(([model, until]) => (
                    <div key={model} class="cooldown"><span>{model}</span> <span class="countdown">{relative(until, now)}</span></div>
                  ))}
                </td>
                <td class="num">{compact(row.success_count)}</td>
                <td class="num">{compact(row.error_count)}</td>
                <td class="small">{relative(row.last_used_at, now)}</td>
                <td class="actions">
                  {row.state === "disabled"
                    ? <button type="button" onClick={() => props.act(() => api(path(row.id), "PATCH", { disabled: false }), `${row.label} enabled.`)}>Enable</button>
                    : <button type="button" onClick={() => props.act(() => api(path(row.id), "PATCH", { disabled: true }), `${row.label} disabled: it gets no traffic now.`)}>Disable</button>}
                  <button type="button" onClick={() => props.act(() => api(`${path(row.id)}/reset`, "POST"), `${row.label} reset and checked.`)}>Reset</button>
                  {confirming === row.id
                    ? <span class="confirm" role="group" aria-label={`Delete ${row.label}?`}>
                        <button type="button" class="danger" onClick={() => { setConfirming(undefined); void props.act(() => api(path(row.id), "DELETE"), `${row.label} removed${row.kind === "oauth" ? " (moved to credentials/removed/)" : ""}.`); }}>Really delete</button>
                        <button type="button" onClick={() => setConfirming(undefined)}>Keep</button>
                      </span>
                    : <button type="button" class="danger" onClick={() => setConfirming(row.id)}>Delete</button>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

type LoginStatus = { status: "pending" } | { status: "done"; account: { email: string; project_id: string; tier: string } } | { status: "error"; error: string; help_url?: string };

/** "Add an account with Google": a new tab with Google's sign-in; this page follows the login's status. */
function GoogleLogin(props: { onDone: (text: string, tone: "good" | "bad") => void }) {
  const [flow, setFlow] = useState<{ state: string; auth_url: string }>();
  const [pasted, setPasted] = useState("");
  const [failure, setFailure] = useState<string>();
  const finish = (status: LoginStatus) => {
    if (status.status === "pending") return false;
    setFlow(undefined);
    setPasted("");
    if (status.status === "done") props.onDone(`Account added: ${status.account.email} (project ${status.account.project_id}, tier ${status.account.tier}).`, "good");
    else props.onDone(`Account not added: ${status.error}${status.help_url ? ` — ${status.help_url}` : ""}`, "bad");
    return true;
  };
  useEffect(() => {
    if (!flow) return;
    const timer = setInterval(async () => {
      try {
        if (finish(await api<LoginStatus>(`/oauth/status?state=${flow.state}`))) clearInterval(timer);
      } catch (caught) {
        clearInterval(timer);
        setFlow(undefined);
        props.onDone((caught as Error).message, "bad");
      }
    }, 1_000);
    return () => clearInterval(timer);
  }, [flow]);
  const start = async () => {
    setFailure(undefined);
    try {
      const started = await api<{ state: string; auth_url: string }>("/oauth/start", "POST");
      setFlow(started);
      window.open(started.auth_url, "_blank", "noopener,noreferrer");
    } catch (caught) {
      setFailure((caught as Error).message);
    }
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      finish(await api<LoginStatus>("/oauth/callback", "POST", { callback_url: pasted }));
    } catch (caught) {
      setFailure((caught as Error).message);
    }
  };
  return (
    <div class="panel">
      <h2>Google account</h2>
      {!flow ? <button type="button" class="primary" onClick={start}>Add an account with Google</button> : (
        <form onSubmit={submit}>
          <p class="small">Sign in on the tab that opened (<a href={flow.auth_url} target="_blank" rel="noopener noreferrer">open it again</a>). Waiting for Google…</p>
          <label class="small" for="pasted">Gateway on another machine? Paste the address your browser ended on:</label>
          <div class="row">
            <input id="pasted" type="url" placeholder="http://127.0.0.1:…/oauth2/callback?code=…" value={pasted} onInput={(event) => setPasted((event.target as HTMLInputElement).value)} />
            <button type="submit" disabled={!pasted}>Finish</button>
            <button type="button" onClick={() => setFlow(undefined)}>Cancel</button>
          </div>
        </form>
      )}
      {failure && <p class="error small" role="alert">{failure}</p>}
    </div>
  );
}

/** Credential files by drag and drop (or the file picker): each checked with Google before it is saved. */
function Upload(props: { onDone: (text: string, tone: "good" | "bad") => void }) {
  const [over, setOver] = useState(false);
  const send = async (files: FileList | null) => {
    if (!files || files.length === 0) return;
    const results: string[] = [];
    let failed = false;
    for (const file of [...files]) {
      try {
        const credential = JSON.parse(await file.text());
        const added = await api<{ id: string; email?: string }>("/credentials", "POST", { file_name: file.name, credential });
        results.push(`${added.id} added${added.email ? ` (${added.email})` : ""}`);
      } catch (caught) {
        failed = true;
        results.push(`${file.name}: ${caught instanceof SyntaxError ? "not a JSON file" : (caught as Error).message}`);
      }
    }
    props.onDone(results.join("; "), failed ? "bad" : "good");
  };
  return (
    <div class={`panel drop${over ? " over" : ""}`}
      onDragOver={(event) => { event.preventDefault(); setOver(true); }}
      onDragLeave={() => setOver(false)}
      onDrop={(event) => { event.preventDefault(); setOver(false); void send(event.dataTransfer?.files ?? null); }}>
      <h2>Credential files</h2>
      <p class="small">Drop <code>oauth_creds.json</code> files here, or</p>
      <label class="button">Choose files<input type="file" class="sr-only" accept=".json,application/json" multiple onChange={(event) => void send((event.target as HTMLInputElement).files)} /></label>
    </div>
  );
}

function AddApiKey(props: { pools: { name: string }[]; act: (what: () => Promise<unknown>, done: string) => Promise<void> }) {
  const [pool, setPool] = useState("");
  const [key, setKey] = useState("");
  const chosen = pool || props.pools[0]?.name || "";
  return (
    <form class="panel" onSubmit={(event) => {
      event.preventDefault();
      void props.act(() => api("/credentials", "POST", { pool: chosen, api_key: key }), `API key added to ${chosen}.`).then(() => setKey(""));
    }}>
      <h2>API key</h2>
      {props.pools.length === 0 ? <p class="small muted">No API-key pool is configured (gemini_api_keys or openai_upstreams).</p> : (
        <div class="row">
          <label class="sr-only" for="key-pool">Pool</label>
          <select id="key-pool" value={chosen} onChange={(event) => setPool((event.target as HTMLSelectElement).value)}>
            {props.pools.map((entry) => <option key={entry.name} value={entry.name}>{entry.name}</option>)}
          </select>
          <label class="sr-only" for="key-value">API key</label>
          <input id="key-value" type="password" autocomplete="off" placeholder="API key" value={key} onInput={(event) => setKey((event.target as HTMLInputElement).value)} />
          <button type="submit" disabled={!key}>Add</button>
        </div>
      )}
    </form>
  );
}
