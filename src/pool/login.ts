// Adding an account by logging in with Google (docs/codeassist-protocol.md §10): the authorization
// URL (Gemini CLI's installed-app client and scopes, offline access, consent, PKCE S256, a random
// single-use state), the code exchange, the account's e-mail, Code Assist set-up (project and tier,
// onboarding a new account), and the credential file — written only once Google has accepted the
// account. Used by `jellycli login` and by the admin API; neither waits on anything else here.
import { randomBytes } from "node:crypto";
import { GatewayError } from "../hub.ts";
import type { Sealer } from "../sealing.ts";
import type { CodeAssistUpstream } from "../upstreams/codeassist.ts";
import { networkError, parseTokenError } from "../upstreams/upstream-error.ts";
import { addCredentialFile } from "./credential.ts";

export const LOGIN_SCOPES = [
  "https://www.googleapis.com/auth/cloud-platform",
  "https://www.googleapis.com/auth/userinfo.email",
  "https://www.googleapis.com/auth/userinfo.profile",
];

/** Where Google sends the code when no browser runs beside jellycli: the page shows it to copy (§10.3). */
export const MANUAL_REDIRECT_URI = "https://codeassist.google.com/authcode";

export interface LoginClient {
  authUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
  clientId: string;
  clientSecret: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** One login in progress: what the code exchange will need once the browser comes back. */
export interface PendingLogin {
  /** 256 random bits, hex: the callback must bring it back unchanged. */
  state: string;
  verifier: string;
  redirectUri: string;
  url: string;
}

export function beginLogin(client: Pick<LoginClient, "authUrl" | "clientId">, redirectUri: string): PendingLogin {
  const state = randomBytes(32).toString("hex");
  // 96 random bytes → 128 URL-safe characters, the longest verifier RFC 7636 allows.
  const verifier = randomBytes(96).toString("base64url");
  const challenge = new Bun.CryptoHasher("sha256").update(verifier).digest("base64url");
  const url = new URL(client.authUrl);
  for (const [name, value] of Object.entries({
    client_id: client.clientId, redirect_uri: redirectUri, response_type: "code", scope: LOGIN_SCOPES.join(" "),
    access_type: "offline", prompt: "consent", state, code_challenge: challenge, code_challenge_method: "S256",
  })) url.searchParams.set(name, value);
  return { state, verifier, redirectUri, url: url.toString() };
}

/** What came back from Google: the redirect address, its query, or the bare code a person pasted. */
export interface CallbackInput {
  code?: string;
  state?: string;
  error?: string;
  errorDescription?: string;
}

export function parseCallback(input: string): CallbackInput {
  const text = input.trim();
  const query = /^https?:\/\//i.test(text) ? URL.parse(text)?.searchParams : text.includes("=") ? new URLSearchParams(text.replace(/^\?/, "")) : undefined;
  if (!query) return text ? { code: text } : {};
  const pick = (name: string) => query.get(name) ?? undefined;
  return { code: pick("code"), state: pick("state"), error: pick("error"), errorDescription: pick("error_description") };
}

/** Why Google did not hand out a code: the person declined, or the request was refused. */
export function callbackError(input: CallbackInput): GatewayError | undefined {
  if (input.error) {
    const declined = input.error === "access_denied";
    return new GatewayError({
      status: 400, code: input.error, kind: "needs_person",
      message: declined ? "Google sign-in was cancelled (access_denied): the account did not grant access." : `Google refused the sign-in: ${input.error}${input.errorDescription ? ` (${input.errorDescription})` : ""}.`,
    });
  }
  if (!input.code) return GatewayError.invalidRequest("No authorization code: paste the whole address the browser ended on (it contains ?code=…), or the code itself.");
  return undefined;
}

interface TokenSet {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
  id_token?: string;
  scope?: string;
  token_type?: string;
}

async function exchangeCode(client: LoginClient, code: string, pending: PendingLogin): Promise<TokenSet> {
  const fetchImpl = client.fetch ?? globalThis.fetch;
  // client_secret_post, the fields in google-auth-library's order (§10.4).
  const body = new URLSearchParams({
    client_id: client.clientId, code_verifier: pending.verifier, code, grant_type: "authorization_code",
    redirect_uri: pending.redirectUri, client_secret: client.clientSecret,
  });
  let response: Response;
  let text: string;
  try {
    response = await fetchImpl(client.tokenUrl, {
      method: "POST", body, signal: AbortSignal.timeout(client.timeoutMs ?? 30_000),
      headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8", accept: "application/json" },
    });
    text = await response.text();
  } catch (error) {
    throw networkError(error, "authorization code exchange");
  }
  let tokens: TokenSet | null = null;
  try {
    tokens = response.ok ? JSON.parse(text) as TokenSet : null;
  } catch { /* judged below */ }
  if (!response.ok || typeof tokens?.access_token !== "string") throw parseTokenError(response.status, text);
  if (typeof tokens.refresh_token !== "string" || tokens.refresh_token === "") {
    throw new GatewayError({ status: 502, code: "no_refresh_token", message: "Google answered without a refresh token, so the login would not last; try again (the consent screen must be shown)." });
  }
  return tokens;
}

async function fetchEmail(client: LoginClient, accessToken: string): Promise<string> {
  const fetchImpl = client.fetch ?? globalThis.fetch;
  let response: Response;
  let info: { email?: unknown };
  try {
    response = await fetchImpl(client.userinfoUrl, { headers: { authorization: `Bearer ${accessToken}` }, signal: AbortSignal.timeout(client.timeoutMs ?? 30_000) });
    info = await response.json() as { email?: unknown };
  } catch (error) {
    throw networkError(error, "user info");
  }
  if (!response.ok || typeof info.email !== "string" || !info.email.includes("@")) {
    throw new GatewayError({ status: 502, code: "no_email", message: `Google's user info did not name the account's e-mail (HTTP ${response.status}); the userinfo.email scope is needed.` });
  }
  return info.email;
}

export interface LoginResult {
  email: string;
  project: string;
  tier: string;
  /** The file written in credentials_dir (its name: the credential's id). */
  file: string;
}

export interface CompleteLoginDeps {
  client: LoginClient;
  codeAssist: CodeAssistUpstream;
  credentialsDir: string;
  sealer: Sealer;
  now?: () => number;
}

/**
 * Exchanges the code, reads the e-mail, sets the account up with Code Assist, and only then writes
 * `credentials/<email>.json` (atomically, 0600, sealed when a key is set). A refusal at any step
 * throws and writes nothing. The same account logging in again replaces its file.
 */
export async function completeLogin(deps: CompleteLoginDeps, pending: PendingLogin, code: string, options: { project?: string } = {}): Promise<LoginResult> {
  const tokens = await exchangeCode(deps.client, code, pending);
  const email = await fetchEmail(deps.client, tokens.access_token);
  const { project, tier } = await deps.codeAssist.setUpAccount(tokens.access_token, { project: options.project });
  const now = deps.now?.() ?? Date.now();
  const file = `${email.toLowerCase().replace(/[^a-z0-9@._+-]/g, "_")}.json`;
  await addCredentialFile(deps.credentialsDir, file, {
    client_id: deps.client.clientId, client_secret: deps.client.clientSecret,
    refresh_token: tokens.refresh_token, access_token: tokens.access_token,
    expiry: new Date(now + (tokens.expires_in ?? 3600) * 1000).toISOString(),
    token_type: tokens.token_type ?? "Bearer", scope: tokens.scope ?? LOGIN_SCOPES.join(" "),
    project_id: project, email, tier,
  }, deps.sealer, true);
  return { email, project, tier, file };
}

export type LoginStatus =
  | { status: "pending" }
  | { status: "done"; account: LoginResult }
  | { status: "error"; error: string; help_url?: string };

export interface LoginEntry {
  pending: PendingLogin;
  /** Who started it (an admin session); only they may ask about it or finish it by paste. */
  owner: string;
  expiresAt: number;
  outcome: LoginStatus | { status: "working" };
}

/**
 * Logins started from the admin API, by state: single-use, bound to the session that started
 * them, forgotten 10 minutes after they began (done or not).
 */
export class LoginStates {
  private readonly entries = new Map<string, LoginEntry>();

