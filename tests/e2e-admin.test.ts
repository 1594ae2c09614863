// The admin JSON API end to end: its own authentication (Bearer, login cookie, lockout, Origin
// check, loopback-only without an admin_password), credentials with operator actions the traffic
// then obeys, client keys, usage, and the configuration with every secret masked.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { MockGoogle } from "./mock/google.ts";
import { createLogger } from "../src/log.ts";
import { addReadyAccount, chat, makeWorkspace, readJson, startGateway, testConfig, type Running, type Workspace } from "./helpers.ts";

const ADMIN = "admin-password-123";
let mock: MockGoogle;
let workspace: Workspace;
const running: Running[] = [];
const start = async (overrides = {}) => {
  const gateway = await startGateway(testConfig(mock, workspace, { health_check_interval_s: 0, usage_flush_interval_s: 0.05, ...overrides }));
  running.push(gateway);
  return gateway;
};
const admin = (gateway: Running, path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  fetch(`${gateway.url}/admin/api${path}`, { ...init, headers: { "content-type": "application/json", ...init.headers } });
const bearer = { authorization: `Bearer ${ADMIN}` };

beforeEach(() => {
  mock = new MockGoogle();
  workspace = makeWorkspace();
  for (const name of ["a", "b"]) addReadyAccount(mock, workspace, name);
});
afterEach(async () => {
  for (const gateway of running.splice(0)) await gateway.stop();
  mock.stop();
});

describe("admin authentication", () => {
  test("Bearer works; wrong or missing credentials are 401; login sets a strict HttpOnly cookie; logout ends it", async () => {
    const gateway = await start({ admin_password: ADMIN, password: "client-pw" });
    expect((await admin(gateway, "/credentials")).status).toBe(401);
    expect((await admin(gateway, "/credentials", { headers: { authorization: "Bearer client-pw" } })).status).toBe(401);
    expect((await admin(gateway, "/credentials", { headers: bearer })).status).toBe(200);
    // /health's per-credential details are the administrator's too.
    expect((await readJson(await fetch(`${gateway.url}/health`, { headers: { authorization: "Bearer client-pw" } }))).details).toBeUndefined();
    expect((await readJson(await fetch(`${gateway.url}/health`, { headers: bearer }))).details).toHaveLength(2);
    const login = await admin(gateway, "/login", { method: "POST", body: JSON.stringify({ password: ADMIN }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^jellycli_admin=[\w-]{40,}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    const session = cookie.split(";")[0]!;
    expect((await admin(gateway, "/keys", { headers: { cookie: session } })).status).toBe(200);
    // A change with the cookie from another site's page is refused; from this host's page it works.
    const forged = await admin(gateway, "/keys", { method: "POST", headers: { cookie: session, origin: "http://evil.example" }, body: JSON.stringify({ name: "x" }) });
    expect(forged.status).toBe(403);
    const own = await admin(gateway, "/keys", { method: "POST", headers: { cookie: session, origin: gateway.url }, body: JSON.stringify({ name: "x" }) });
    expect(own.status).toBe(201);
    await admin(gateway, "/logout", { method: "POST", headers: { cookie: session } });
    expect((await admin(gateway, "/keys", { headers: { cookie: session } })).status).toBe(401);
  });

  test("five failed logins from one address lock it out with 429", async () => {
    const gateway = await start({ admin_password: ADMIN });
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await admin(gateway, "/login", { method: "POST", body: JSON.stringify({ password: "guess" }) })).status).toBe(401);
    }
    const locked = await admin(gateway, "/login", { method: "POST", body: JSON.stringify({ password: ADMIN }) });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("without an admin_password: open on a loopback gateway, and absent (404) on a public one", async () => {
    const loopback = await start();
    expect((await admin(loopback, "/credentials")).status).toBe(200);
    const publicBind = await start({ bind_address: "0.0.0.0:0", password: "client-pw" });
    const url = publicBind.url.replace("0.0.0.0", "127.0.0.1");
    expect((await fetch(`${url}/admin/api/credentials`)).status).toBe(404);
  });
});

describe("admin data", () => {
  test("credentials of every pool, never a token; disable and reset change what the traffic does", async () => {
    const gateway = await start({ admin_password: ADMIN });
    const listed = await readJson(await admin(gateway, "/credentials", { headers: bearer }));
    expect(listed.credentials.map((entry: any) => [entry.id, entry.pool, entry.kind, entry.state])).toEqual([["a.json", "codeassist", "oauth", "active"], ["b.json", "codeassist", "oauth", "active"]]);
    expect(JSON.stringify(listed)).not.toMatch(/ya29\.|1\/\/refresh/);
    expect((await admin(gateway, "/credentials/a.json", { method: "PATCH", headers: bearer, body: JSON.stringify({ disabled: true }) })).status).toBe(200);
    for (let index = 0; index < 3; index++) await (await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })).text();
    expect(mock.generateCalls().map((call) => call.account)).toEqual(["b", "b", "b"]);
    const after = await readJson(await admin(gateway, "/credentials", { headers: bearer }));
    expect(after.credentials[0]).toMatchObject({ id: "a.json", state: "disabled", reason: "disabled by the operator" });
    const reset = await admin(gateway, "/credentials/a.json/reset", { method: "POST", headers: bearer });
    expect(await readJson(reset)).toMatchObject({ id: "a.json", state: "active", reason: null });
    expect(mock.calls.some((call) => call.path === "/v1internal:loadCodeAssist" && call.account === "a")).toBe(true); // probed after the reset
    await (await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })).text();
    await (await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })).text();
    expect(mock.generateCalls().map((call) => call.account)).toContain("a");
    expect((await admin(gateway, "/credentials/nope.json", { method: "PATCH", headers: bearer, body: JSON.stringify({ disabled: true }) })).status).toBe(404);
  });

  test("keys: created (shown once), used, counted in usage, revoked; the configuration is shown with secrets masked", async () => {
    const gateway = await start({ admin_password: ADMIN, gemini_api_keys: ["AIza-admin-test-key-000000000000"], gemini_upstream_order: ["codeassist"] });
    const created = await admin(gateway, "/keys", { method: "POST", headers: bearer, body: JSON.stringify({ name: "web", models: ["gemini-2.5-flash"], rpm: 100 }) });
    expect(created.status).toBe(201);
    const { key, id } = await readJson(created);
    expect(key).toMatch(/^jk-[0-9A-Za-z]{43}$/);
    await Bun.sleep(1200); // the running gateway follows the database within 2 s
    expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` })).status).toBe(200);
    await Bun.sleep(200);
    const keys = await readJson(await admin(gateway, "/keys", { headers: bearer }));
    const entry = keys.keys.find((candidate: any) => candidate.id === id);
    expect(entry).toMatchObject({ name: "web", models: ["gemini-2.5-flash"], rpm: 100, key_preview: `${key.slice(0, 7)}…${key.slice(-4)}` });
    expect(entry.last_used_at).not.toBeNull();
    expect(entry.usage).toEqual({ requests: 1, input_tokens: 1, output_tokens: 2, cached_tokens: 0 });
    expect(JSON.stringify(keys)).not.toContain(key);
    const usage = await readJson(await admin(gateway, "/usage?group_by=key,model", { headers: bearer }));
    expect(usage.rows).toEqual([expect.objectContaining({ key: id, model: "gemini-2.5-flash", requests: 1, input_tokens: 1, output_tokens: 2 })]);
    const edited = await admin(gateway, `/keys/${id}`, { method: "PATCH", headers: bearer, body: JSON.stringify({ models: ["gemini-2.5-pro"], rpm: null }) });
    expect(await readJson(edited)).toMatchObject({ id, models: ["gemini-2.5-pro"], rpm: null });
    // The edit applies at once: flash is no longer allowed for this key.
    expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` })).status).toBe(403);
    expect((await admin(gateway, `/keys/${id}`, { method: "DELETE", headers: bearer })).status).toBe(200);
    const config = JSON.stringify(await readJson(await admin(gateway, "/config", { headers: bearer })));
    expect(config).not.toContain(ADMIN);
    expect(config).not.toContain("AIza-admin-test-key-000000000000");
    expect(config).toContain("bind_address");
  });
});

