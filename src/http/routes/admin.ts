// The admin JSON API under /admin/api/ (the web page will sit on it): credentials of every pool,
// client keys, usage, the effective configuration. Its own authentication, separate from clients':
// `Authorization: Bearer <admin_password>` for scripts, or a session cookie from POST /login
// (HttpOnly, SameSite=Strict) for the page; five failed logins from one address in 15 minutes lock
// that address out until the window passes; a cookie-authenticated change whose Origin is another
// host is refused. Without an admin_password the surface answers only on a loopback-bound gateway;
// otherwise every /admin path is 404.
import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { Elysia } from "elysia";
import { GatewayError } from "../../hub.ts";
import type { Pool } from "../../pool/pool.ts";
import { BUDGET_PERIODS, createKey, listKeys, revokeKey, updateKey, type BudgetPeriod, type KeyChanges } from "../../store/keys.ts";
import { localUsage, USAGE_GROUPS, type UsageGroup, type UsageSource } from "../../store/usage.ts";
import { liveTail, maskSecrets, overview, publicKey } from "./admin-views.ts";
import { passwordMatcher } from "../auth.ts";
import { adminPageResponse } from "./admin-page.ts";
import { loginPage, parseCallback, type LoginService, type LoginStatus } from "../../pool/login.ts";
import type { LogTail, TailEntry } from "../../log-tail.ts";
import { sseFraming, streamResponse } from "../stream-response.ts";
import { toOpenAIErrorBody } from "../errors.ts";

export interface AdminDeps {
  /** None: the admin surface exists only when `adminOpen` (a loopback-bound gateway). */
  adminPassword?: string;
  adminOpen: boolean;
  pools: readonly { name: string; pool: Pool }[];
  db: Database;
  /** The effective configuration; secrets are masked before it is shown. */
  config: Record<string, unknown>;
  clientAddress: (request: Request) => string;
  /** After a key was created or revoked here, so the gateway uses it at once. */
  onKeysChanged?: (id?: string) => void;
  /** GET /metrics: the Prometheus text, and a token scrapers may use instead of the admin password. */
  metrics?: () => string;
  metricsToken?: string;
  /** The last request summaries (GET /logs, /logs/stream). */
  tail?: LogTail;
  /** Checks an OAuth credential file (a token refresh and loadCodeAssist) and saves it; throws why not. */
  addCredentialFile?: (fileName: string, content: unknown) => Promise<{ id: string; email?: string; project?: string; tier?: string }>;
  /** Checks an upstream API key (a free model list) and adds it to its pool and the database. */
  addApiKey?: (pool: string, apiKey: string) => Promise<{ id: string; pool: string }>;
  /** Stops using a credential; an OAuth file is moved aside, never destroyed. */
  removeCredential?: (id: string) => Promise<void>;
  /** Probes a credential now (token + a cheap call) and records the result in its pool. */
  probeCredential?: (id: string) => Promise<void>;
  /** Adding Google accounts by logging in (pool/login.ts). */
  logins?: LoginService;
  /** Where usage reports come from: this database, or Redis for every instance. */
  usage?: UsageSource;
  /** Streamed answers being sent now (the overview). */
  openStreams?: () => number;
  version?: string;
  /** Epoch ms the gateway started (uptime on the settings page). */
  startedAt?: number;
  now: () => number;
}

const COOKIE = "jellycli_admin";
const SESSION_MS = 12 * 3_600_000;
const LOCKOUT_WINDOW_MS = 15 * 60_000;
const LOCKOUT_FAILURES = 5;

/** The admin surface's authentication, shared by its routes and by /health's details. */
export class AdminAuth {
  /** Session ids by their SHA-256 (never the cookie itself), with their expiry. */
  readonly sessions = new Map<string, number>();
  /** Several instances (shared/sessions.ts): told each session opened or closed here. */
  onSession?: (hash: string, expiresAt: number | null) => void;
  readonly matches: (candidate: string | undefined) => boolean;
  readonly enabled: boolean;

  constructor(private readonly deps: Pick<AdminDeps, "adminPassword" | "adminOpen" | "now">) {
    this.matches = deps.adminPassword ? passwordMatcher([deps.adminPassword]) : () => false;
    this.enabled = deps.adminPassword !== undefined || deps.adminOpen;
  }