  constructor(private readonly now: () => number = Date.now, private readonly ttlMs = 10 * 60_000, private readonly maxPending = 100) {}

  add(pending: PendingLogin, owner: string): LoginEntry {
    this.prune();
    if (this.entries.size >= this.maxPending) throw new GatewayError({ status: 429, code: "too_many_logins", message: "Too many logins in progress; finish or wait for one to expire (10 minutes)." });
    const entry: LoginEntry = { pending, owner, expiresAt: this.now() + this.ttlMs, outcome: { status: "pending" } };
    this.entries.set(pending.state, entry);
    return entry;
  }

  /** A login another instance started (or finished), as it told us. */
  adopt(state: string, entry: LoginEntry): void {
    if (entry.expiresAt > this.now()) this.entries.set(state, entry);
  }

  entry(state: string): LoginEntry | undefined {
    return this.live(state);
  }

  /** The login a callback finishes, taken once; `owner` also checks who asks (a pasted address). */
  claim(state: string | undefined, owner?: string): PendingLogin {
    const entry = state ? this.live(state) : undefined;
    if (!entry || (owner !== undefined && entry.owner !== owner)) {
      throw GatewayError.invalidRequest("Unknown or expired login state: start the login again (a login is valid for 10 minutes).", "state");
    }
    if (entry.outcome.status !== "pending") throw GatewayError.invalidRequest("This login was already used: start the login again.", "state");
    entry.outcome = { status: "working" };
    return entry.pending;
  }