describe("overview", () => {
  test("the last 24 hours by hour and 30 days by day, credentials by state, today's top models and keys; settings show version and uptime", async () => {
    const gateway = await start({ admin_password: ADMIN });
    const created = await readJson(await admin(gateway, "/keys", { method: "POST", headers: bearer, body: JSON.stringify({ name: "team" }) }));
    for (const model of ["gemini-2.5-flash", "gemini-2.5-flash", "gemini-2.5-pro"]) {
      expect((await chat(gateway.url, { model, messages: [{ role: "user", content: "one two" }] }, { authorization: `Bearer ${created.key}` })).status).toBe(200);
    }
    expect((await chat(gateway.url, { model: "no-such-model", messages: [{ role: "user", content: "x" }] }, { authorization: `Bearer ${created.key}` })).status).toBe(404);
    await admin(gateway, "/credentials/b.json", { method: "PATCH", headers: bearer, body: JSON.stringify({ disabled: true }) });
    await Bun.sleep(150); // one usage flush
    const view = await readJson(await admin(gateway, "/overview", { headers: bearer }));
    expect(view.hourly).toHaveLength(24);
    expect(view.hourly.at(-1)).toMatchObject({ hour: new Date().toISOString().slice(0, 13), requests: 4, errors: 1 });
    expect(view.daily).toHaveLength(30);
    expect(view.daily.at(-1)).toMatchObject({ day: new Date().toISOString().slice(0, 10), requests: 4, errors: 1 });
    expect(view.daily[0].requests).toBe(0);
    expect(view).toMatchObject({ requests_24h: 4, errors_24h: 1, error_rate_24h: 0.25, open_streams: 0 });
    expect(view.credentials).toMatchObject({ total: 2, active: 1, disabled: 1 });
    expect(view.top_models[0]).toMatchObject({ model: "gemini-2.5-flash", requests: 2 });
    expect(view.top_keys[0]).toMatchObject({ key: created.id, name: "team", requests: 4 });
    const settings = await readJson(await admin(gateway, "/config", { headers: bearer }));
    expect(settings.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(settings.uptime_s).toBeGreaterThanOrEqual(0);
  });
});

describe("adding and removing credentials", () => {
  test("an uploaded OAuth file is checked with Google first, saved 0600 and used; a duplicate is 409; a refused one 400 and not saved; delete moves it aside", async () => {
    const { existsSync, readdirSync, statSync } = await import("node:fs");
    const { join } = await import("node:path");
    const gateway = await start({ admin_password: ADMIN });
    mock.addAccount({ name: "c", refreshToken: "1//refresh-c", project: "project-c", clientId: "test-client.apps.googleusercontent.com", clientSecret: "test-secret" });
    const file = { refresh_token: "1//refresh-c", client_id: "test-client.apps.googleusercontent.com", client_secret: "test-secret", project_id: "project-c" };
    const added = await admin(gateway, "/credentials", { method: "POST", headers: bearer, body: JSON.stringify({ file_name: "c.json", credential: file }) });
    expect(added.status).toBe(201);
    expect(await readJson(added)).toMatchObject({ id: "c.json", project: "project-c" });
    expect(statSync(join(workspace.credentialsDir, "c.json")).mode & 0o777).toBe(0o600);
    const again = await admin(gateway, "/credentials", { method: "POST", headers: bearer, body: JSON.stringify({ file_name: "c2.json", credential: file }) });
    expect(again.status).toBe(409);
    mock.addAccount({ name: "gone", refreshToken: "1//refresh-gone", project: "p", revoked: true, clientId: "test-client.apps.googleusercontent.com", clientSecret: "test-secret" });
    const refused = await admin(gateway, "/credentials", { method: "POST", headers: bearer, body: JSON.stringify({ file_name: "gone.json", credential: { ...file, refresh_token: "1//refresh-gone" } }) });
    expect(refused.status).toBe(400);
    expect((await readJson(refused)).error.message).toContain("invalid_grant");
    expect(existsSync(join(workspace.credentialsDir, "gone.json"))).toBe(false);
    expect((await admin(gateway, "/credentials/a.json", { method: "DELETE", headers: bearer })).status).toBe(200);
    expect(existsSync(join(workspace.credentialsDir, "a.json"))).toBe(false);
    expect(readdirSync(join(workspace.credentialsDir, "removed"))[0]).toMatch(/^\d+-a\.json$/);
    for (let index = 0; index < 4; index++) await (await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })).text();
    expect(new Set(mock.generateCalls().map((call) => call.account))).toEqual(new Set(["b", "c"]));
  });
});

