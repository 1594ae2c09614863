import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { compact, relative } from "../format.ts";
import { useNow, usePoll } from "../hooks.ts";

interface ClientKey {
  id: string;
  name: string;
  key_preview: string;
  models: string[] | null;
  rpm: number | null;
  token_budget: number | null;
  budget_period: "day" | "month" | "total" | null;
  expires_at: string | null;
  disabled: boolean;
  revoked_at: string | null;
  created_at: string;
  last_used_at: string | null;
  usage: { requests: number; input_tokens: number; output_tokens: number; cached_tokens: number };
}

interface Limits {
  name: string;
  models: string;
  rpm: string;
  token_budget: string;
  budget_period: "day" | "month" | "total";
  expires: string;
}

const EMPTY: Limits = { name: "", models: "", rpm: "", token_budget: "", budget_period: "month", expires: "" };

/** The form's text fields as the API's values; empty means "no limit". */
function toBody(limits: Limits, forUpdate: boolean): Record<string, unknown> {
  const none = forUpdate ? null : undefined;
  const models = limits.models.split(",").map((model) => model.trim()).filter(Boolean);
  return {
    name: limits.name.trim(),
    models: models.length > 0 ? models : none,
    rpm: limits.rpm ? Number(limits.rpm) : none,
    token_budget: limits.token_budget ? Number(limits.token_budget) : none,
    budget_period: limits.budget_period,
    expires_at: limits.expires ? new Date(`${limits.expires}T00:00:00Z`).toISOString() : none,
  };
}

function fromKey(key: ClientKey): Limits {
  return {
    name: key.name, models: key.models?.join(", ") ?? "", rpm: key.rpm ? String(key.rpm) : "", token_budget: key.token_budget ? String(key.token_budget) : "",
    budget_period: key.budget_period ?? "month", expires: key.expires_at ? key.expires_at.slice(0, 10) : "",
  };
}