  finish(state: string, outcome: LoginStatus): void {
    const entry = this.entries.get(state);
    if (entry) entry.outcome = outcome;
  }

  status(state: string, owner: string): LoginStatus | undefined {
    const entry = this.live(state);
    if (!entry || entry.owner !== owner) return undefined;
    return entry.outcome.status === "working" ? { status: "pending" } : entry.outcome;
  }

  private live(state: string): LoginEntry | undefined {
    const entry = this.entries.get(state);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(state);
      return undefined;
    }
    return entry;
  }

  private prune(): void {
    const now = this.now();
    for (const [state, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(state);
  }
}

/** The small page a browser shows once Google sent it back to jellycli: account added, or why not. */
export function loginPage(outcome: LoginStatus): Response {
  const escape = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
  const [title, body] = outcome.status === "done"
    ? ["Account added", `<p><b>${escape(outcome.account.email)}</b> is ready to use: project ${escape(outcome.account.project)}, tier ${escape(outcome.account.tier)}.</p><p>You can close this tab.</p>`]
    : outcome.status === "error"
      ? ["Account not added", `<p>${escape(outcome.error)}</p>${outcome.help_url ? `<p><a href="${escape(outcome.help_url)}">${escape(outcome.help_url)}</a></p>` : ""}`]
      : ["Login in progress", "<p>Still working; reload in a moment.</p>"];
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>jellycli — ${title}</title>`
    + `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}@media(prefers-color-scheme:dark){body{background:#111;color:#eee}a{color:#8bf}}</style></head>`
    + `<body><h1>${title}</h1>${body}</body></html>`;
  return new Response(html, {
    status: outcome.status === "error" ? 400 : 200,
    headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'", "x-frame-options": "DENY", "cache-control": "no-store", "referrer-policy": "no-referrer" },
  });
}

/** A login refusal as a status: the reason and, when Google gave one, the page that fixes it. */
export function loginFailure(error: unknown): Extract<LoginStatus, { status: "error" }> {
  const cause = error instanceof GatewayError ? error : undefined;
  return { status: "error", error: cause?.message ?? (error as Error).message ?? String(error), ...(cause?.helpUrl ? { help_url: cause.helpUrl } : {}) };
}

export interface LoginServiceDeps extends CompleteLoginDeps {
  /** Where Google sends the browser back: this gateway's /oauth2/callback. */
  redirectUri: () => string;
  /** After a credential file was written: the pool picks it up now rather than at the next poll. */
  onAdded: (file: string) => Promise<void>;
  now: () => number;
}

/** Logins started from the admin API: begin, finish through the callback or a pasted address, status. */
/** Several instances (shared/logins.ts): a login started on one may come back to another. */
export interface SharedLogins {
  put(state: string, entry: LoginEntry): void;
  get(state: string): Promise<LoginEntry | undefined>;
  /** True for exactly one caller across all instances. */
  claim(state: string): Promise<boolean>;
}

export class LoginService {
  private readonly states: LoginStates;
  shared: SharedLogins | undefined;

  constructor(private readonly deps: LoginServiceDeps) {
    this.states = new LoginStates(deps.now);
  }

  start(owner: string): { auth_url: string; state: string } {
    const pending = beginLogin(this.deps.client, this.deps.redirectUri());
    const entry = this.states.add(pending, owner);
    this.shared?.put(pending.state, entry);
    return { auth_url: pending.url, state: pending.state };
  }

  /** What this instance knows of `state`, else what another one said. */
  private async known(state: string | undefined): Promise<void> {
    if (!state || !this.shared || this.states.entry(state)) return;
    const entry = await this.shared.get(state);
    if (entry) this.states.adopt(state, entry);
  }

  /** Throws (400) for an unknown, reused, expired or — with `owner` — someone else's state; else the outcome. */
  async finish(input: CallbackInput, owner?: string): Promise<LoginStatus> {
    await this.known(input.state);
    const pending = this.states.claim(input.state, owner);
    if (this.shared && !(await this.shared.claim(pending.state))) throw GatewayError.invalidRequest("This login was already used: start the login again.", "state");
    let outcome: LoginStatus;
    try {
      const refusal = callbackError(input);
      if (refusal) throw refusal;
      const account = await completeLogin(this.deps, pending, input.code!);
      await this.deps.onAdded(account.file);
      outcome = { status: "done", account };
    } catch (error) {
      outcome = loginFailure(error);
    }
    this.states.finish(pending.state, outcome);
    const entry = this.states.entry(pending.state);
    if (entry) this.shared?.put(pending.state, entry);
    return outcome;
  }

  async status(state: string, owner: string): Promise<LoginStatus> {
    // Another instance may have finished it: its word is newer than ours.
    if (this.shared) {
      const theirs = await this.shared.get(state);
      if (theirs) this.states.adopt(state, theirs);
    }
    const status = this.states.status(state, owner);
    if (!status) throw GatewayError.invalidRequest("Unknown or expired login state.", "state");
    return status;
  }
}