describe("API keys added at run time", () => {
  test("checked with the upstream, added to the pool and the database (kept across a restart), 409 twice, 400 when refused; removable, unlike configured ones", async () => {
    const { MockOpenAI } = await import("./mock/openai.ts");
    const upstream = new MockOpenAI(["sk-configured-1", "sk-added-2"]);
    try {
      const overrides = { admin_password: ADMIN, openai_upstreams: [{ name: "kimi", base_url: upstream.baseURL, api_keys: ["sk-configured-1"], models: ["kimi-k2"], model_mapping: {}, profile: "kimi" }] };
      let gateway = await start(overrides);
      const add = (api_key: string) => admin(gateway, "/credentials", { method: "POST", headers: bearer, body: JSON.stringify({ pool: "kimi", api_key }) });
      const added = await add("sk-added-2");
      expect(added.status).toBe(201);
      const { id } = await readJson(added);
      expect(id).toMatch(/^kimi:[0-9a-f]{8}$/);
      expect((await add("sk-added-2")).status).toBe(409);
      const refused = await add("sk-nobody-knows-3");
      expect(refused.status).toBe(400);
      expect((await readJson(refused)).error.message).not.toContain("sk-nobody-knows-3");
      for (let index = 0; index < 2; index++) await (await chat(gateway.url, { model: "kimi-k2", messages: [{ role: "user", content: "hi" }] })).text();
      expect(new Set(upstream.calls.filter((call) => call.path === "/v1/chat/completions").map((call) => call.key))).toEqual(new Set(["sk-configured-1", "sk-added-2"]));
      await gateway.stop();
      running.splice(running.indexOf(gateway), 1);
      gateway = await start(overrides);
      const pools = (await readJson(await admin(gateway, "/credentials", { headers: bearer }))).credentials.filter((entry: any) => entry.pool === "kimi").map((entry: any) => entry.id);
      expect(pools).toContain(id);
      const configured = pools.find((candidate: string) => candidate !== id);
      expect((await admin(gateway, `/credentials/${configured}`, { method: "DELETE", headers: bearer })).status).toBe(400);
      expect((await admin(gateway, `/credentials/${id}`, { method: "DELETE", headers: bearer })).status).toBe(200);
      expect((await readJson(await admin(gateway, "/credentials", { headers: bearer }))).credentials.map((entry: any) => entry.id)).not.toContain(id);
    } finally {
      upstream.stop();
    }
  });
});

