// Adding an account from the admin API (issue 12): start → Google's consent screen (the mock) →
// jellycli's own /oauth2/callback, or the address pasted back for a gateway elsewhere; status;
// states that are unknown, reused, expired or another session's are refused and save nothing.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { MockGoogle } from "./mock/google.ts";
import { chat, makeWorkspace, readJson, startGateway, testConfig, type Running, type Workspace } from "./helpers.ts";
import { silentLogger } from "../src/log.ts";

const ADMIN = "admin-password-123";
let mock: MockGoogle;
let workspace: Workspace;
let gateway: Running;
let clock = Date.now();

const admin = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  fetch(`${gateway.url}/admin/api${path}`, { ...init, headers: { "content-type": "application/json", ...init.headers } });
const bearer = { authorization: `Bearer ${ADMIN}` };
const files = () => readdirSync(workspace.credentialsDir).filter((name) => name.endsWith(".json"));

async function session(): Promise<Record<string, string>> {
  const login = await admin("/login", { method: "POST", body: JSON.stringify({ password: ADMIN }) });
  return { cookie: login.headers.get("set-cookie")!.split(";")[0]!, origin: gateway.url };
}

beforeEach(async () => {
  mock = new MockGoogle();
  workspace = makeWorkspace();
  clock = Date.now();
  gateway = await startGateway(testConfig(mock, workspace, { admin_password: ADMIN, password: "client-pw", health_check_interval_s: 0 }), silentLogger, { now: () => clock });
  mock.addAccount({ name: "kim", refreshToken: "1//refresh-kim", project: "project-kim" });
  mock.consent = { account: "kim" };
});
afterEach(async () => {
  await gateway.stop();
  mock.stop();
});

describe("login from the admin API", () => {
  test("through jellycli's own /oauth2/callback: page, status done, the account in the pool and serving", async () => {
    const started = await readJson(await admin("/oauth/start", { method: "POST", headers: bearer }));
    expect(started.state).toMatch(/^[0-9a-f]{64}$/);
    const auth = new URL(started.auth_url);
    expect(auth.searchParams.get("redirect_uri")).toBe(`${gateway.url}/oauth2/callback`);
    expect(auth.searchParams.get("state")).toBe(started.state);
    expect(auth.searchParams.get("code_challenge_method")).toBe("S256");
    expect(await readJson(await admin(`/oauth/status?state=${started.state}`, { headers: bearer }))).toEqual({ status: "pending" });

    // The browser on the gateway's machine: Google redirects it to the callback (no client password needed there).
    const page = await fetch(started.auth_url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain("kim@example.com");

    expect(await readJson(await admin(`/oauth/status?state=${started.state}`, { headers: bearer }))).toEqual({
      status: "done", account: { id: "kim@example.com.json", email: "kim@example.com", project_id: "project-kim", tier: "free-tier" },
    });
    const { credentials } = await readJson(await admin("/credentials", { headers: bearer }));
    expect(credentials.map((credential: { id: string }) => credential.id)).toEqual(["kim@example.com.json"]);
    const answer = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, { authorization: "Bearer client-pw" });
    expect(answer.status).toBe(200);
    expect(mock.generateCalls().at(-1)!.account).toBe("kim");

    // The same state again: refused, nothing new.
    const replay = await fetch(started.auth_url);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("already used");
  });

  test("a gateway elsewhere: the address the browser ended on, pasted back, finishes the login", async () => {
    const cookie = await session();
    const started = await readJson(await admin("/oauth/start", { method: "POST", headers: cookie }));
    const landed = (await fetch(started.auth_url, { redirect: "manual" })).headers.get("location")!;
    expect(landed.startsWith(`${gateway.url}/oauth2/callback?`)).toBe(true);
    const done = await admin("/oauth/callback", { method: "POST", headers: cookie, body: JSON.stringify({ callback_url: landed }) });
    expect(done.status).toBe(200);
    expect(await readJson(done)).toMatchObject({ status: "done", account: { email: "kim@example.com" } });
    expect(files()).toEqual(["kim@example.com.json"]);
    // Pasting it twice does not log in twice.
    const again = await admin("/oauth/callback", { method: "POST", headers: cookie, body: JSON.stringify({ callback_url: landed }) });
    expect(again.status).toBe(400);
    expect((await readJson(again)).error.message).toContain("already used");
  });

  test("a state is bound to the session that started it, and expires after 10 minutes", async () => {
    const alice = await session();
    const bob = await session();
    const started = await readJson(await admin("/oauth/start", { method: "POST", headers: alice }));
    const landed = (await fetch(started.auth_url, { redirect: "manual" })).headers.get("location")!;
    expect((await admin(`/oauth/status?state=${started.state}`, { headers: bob })).status).toBe(400);
    const stolen = await admin("/oauth/callback", { method: "POST", headers: bob, body: JSON.stringify({ callback_url: landed }) });
    expect(stolen.status).toBe(400);
    expect(files()).toEqual([]);

    clock += 10 * 60_000 + 1;
    const late = await admin("/oauth/callback", { method: "POST", headers: alice, body: JSON.stringify({ callback_url: landed }) });
    expect(late.status).toBe(400);
    expect((await readJson(late)).error.message).toContain("expired");
    expect(files()).toEqual([]);
  });

  test("unknown states and Google's refusals: 400 or an error status, and nothing saved", async () => {
    const forged = await fetch(`${gateway.url}/oauth2/callback?code=4/whatever&state=${"ab".repeat(32)}`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain("Unknown or expired login state");
    expect((await admin("/oauth/callback", { method: "POST", headers: bearer, body: JSON.stringify({ callback_url: `${gateway.url}/oauth2/callback?code=x` }) })).status).toBe(400);

    mock.addAccount({ name: "lou", refreshToken: "1//refresh-lou", ineligible: true });
    mock.consent = { account: "lou" };
    const started = await readJson(await admin("/oauth/start", { method: "POST", headers: bearer }));
    const page = await fetch(started.auth_url);
    expect(page.status).toBe(400);
    const status = await readJson(await admin(`/oauth/status?state=${started.state}`, { headers: bearer }));
    expect(status.status).toBe("error");
    expect(status.error).toContain("Standard or Enterprise");
    expect(status.help_url).toMatch(/^https:\/\//);

    mock.consent = { error: "access_denied" };
    const declined = await readJson(await admin("/oauth/start", { method: "POST", headers: bearer }));
    await fetch(declined.auth_url);
    expect((await readJson(await admin(`/oauth/status?state=${declined.state}`, { headers: bearer }))).error).toContain("access_denied");
    expect(files()).toEqual([]);
  });

  test("admin auth applies: no start without it, and the callback is 404 where the admin surface is off", async () => {
    expect((await admin("/oauth/start", { method: "POST" })).status).toBe(401);
    const cookie = await session();
    expect((await admin("/oauth/start", { method: "POST", headers: { ...cookie, origin: "http://evil.example" } })).status).toBe(403);
    const closed = await startGateway(testConfig(mock, makeWorkspace(), { bind_address: "0.0.0.0:0", password: "client-pw" }));
    try {
      const port = new URL(closed.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/oauth2/callback?code=x&state=y`)).status).toBe(404);
    } finally {
      await closed.stop();
    }
  });
});