export function KeysPage() {
  const { data, error, reload } = usePoll<{ keys: ClientKey[] }>("/keys", 5_000);
  const [created, setCreated] = useState<{ id: string; name: string; key: string }>();
  const [failure, setFailure] = useState<string>();
  const [editing, setEditing] = useState<string>();
  const [confirming, setConfirming] = useState<string>();
  const now = useNow(5_000);
  const run = async (what: () => Promise<unknown>) => {
    setFailure(undefined);
    try {
      await what();
    } catch (caught) {
      setFailure((caught as Error).message);
    }
    await reload();
  };
  const active = data?.keys.filter((key) => !key.revoked_at) ?? [];
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">Client keys</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {failure && <p class="notice bad" role="alert">{failure}</p>}
      {created && <NewKey created={created} onClose={() => setCreated(undefined)} />}
      <LimitsForm title="Create a key" submit="Create key" initial={EMPTY} onSubmit={(limits) => run(async () => {
        const answer = await api<{ id: string; name: string; key: string }>("/keys", "POST", toBody(limits, false));
        setCreated(answer);
      })} />
      {!data ? <p class="muted">Loading…</p> : active.length === 0 ? <p class="muted">No client keys: clients use the password (or nothing, on loopback).</p> : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Client keys with their limits and usage</caption>
            <thead><tr><th>Name</th><th>Key</th><th>Limits</th><th class="num">Requests</th><th class="num">Tokens</th><th>Last used</th><th>State</th><th>Actions</th></tr></thead>
            <tbody>
              {active.map((key) => (
                <Fragment key={key.id}>
                  <tr data-key={key.id}>
                    <td class="strong">{key.name}</td>
                    <td><code>{key.key_preview}</code></td>
                    <td class="small">
                      <div>{key.models ? key.models.join(", ") : "all models"}</div>
                      <div class="muted">{[key.rpm ? `${key.rpm} rpm` : "", key.token_budget ? `${compact(key.token_budget)} tokens / ${key.budget_period}` : "", key.expires_at ? `expires ${key.expires_at.slice(0, 10)}` : ""].filter(Boolean).join(" · ") || "no limits"}</div>
                    </td>
                    <td class="num">{compact(key.usage.requests)}</td>
                    <td class="num">{compact(key.usage.input_tokens + key.usage.output_tokens)}</td>
                    <td class="small">{relative(key.last_used_at, now)}</td>
                    <td><span class={`badge ${key.disabled || (key.expires_at && Date.parse(key.expires_at) < now) ? "disabled" : "active"}`}>{key.disabled ? "disabled" : key.expires_at && Date.parse(key.expires_at) < now ? "expired" : "active"}</span></td>
                    <td class="actions">
                      <button type="button" aria-expanded={editing === key.id} onClick={() => setEditing(editing === key.id ? undefined : key.id)}>Edit</button>
                      <button type="button" onClick={() => run(() => api(`/keys/${key.id}`, "PATCH", { disabled: !key.disabled }))}>{key.disabled ? "Enable" : "Disable"}</button>
                      {confirming === key.id
                        ? <span class="confirm" role="group" aria-label={`Revoke ${key.name}?`}>
                            <button type="button" class="danger" onClick={() => { setConfirming(undefined); void run(() => api(`/keys/${key.id}`, "DELETE")); }}>Really revoke</button>
                            <button type="button" onClick={() => setConfirming(undefined)}>Keep</button>
                          </span>
                        : <button type="button" class="danger" onClick={() => setConfirming(key.id)}>Revoke</button>}
                    </td>
                  </tr>
                  {editing === key.id && (
                    <tr><td colSpan={8}>
                      <LimitsForm title={`Limits of ${key.name}`} submit="Save" initial={fromKey(key)} onSubmit={(limits) => run(async () => {
                        await api(`/keys/${key.id}`, "PATCH", toBody(limits, true));
                        setEditing(undefined);
                      })} />
                    </td></tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function NewKey(props: { created: { id: string; name: string; key: string }; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="panel new-key" role="status">
      <h2>Key “{props.created.name}” created</h2>
      <p class="small">Copy it now: it is shown only this once (only its hash is stored).</p>
      <div class="row">
        <input class="mono" readOnly value={props.created.key} aria-label="The new key" onFocus={(event) => (event.target as HTMLInputElement).select()} />
        <button type="button" class="primary" onClick={async () => {
          await navigator.clipboard?.writeText(props.created.key).catch(() => {});
          setCopied(true);
        }}>{copied ? "Copied" : "Copy"}</button>
        <button type="button" onClick={props.onClose}>Done</button>
      </div>
    </div>
  );
}

function LimitsForm(props: { title: string; submit: string; initial: Limits; onSubmit: (limits: Limits) => Promise<void> }) {
  const [limits, setLimits] = useState(props.initial);
  const field = (name: keyof Limits) => ({
    value: limits[name],
    onInput: (event: Event) => setLimits({ ...limits, [name]: (event.target as HTMLInputElement).value }),
  });
  const id = props.title.replace(/\W+/g, "-").toLowerCase();
  return (
    <form class="panel form-grid" onSubmit={(event) => {
      event.preventDefault();
      void props.onSubmit(limits).then(() => { if (props.initial === EMPTY) setLimits(EMPTY); });
    }}>
      <h2>{props.title}</h2>
      <label for={`${id}-name`}>Name</label>
      <input id={`${id}-name`} required {...field("name")} />
      <label for={`${id}-models`}>Models</label>
      <input id={`${id}-models`} placeholder="all; or gemini-2.5-flash, gemini-3-*" {...field("models")} />
      <label for={`${id}-rpm`}>Requests per minute</label>
      <input id={`${id}-rpm`} type="number" min="1" placeholder="no limit" {...field("rpm")} />
      <label for={`${id}-budget`}>Token budget</label>
      <div class="row">
        <input id={`${id}-budget`} type="number" min="1" placeholder="no limit" {...field("token_budget")} />
        <label class="sr-only" for={`${id}-period`}>Budget period</label>
        <select id={`${id}-period`} value={limits.budget_period} onChange={(event) => setLimits({ ...limits, budget_period: (event.target as HTMLSelectElement).value as Limits["budget_period"] })}>
          <option value="day">per day</option><option value="month">per month</option><option value="total">in total</option>
        </select>
      </div>
      <label for={`${id}-expires`}>Expires</label>
      <input id={`${id}-expires`} type="date" {...field("expires")} />
      <div />
      <div><button type="submit" class="primary">{props.submit}</button></div>
    </form>
  );
}