describe("the request log tail", () => {
  test("GET /logs pages by cursor; /logs/stream sends new lines as they happen; no secret in either", async () => {
    const gateway = await start({ admin_password: ADMIN, password: "client-pw-1234" });
    const client = { authorization: "Bearer client-pw-1234" };
    await (await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, client)).text();
    await (await fetch(`${gateway.url}/v1/models?key=client-pw-1234`)).text();
    const page = await readJson(await admin(gateway, "/logs", { headers: bearer }));
    expect(page.entries.map((entry: any) => [entry.method, entry.path, entry.status])).toEqual([["POST", "/v1/chat/completions", 200], ["GET", "/v1/models", 200]]);
    expect(page.entries[0]).toMatchObject({ model: "gemini-2.5-flash", upstream: "codeassist" });
    expect((await readJson(await admin(gateway, `/logs?after=${page.cursor}`, { headers: bearer }))).entries).toEqual([]);
    const controller = new AbortController();
    const live = await admin(gateway, "/logs/stream", { headers: bearer, signal: controller.signal });
    const reader = live.body!.getReader();
    await (await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "again" }] }, client)).text();
    let text = "";
    while (!text.includes("gemini-2.5-pro")) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/^: keep-alive\n\ndata: \{"cursor":\d+/);
    controller.abort();
    expect(JSON.stringify(page) + text).not.toContain("client-pw-1234");
  });
});