  /** How the request is an administrator's: "bearer", "cookie", "open" (loopback, no admin_password) — or not at all. */
  check(request: Request): "bearer" | "cookie" | "open" | undefined {
    if (!this.enabled) return undefined;
    if (!this.deps.adminPassword) return "open";
    const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (bearer && this.matches(bearer)) return "bearer";
    const session = cookieOf(request, COOKIE);
    const expires = session ? this.sessions.get(sessionHash(session)) : undefined;
    return session && expires !== undefined && expires > this.deps.now() ? "cookie" : undefined;
  }

  /** Who the administrator is, for what must stay theirs (a login they started): the session, or the bearer / open surface. */
  principal(request: Request): string | undefined {
    const how = this.check(request);
    return how === "cookie" ? `session:${sessionHash(cookieOf(request, COOKIE)!)}` : how;
  }

  open(session: string, expiresAt: number): void {
    const hash = sessionHash(session);
    this.sessions.set(hash, expiresAt);
    this.onSession?.(hash, expiresAt);
  }

  close(session: string): void {
    const hash = sessionHash(session);
    this.sessions.delete(hash);
    this.onSession?.(hash, null);
  }
}

export function adminRoutes(deps: AdminDeps, auth: AdminAuth = new AdminAuth(deps)) {
  const { matches, enabled } = auth;
  const failures = new Map<string, number[]>();

  /** Who is asking — or the refusal (404 where the surface does not exist, else 401). */
  const authenticate = (request: Request): "bearer" | "cookie" | "open" => {
    if (!enabled) throw new GatewayError({ status: 404, code: "unknown_url", message: `Unknown request URL: ${request.method} ${new URL(request.url).pathname}` });
    const how = auth.check(request);
    if (how) return how;
    throw new GatewayError({ status: 401, code: "admin_auth_required", message: "Log in to the admin API (POST /admin/api/login) or send Authorization: Bearer <admin_password>." });
  };
  /** A change made with a cookie must come from a page of this very host (no cross-site forgery). */
  const guardChange = (request: Request) => {
    const how = authenticate(request);
    const origin = request.headers.get("origin");
    if (how === "cookie" && origin && URL.parse(origin)?.host !== request.headers.get("host")) {
      throw new GatewayError({ status: 403, code: "origin_mismatch", message: "A change made with the admin cookie must come from this host's own page." });
    }
  };
  const credential = (id: string) => {
    for (const { name, pool } of deps.pools) if (pool.has(id)) return { name, pool };
    throw new GatewayError({ status: 404, code: "not_found", message: `No credential ${id}.` });
  };

  const scraper = deps.metricsToken ? passwordMatcher([deps.metricsToken]) : () => false;
  const metrics = new Elysia({ name: "routes.metrics" }).get("/metrics", ({ request }) => {
    const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (!(bearer && scraper(bearer))) authenticate(request);
    return new Response(deps.metrics?.() ?? "", { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  });

  const usage = deps.usage ?? localUsage(deps.db);
  const logins = () => {
    if (!deps.logins) throw new GatewayError({ status: 501, message: "Logging in is not available here." });
    return deps.logins;
  };
  const owner = (request: Request) => auth.principal(request)!;
  const publicStatus = (outcome: LoginStatus) => outcome.status === "done"
    ? { status: "done", account: { id: outcome.account.file, email: outcome.account.email, project_id: outcome.account.project, tier: outcome.account.tier } }
    : outcome;
  // Google sends the browser here; SameSite=Strict keeps the cookie away on that cross-site
  // redirect, so the state (256 random bits, single-use) is what authenticates it.
  const callback = new Elysia({ name: "routes.oauth-callback" }).get("/oauth2/callback", async ({ request }) => {
    if (!enabled) authenticate(request);
    try {
      return loginPage(await logins().finish(parseCallback(new URL(request.url).search)));
    } catch (error) {
      return loginPage({ status: "error", error: (error as Error).message });
    }
  });

  // The page itself holds no secret: it asks the API, which asks for the password.
  const servePage = async ({ request, path }: { request: Request; path: string }) => {
    if (!enabled) authenticate(request);
    const response = await adminPageResponse(request, path);
    if (!response) throw new GatewayError({ status: 404, code: "unknown_url", message: `Unknown request URL: GET ${path}` });
    return response;
  };
  const pageRoutes = new Elysia({ name: "routes.admin-page" }).get("/admin", servePage).get("/admin/", servePage).get("/admin/assets/:name", servePage);

  return new Elysia({ name: "routes.admin" }).use(metrics).use(callback).use(pageRoutes).group("/admin/api", (api) => api
    .post("/oauth/start", ({ request }) => {
      guardChange(request);
      return logins().start(owner(request));
    })
    .post("/oauth/callback", async ({ body, request }) => {
      guardChange(request);
      const address = (body as { callback_url?: unknown } | null)?.callback_url;
      if (typeof address !== "string" || address.trim() === "") throw GatewayError.invalidRequest("`callback_url` must be the address the browser ended on after signing in.", "callback_url");
      const input = parseCallback(address);
      if (!input.state) throw GatewayError.invalidRequest("The address has no state: paste the whole address the browser ended on.", "callback_url");
      return publicStatus(await logins().finish(input, owner(request)));
    })
    .get("/oauth/status", async ({ query, request }) => {
      authenticate(request);
      return publicStatus(await logins().status(String(query.state ?? ""), owner(request)));
    })
    .post("/login", ({ body, request, set }) => {
      if (!enabled) authenticate(request);
      const address = deps.clientAddress(request);
      const now = deps.now();
      const recent = (failures.get(address) ?? []).filter((at) => at > now - LOCKOUT_WINDOW_MS);
      if (recent.length >= LOCKOUT_FAILURES) {
        throw new GatewayError({ status: 429, code: "too_many_attempts", retryAfterMs: recent[0]! + LOCKOUT_WINDOW_MS - now, message: "Too many failed logins from this address; try again later." });
      }
      const password = (body as { password?: unknown } | null)?.password;
      if (!deps.adminPassword || typeof password !== "string" || !matches(password)) {
        failures.set(address, [...recent, now]);
        throw new GatewayError({ status: 401, code: "invalid_password", message: deps.adminPassword ? "Wrong admin password." : "No admin_password is set: the admin API needs no login on this loopback gateway." });
      }
      failures.delete(address);
      const session = randomBytes(32).toString("base64url");
      auth.open(session, now + SESSION_MS);
      set.headers["set-cookie"] = `${COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`;
      return { ok: true, expires_at: new Date(now + SESSION_MS).toISOString() };
    })
    // Whether this browser is signed in, without a 401 for the page to stumble on (404 where the surface is off).
    .get("/session", ({ request }) => {
      if (!enabled) authenticate(request);
      return { via: auth.check(request) ?? null };
    })
    .post("/logout", ({ request, set }) => {
      const session = cookieOf(request, COOKIE);
      if (session) auth.close(session);
      set.headers["set-cookie"] = `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
      return { ok: true };
    })
    .get("/credentials", ({ request }) => {
      authenticate(request);
      const now = deps.now();
      return {
        pools: deps.pools.map(({ name }) => ({ name, kind: name === "codeassist" ? "oauth" : "api_key" })),
        credentials: deps.pools.flatMap(({ name, pool }) => pool.reports(now).map((report) => {
          const state = pool.state(report.file);
          const cooling = Object.keys(report.cooling).length > 0;
          return {
            id: report.file, pool: name, kind: name === "codeassist" ? "oauth" : "api_key", label: report.file,
            email: report.email ?? null, project_id: report.project ?? null, tier: report.tier ?? null,
            state: report.status === "active" && cooling ? "cooling" : report.status,
            reason: report.reason ?? null, help_url: report.url ?? null, cooldowns: report.cooling,
            success_count: report.success_count, error_count: report.error_count,
            last_used_at: state.last_success_at ? new Date(state.last_success_at).toISOString() : null,
            last_error: report.last_error ?? null,
          };
        })),
      };
    })
    .patch("/credentials/:id", ({ params, body, request }) => {
      guardChange(request);
      const disabled = (body as { disabled?: unknown } | null)?.disabled;
      if (typeof disabled !== "boolean") throw GatewayError.invalidRequest("Send {\"disabled\": true | false}.", "disabled");
      const { pool } = credential(params.id);
      pool.report(params.id, { kind: "operator", action: disabled ? "disable" : "enable" }, deps.now());
      return { id: params.id, state: pool.state(params.id).status };
    })
    .post("/credentials", async ({ body, request, set }) => {
      guardChange(request);
      const input = (body ?? {}) as { file_name?: unknown; credential?: unknown; pool?: unknown; api_key?: unknown };
      if (input.api_key !== undefined || input.pool !== undefined) {
        if (typeof input.pool !== "string" || input.pool === "") throw GatewayError.invalidRequest("`pool` must name an API-key pool (gemini_api or an OpenAI-compatible upstream).", "pool");
        if (typeof input.api_key !== "string" || input.api_key.trim() === "") throw GatewayError.invalidRequest("`api_key` must be the key.", "api_key");
        if (!deps.addApiKey) throw new GatewayError({ status: 501, message: "Adding API keys is not available here." });
        set.status = 201;
        return await deps.addApiKey(input.pool, input.api_key.trim());
      }
      if (typeof input.file_name !== "string" || !/^[\w.@+-]{1,100}\.json$/.test(input.file_name)) {
        throw GatewayError.invalidRequest("`file_name` must be a plain file name ending in .json.", "file_name");
      }
      if (typeof input.credential !== "object" || input.credential === null) throw GatewayError.invalidRequest("`credential` must be the OAuth credential file's JSON object.", "credential");
      if (!deps.addCredentialFile) throw new GatewayError({ status: 501, message: "Adding credentials is not available here." });
      set.status = 201;
      return await deps.addCredentialFile(input.file_name, input.credential);
    })
    .delete("/credentials/:id", async ({ params, request }) => {
      guardChange(request);
      credential(params.id);
      if (!deps.removeCredential) throw new GatewayError({ status: 501, message: "Removing credentials is not available here." });
      await deps.removeCredential(params.id);
      return { id: params.id, removed: true };
    })
    .post("/credentials/:id/reset", async ({ params, request }) => {
      guardChange(request);
      const { pool } = credential(params.id);
      pool.report(params.id, { kind: "operator", action: "reset" }, deps.now());
      // Then see whether it works now: a refused one goes straight back to invalid / disabled.
      await deps.probeCredential?.(params.id);
      const state = pool.state(params.id);
      return { id: params.id, state: state.status, reason: state.disabled_reason ?? null };
    })
    .get("/keys", async ({ request }) => {
      authenticate(request);
      // Each key with its usage totals (all time; /usage narrows by date).
      const totals = new Map((await usage.report("0000-01-01", "9999-12-31", ["key"])).map((row) => [row.key, row]));
      return {
        keys: listKeys(deps.db).map((record) => {
          const row = totals.get(record.id);
          return { ...publicKey(record), usage: { requests: row?.requests ?? 0, input_tokens: row?.input_tokens ?? 0, output_tokens: row?.output_tokens ?? 0, cached_tokens: row?.cached_tokens ?? 0 } };
        }),
      };
    })
    .post("/keys", ({ body, request, set }) => {
      guardChange(request);
      const input = (body ?? {}) as Record<string, unknown>;
      if (typeof input.name !== "string" || input.name.trim() === "") throw GatewayError.invalidRequest("`name` must be a non-empty string.", "name");
      const models = input.models === undefined || input.models === null ? undefined : input.models;
      if (models !== undefined && (!Array.isArray(models) || !models.every((model) => typeof model === "string"))) throw GatewayError.invalidRequest("`models` must be a list of model names or patterns.", "models");
      const whole = (field: string) => {
        const value = input[field];
        if (value === undefined || value === null) return undefined;
        if (typeof value !== "number" || !Number.isInteger(value) || value < 1) throw GatewayError.invalidRequest(`\`${field}\` must be a positive whole number.`, field);
        return value;
      };
      const period = (input.budget_period ?? "month") as BudgetPeriod;
      if (!BUDGET_PERIODS.includes(period)) throw GatewayError.invalidRequest(`\`budget_period\` must be one of: ${BUDGET_PERIODS.join(", ")}.`, "budget_period");
      const expiresAt = typeof input.expires_at === "string" ? Date.parse(input.expires_at) : undefined;
      if (Number.isNaN(expiresAt)) throw GatewayError.invalidRequest("`expires_at` must be a date.", "expires_at");
      const created = createKey(deps.db, { name: input.name.trim(), models: models as string[] | undefined, rpm: whole("rpm"), tokenBudget: whole("token_budget"), budgetPeriod: period, expiresAt,
      });
      deps.onKeysChanged?.(created.record.id);
      set.status = 201;
      return { ...publicKey(created.record), key: created.key };
    })
    .patch("/keys/:id", ({ params, body, request }) => {
      guardChange(request);
      const input = (body ?? {}) as Record<string, unknown>;
      const changes: KeyChanges = {};
      if (input.name !== undefined) {
        if (typeof input.name !== "string" || input.name.trim() === "") throw GatewayError.invalidRequest("`name` must be a non-empty string.", "name");
        changes.name = input.name.trim();
      }
      if (input.models !== undefined) {
        if (input.models !== null && (!Array.isArray(input.models) || !input.models.every((model) => typeof model === "string"))) throw GatewayError.invalidRequest("`models` must be a list of names or null.", "models");
        changes.models = input.models as string[] | null;
      }
      for (const [field, target] of [["rpm", "rpm"], ["token_budget", "tokenBudget"]] as const) {
        const value = input[field];
        if (value === undefined) continue;
        if (value !== null && (typeof value !== "number" || !Number.isInteger(value) || value < 1)) throw GatewayError.invalidRequest(`\`${field}\` must be a positive whole number or null.`, field);
        changes[target] = value as number | null;
      }
      if (input.budget_period !== undefined) {
        if (!BUDGET_PERIODS.includes(input.budget_period as BudgetPeriod)) throw GatewayError.invalidRequest(`\`budget_period\` must be one of: ${BUDGET_PERIODS.join(", ")}.`, "budget_period");
        changes.budgetPeriod = input.budget_period as BudgetPeriod;
      }
      if (input.expires_at !== undefined) {
        const at = input.expires_at === null ? null : typeof input.expires_at === "string" ? Date.parse(input.expires_at) : Number.NaN;
        if (at !== null && Number.isNaN(at)) throw GatewayError.invalidRequest("`expires_at` must be a date or null.", "expires_at");
        changes.expiresAt = at;
      }
      if (input.disabled !== undefined) {
        if (typeof input.disabled !== "boolean") throw GatewayError.invalidRequest("`disabled` must be true or false.", "disabled");
        changes.disabled = input.disabled;
      }
      if (!updateKey(deps.db, params.id, changes)) throw new GatewayError({ status: 404, code: "not_found", message: `No active key ${params.id}.` });
      deps.onKeysChanged?.(params.id);
      return publicKey(listKeys(deps.db).find((record) => record.id === params.id)!);
    })
    .delete("/keys/:id", ({ params, request }) => {
      guardChange(request);
      if (!revokeKey(deps.db, params.id)) throw new GatewayError({ status: 404, code: "not_found", message: `No active key ${params.id}.` });
      deps.onKeysChanged?.(params.id);
      return { id: params.id, revoked: true };
    })
    .get("/usage", async ({ query, request }) => {
      authenticate(request);
      const today = new Date(deps.now()).toISOString().slice(0, 10);
      const from = query.from ?? `${today.slice(0, 8)}01`;
      const to = query.to ?? today;
      for (const [name, day] of [["from", from], ["to", to]] as const) {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw GatewayError.invalidRequest(`\`${name}\` must be a day (YYYY-MM-DD).`, name);
      }
      const groups = (query.group_by ?? "day").split(",").map((group) => group.trim()).filter(Boolean);
      const unknown = groups.find((group) => !(USAGE_GROUPS as readonly string[]).includes(group));
      if (unknown) throw GatewayError.invalidRequest(`\`group_by\` takes ${USAGE_GROUPS.join(", ")}; not ${unknown}.`, "group_by");
      return { from, to, group_by: groups, rows: await usage.report(from, to, groups as UsageGroup[]), totals: (await usage.report(from, to, []))[0] };
    })
    .get("/config", ({ request }) => {
      authenticate(request);
      const now = deps.now();
      return {
        config: maskSecrets(deps.config), version: deps.version ?? null,
        started_at: deps.startedAt ? new Date(deps.startedAt).toISOString() : null, uptime_s: deps.startedAt ? Math.round((now - deps.startedAt) / 1000) : null,
      };
    })
    .get("/overview", ({ request }) => {
      authenticate(request);
      return overview(deps, usage);
    })
    .get("/logs", ({ query, request }) => {
      authenticate(request);
      const entries = deps.tail?.after(Number(query.after ?? 0) || 0) ?? [];
      return { entries, cursor: entries.at(-1)?.cursor ?? Number(query.after ?? 0) };
    })
    .get("/logs/stream", ({ request }) => {
      authenticate(request);
      // A first keep-alive sends the headers at once: nothing else may come for a while.
      return streamResponse(liveTail(deps.tail, request.signal), sseFraming<TailEntry>(toOpenAIErrorBody), { keepaliveMs: 15_000, primeKeepalive: true });
    }));
}

const sessionHash = (session: string) => new Bun.CryptoHasher("sha256").update(session).digest("hex");

function cookieOf(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return rest.join("=");
  }
  return undefined;
}