describe("/metrics", () => {
  test("Prometheus text a real parser reads: requests, tokens, upstream outcomes, credentials, streams, memory; no secret in it", async () => {
    const token = "scrape-token-0123456789";
    const gateway = await start({ admin_password: ADMIN, metrics_token: token, password: "client-pw-1234" });
    const client = { authorization: "Bearer client-pw-1234" };
    expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, client)).status).toBe(200);
    const streamed = await chat(gateway.url, { model: "gemini-2.5-flash", stream: true, messages: [{ role: "user", content: "hi" }] }, client);
    await streamed.text();
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${gateway.url}/metrics`, { headers: client })).status).toBe(401);
    const response = await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const text = await response.text();
    const families = Object.fromEntries(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
    expect(families.jellycli_requests_total!.metrics).toContainEqual({ labels: { surface: "openai", model: "gemini-2.5-flash", status: "200" }, value: "2" });
    expect(families.jellycli_tokens_total!.metrics).toContainEqual({ labels: { model: "gemini-2.5-flash", type: "output" }, value: "4" });
    expect(families.jellycli_upstream_requests_total!.metrics).toContainEqual({ labels: { pool: "codeassist", outcome: "success" }, value: "2" });
    expect(families.jellycli_credentials!.metrics).toContainEqual({ labels: { pool: "codeassist", state: "active" }, value: "2" });
    expect(families.jellycli_request_duration_seconds!.type).toBe("HISTOGRAM");
    // (This parser keeps a labelled histogram's buckets but not its _count line; the raw text has it.)
    expect(families.jellycli_time_to_first_token_seconds!.metrics[0]!.buckets!["+Inf"]).toBe("1");
    expect(text).toContain('jellycli_time_to_first_token_seconds_count{surface="openai"} 1');
    expect(families.jellycli_open_streams!.metrics[0]!.value).toBe("0");
    expect(Number(families.process_resident_memory_bytes!.metrics[0]!.value)).toBeGreaterThan(1_000_000);
    for (const secret of ["client-pw-1234", ADMIN, token, "ya29.", "a.json", "b.json"]) expect(text).not.toContain(secret);
    expect((await fetch(`${gateway.url}/metrics`, { headers: bearer })).status).toBe(200);
  });

  test("jellycli_open_streams counts the streams being sent right now", async () => {
    const gateway = await start({ admin_password: ADMIN });
    // Two chunks 400 ms apart: each stream stays open that long.
    for (const name of ["a", "b"]) mock.script(name, { kind: "reply", chunks: ["one ", "two"], delayMs: 400 });
    const open = [0, 1].map(() => chat(gateway.url, { model: "gemini-2.5-flash", stream: true, messages: [{ role: "user", content: "hi" }] }));
    const responses = await Promise.all(open);
    const gauge = async () => /^jellycli_open_streams (\d+)$/m.exec(await (await fetch(`${gateway.url}/metrics`, { headers: bearer })).text())![1];
    expect(await gauge()).toBe("2");
    await Promise.all(responses.map((response) => response.text()));
    await Bun.sleep(20);
    expect(await gauge()).toBe("0");
  });
});

describe("secrets around the admin API", () => {
  test("no admin password, session cookie, client key or token appears in any log line, even at debug", async () => {
    const lines: string[] = [];
    const gateway = await startGateway(testConfig(mock, workspace, { health_check_interval_s: 0, admin_password: ADMIN, log_level: "debug" }), createLogger("debug", (line) => lines.push(line)));
    running.push(gateway);
    const login = await admin(gateway, "/login", { method: "POST", body: JSON.stringify({ password: ADMIN }) });
    const session = login.headers.get("set-cookie")!.split(";")[0]!;
    await admin(gateway, "/login", { method: "POST", body: JSON.stringify({ password: "wrong-password-1" }) });
    const { key } = await readJson(await admin(gateway, "/keys", { method: "POST", headers: { cookie: session }, body: JSON.stringify({ name: "logged" }) }));
    await (await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` })).text();
    await (await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer jk-${"y".repeat(43)}` })).text();
    await admin(gateway, "/credentials", { headers: { cookie: session } });
    await Bun.sleep(50);
    const log = lines.join("");
    expect(log).toContain("request");
    for (const secret of [ADMIN, "wrong-password-1", session.split("=")[1]!, key, `jk-${"y".repeat(43)}`]) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/ya29\.mock-[a-z]+-\d+-\w{8}/);
  });
});

