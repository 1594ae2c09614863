// Several instances on one Redis (issue 15): two jellycli gateways, one real redis-server, the mock
// Google. What one instance learns or is told, the other honours within a second or two.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { MockGoogle, googleErrorBody } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, readJson, startGateway, testConfig, writeJellycliCredential, type Running, type Workspace } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";
import type { Config } from "../src/config.ts";

const ADMIN = "admin-password-shared";
let redis: RedisServer;
let mock: MockGoogle;
let running: Running[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(async () => {
  mock = new MockGoogle();
  // Each test starts from an empty Redis.
  const { RedisClient } = await import("bun");
  const client = new RedisClient(redis.url);
  await client.send("FLUSHALL", []);
  client.close();
});
afterEach(async () => {
  for (const gateway of running.splice(0)) await gateway.stop();
  mock.stop();
});

/** One instance: its own folder (credentials, state, database), the shared Redis. */
async function instance(accounts: string[], overrides: Partial<Config> = {}): Promise<Running & { workspace: Workspace }> {
  const workspace = makeWorkspace();
  for (const name of accounts) addReadyAccount(mock, workspace, name);
  const gateway = await startGateway(testConfig(mock, workspace, { redis_url: redis.url, admin_password: ADMIN, health_check_interval_s: 0, usage_flush_interval_s: 0.05, credentials_poll_s: 0.1, ...overrides }), process.env.DEBUG_REDIS ? (await import("../src/log.ts")).createLogger("debug", (line) => process.stdout.write(line)) : undefined);
  running.push(gateway);
  return { ...gateway, workspace };
}
const ask = (gateway: Running, model = "gemini-2.5-pro", headers: Record<string, string> = {}) => chat(gateway.url, { model, messages: [{ role: "user", content: "hi" }] }, headers);
const admin = (gateway: Running, path: string, init: RequestInit = {}) => fetch(`${gateway.url}/admin/api${path}`, { ...init, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}`, ...(init.headers as Record<string, string> | undefined) } });
const accounts = () => mock.generateCalls().map((call) => call.account);
async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("not within the deadline");
    await Bun.sleep(20);
  }
}
const rateLimited = { kind: "error" as const, status: 429, body: googleErrorBody(429, "RESOURCE_EXHAUSTED", "You have exhausted your capacity on this model. Your quota will reset after 3600s.", [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "RATE_LIMIT_EXCEEDED", domain: "cloudcode-pa.googleapis.com" }, { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "3600s" }]) };

describe("credential state across instances", () => {
  test("a 429 cooldown seen through one instance is honoured by the other within 1 s", async () => {
    const one = await instance(["a", "b"]);
    const two = await instance(["a", "b"]);
    mock.script("a", rateLimited);
    expect((await ask(one)).status).toBe(200);
    expect(accounts()).toEqual(["a", "b"]);
    const started = Date.now();
    await eventually(async () => (await readJson(await admin(two, "/credentials"))).credentials.find((entry: { id: string }) => entry.id === "a.json").state === "cooling", 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    mock.calls.length = 0;
    for (let index = 0; index < 6; index++) expect((await ask(two)).status).toBe(200);
    expect(accounts()).toEqual(["b", "b", "b", "b", "b", "b"]);
  });

  test("disabling a credential on one holds on the other within 2 s", async () => {
    const one = await instance(["a", "b"]);
    const two = await instance(["a", "b"]);
    expect((await admin(one, "/credentials/b.json", { method: "PATCH", body: JSON.stringify({ disabled: true }) })).status).toBe(200);
    await eventually(async () => (await readJson(await admin(two, "/credentials"))).credentials.find((entry: { id: string }) => entry.id === "b.json").state === "disabled");
    mock.calls.length = 0;
    for (let index = 0; index < 4; index++) await ask(two, "gemini-2.5-flash");
    expect(accounts()).toEqual(["a", "a", "a", "a"]);
  });

  test("rotation is shared: 20 calls alternating between instances over 2 credentials split 10 ± 2", async () => {
    const one = await instance(["a", "b"]);
    const two = await instance(["a", "b"]);
    for (let index = 0; index < 20; index++) {
      expect((await ask(index % 2 === 0 ? one : two, "gemini-2.5-flash")).status).toBe(200);
      await Bun.sleep(10);
    }
    const counts = accounts().reduce((tally, name) => ({ ...tally, [name!]: (tally[name!] ?? 0) + 1 }), {} as Record<string, number>);
    expect(Math.abs(counts.a! - 10)).toBeLessThanOrEqual(2);
    expect(Math.abs(counts.b! - 10)).toBeLessThanOrEqual(2);
    // One instance alone would alternate too; the shared position is what keeps the pair from
    // both starting at "a": the first two calls (one per instance) went to different accounts.
    expect(accounts().slice(0, 2).sort()).toEqual(["a", "b"]);
  });

  test("Redis stopped: both keep serving and say so; Redis back: they agree again", async () => {
    const one = await instance(["a", "b"]);
    const two = await instance(["a", "b"]);
    await redis.stop();
    await eventually(async () => (await readJson(await fetch(`${one.url}/health`))).redis === "down");
    expect((await ask(one, "gemini-2.5-flash")).status).toBe(200);
    expect((await ask(two, "gemini-2.5-flash")).status).toBe(200);
    expect(await (await admin(two, "/../../metrics")).text()).toContain("jellycli_redis_up 0");
    // A change made while Redis is away …
    await admin(one, "/credentials/a.json", { method: "PATCH", body: JSON.stringify({ disabled: true }) });
    await redis.start();
    // … reaches the other instance once Redis is back.
    await eventually(async () => (await readJson(await fetch(`${two.url}/health`))).redis === "up", 5_000);
    await eventually(async () => (await readJson(await admin(two, "/credentials"))).credentials.find((entry: { id: string }) => entry.id === "a.json").state === "disabled", 5_000);
    expect(await (await fetch(`${two.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()).toContain("jellycli_redis_up 1");
  }, 20_000);
});

describe("the shared view", () => {
  test("`jellycli check` beside a Redis-backed deployment shows what the instances decided", async () => {
    const one = await instance(["a", "b"]);
    await admin(one, "/credentials/b.json", { method: "PATCH", body: JSON.stringify({ disabled: true }) });
    const workspace = makeWorkspace();
    for (const name of ["a", "b"]) addReadyAccount(mock, workspace, name);
    const { processEnv } = await import("./helpers.ts");
    const check = Bun.spawn([process.execPath, `${import.meta.dir}/../src/main.ts`, "check"], {
      cwd: workspace.dir, env: { PATH: process.env.PATH ?? "", ...processEnv(mock, workspace), JELLYCLI_REDIS_URL: redis.url }, stdout: "pipe", stderr: "pipe",
    });
    const [, out] = await Promise.all([check.exited, new Response(check.stdout).text()]);
    expect(out).toMatch(/^b\.json .*disabled .*disabled by the operator/m);
    expect(out).toMatch(/^a\.json .*active/m);
  });
});

describe("client keys across instances", () => {
  test("a key made on one works on the other; revoked on one, refused by the other within 2 s", async () => {
    const one = await instance(["a"]);
    const two = await instance(["a"]);
    const created = await readJson(await admin(one, "/keys", { method: "POST", body: JSON.stringify({ name: "shared" }) }));
    const auth = { authorization: `Bearer ${created.key}` };
    await eventually(async () => (await ask(two, "gemini-2.5-flash", auth)).status === 200);
    expect((await admin(one, `/keys/${created.id}`, { method: "DELETE", body: "{}" })).status).toBe(200);
    const started = Date.now();
    await eventually(async () => (await ask(two, "gemini-2.5-flash", auth)).status === 401);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("a key made with `jellycli keys create` beside another database reaches the instances through Redis", async () => {
    const one = await instance(["a"]);
    const cli = makeWorkspace();
    const run = Bun.spawn([process.execPath, `${import.meta.dir}/../src/main.ts`, "keys", "create", "--name", "from-cli"], {
      cwd: cli.dir, env: { PATH: process.env.PATH ?? "", JELLYCLI_DATABASE: `${cli.dir}/other.db`, JELLYCLI_REDIS_URL: redis.url }, stdout: "pipe", stderr: "pipe",
    });
    const [code, out] = await Promise.all([run.exited, new Response(run.stdout).text()]);
    expect(code).toBe(0);
    const key = /(jk-[0-9A-Za-z]+)/.exec(out)![1]!;
    await eventually(async () => (await ask(one, "gemini-2.5-flash", { authorization: `Bearer ${key}` })).status === 200);
  });

  test("a key's rpm is one limit across both instances", async () => {
    const one = await instance(["a"]);
    const two = await instance(["a"]);
    const created = await readJson(await admin(one, "/keys", { method: "POST", body: JSON.stringify({ name: "limited", rpm: 4 }) }));
    const auth = { authorization: `Bearer ${created.key}` };
    await eventually(async () => (await readJson(await admin(two, "/keys"))).keys.some((key: { id: string }) => key.id === created.id));
    // A minute boundary in the middle would reset the count: wait for a fresh minute if it is close.
    const second = new Date().getSeconds();
    if (second > 55) await Bun.sleep((61 - second) * 1000);
    const statuses: number[] = [];
    for (let index = 0; index < 6; index++) statuses.push((await ask(index % 2 === 0 ? one : two, "gemini-2.5-flash", auth)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  }, 15_000);
});

describe("tokens across instances", () => {
  test("an expired token is refreshed exactly once under concurrent calls on both instances", async () => {
    mock.addAccount({ name: "t", refreshToken: "1//refresh-shared-t", project: "project-t", clientId: "test-client.apps.googleusercontent.com", clientSecret: "test-secret" });
    const expired = (workspace: Workspace) => writeJellycliCredential(workspace, "t.json", { refreshToken: "1//refresh-shared-t", accessToken: "ya29.expired", expiresAt: Date.now() - 60_000, projectId: "project-t" });
    const one = await instance([]);
    const two = await instance([]);
    expired(one.workspace);
    expired(two.workspace);
    await eventually(async () => (await readJson(await admin(one, "/credentials"))).credentials.length === 1 && (await readJson(await admin(two, "/credentials"))).credentials.length === 1, 5_000);
    const statuses = await Promise.all(Array.from({ length: 10 }, (_, index) => ask(index % 2 === 0 ? one : two, "gemini-2.5-flash").then((response) => response.status)));
    expect(statuses).toEqual(Array(10).fill(200));
    expect(mock.calls.filter((call) => call.path === "/token" && call.body?.grant_type === "refresh_token")).toHaveLength(1);
    // Both instances now use that one token.
    expect(new Set(mock.generateCalls().map((call) => call.token)).size).toBe(1);
  }, 15_000);
});

describe("usage across instances", () => {
  test("usage totals are the same whichever instance is asked; a token budget is one budget", async () => {
    const one = await instance(["a"]);
    const two = await instance(["a"]);
    for (let index = 0; index < 3; index++) await ask(one, "gemini-2.5-flash");
    for (let index = 0; index < 2; index++) await ask(two, "gemini-2.5-pro");
    const totals = async (gateway: Running) => (await readJson(await admin(gateway, "/usage?group_by=model"))).rows.map((row: { model: string; requests: number }) => `${row.model}:${row.requests}`);
    await eventually(async () => JSON.stringify(await totals(one)) === JSON.stringify(["gemini-2.5-flash:3", "gemini-2.5-pro:2"]));
    expect(await totals(two)).toEqual(await totals(one));
    const overviewOf = async (gateway: Running) => (await readJson(await admin(gateway, "/overview"))).requests_24h;
    expect(await overviewOf(one)).toBe(5);
    expect(await overviewOf(two)).toBe(5);

    // A budget spent through one instance is spent on the other too.
    const created = await readJson(await admin(one, "/keys", { method: "POST", body: JSON.stringify({ name: "budget", token_budget: 10, budget_period: "day" }) }));
    const auth = { authorization: `Bearer ${created.key}` };
    await eventually(async () => (await readJson(await admin(two, "/keys"))).keys.some((key: { id: string }) => key.id === created.id));
    // 3 tokens a request (1 in, 2 out): four requests through one instance spend the 10 …
    for (let index = 0; index < 4; index++) expect((await ask(one, "gemini-2.5-flash", auth)).status).toBe(200);
    await Bun.sleep(500);
    // … and the very first request through the other is refused.
    expect((await ask(two, "gemini-2.5-flash", auth)).status).toBe(429);
  });
});

describe("credentials added at run time, across instances", () => {
  test("an OAuth file uploaded to one instance serves from the other; removed on one, gone from both", async () => {
    const one = await instance([]);
    const two = await instance([]);
    const spare = makeWorkspace();
    addReadyAccount(mock, spare, "late");
    const content = JSON.parse(await Bun.file(`${spare.credentialsDir}/late.json`).text());
    expect((await admin(one, "/credentials", { method: "POST", body: JSON.stringify({ file_name: "late.json", credential: content }) })).status).toBe(201);
    await eventually(async () => (await ask(two, "gemini-2.5-flash")).status === 200, 3_000);
    expect(mock.generateCalls().at(-1)!.account).toBe("late");
    expect((await admin(one, "/credentials/late.json", { method: "DELETE", body: "{}" })).status).toBe(200);
    await eventually(async () => (await readJson(await admin(two, "/credentials"))).credentials.length === 0, 3_000);
  });

  test("an upstream API key added on one joins the other's pool", async () => {
    mock.addApiKey("AIza-configured", "keys");
    mock.addApiKey("AIza-added-later", "keys");
    const overrides = { gemini_api_keys: ["AIza-configured"], gemini_api_endpoint: mock.url };
    const one = await instance([], overrides);
    const two = await instance([], overrides);
    expect((await admin(one, "/credentials", { method: "POST", body: JSON.stringify({ pool: "gemini_api", api_key: "AIza-added-later" }) })).status).toBe(201);
    await eventually(async () => (await readJson(await admin(two, "/credentials"))).credentials.filter((entry: { pool: string }) => entry.pool === "gemini_api").length === 2);
  });
});

describe("sessions and conversations across instances", () => {
  test("an admin login on one instance is a login on the other; a logout ends it on both", async () => {
    const one = await instance(["a"]);
    const two = await instance(["a"]);
    const login = await fetch(`${one.url}/admin/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ password: ADMIN }) });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    await eventually(async () => (await fetch(`${two.url}/admin/api/keys`, { headers: { cookie } })).status === 200);
    await fetch(`${two.url}/admin/api/logout`, { method: "POST", headers: { "content-type": "application/json", cookie }, body: "{}" });
    await eventually(async () => (await fetch(`${one.url}/admin/api/keys`, { headers: { cookie } })).status === 401);
  });

  test("a Google login started on one instance finishes through the other (the balancer picked it); single-use on both", async () => {
    const one = await instance([]);
    const two = await instance([]);
    mock.addAccount({ name: "lee", refreshToken: "1//refresh-lee", project: "project-lee" });
    mock.consent = { account: "lee" };
    const started = await readJson(await admin(one, "/oauth/start", { method: "POST", body: "{}" }));
    const landed = new URL((await fetch(started.auth_url, { redirect: "manual" })).headers.get("location")!);
    // The browser comes back through the balancer, to the other instance.
    const page = await fetch(`${two.url}${landed.pathname}${landed.search}`);
    expect(page.status).toBe(200);
    expect((await readJson(await admin(one, `/oauth/status?state=${started.state}`))).status).toBe("done");
    await eventually(async () => (await readJson(await admin(one, "/credentials"))).credentials.some((entry: { id: string }) => entry.id === "lee@example.com.json"));
    expect((await fetch(`${one.url}${landed.pathname}${landed.search}`)).status).toBe(400);
  });

  test("a Responses conversation continues on the other instance (previous_response_id, GET)", async () => {
    const one = await instance(["a"]);
    const two = await instance(["a"]);
    const post = (gateway: Running, body: object) => fetch(`${gateway.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const first = await readJson(await post(one, { model: "gemini-2.5-flash", input: "first question" }));
    await eventually(async () => (await fetch(`${two.url}/v1/responses/${first.id}`)).status === 200);
    const second = await post(two, { model: "gemini-2.5-flash", previous_response_id: first.id, input: "follow-up" });
    expect(second.status).toBe(200);
    expect(mock.generateCalls().at(-1)!.body.request.contents.map((content: { parts: { text: string }[] }) => content.parts[0]!.text)).toEqual(["first question", "Echo: first question", "follow-up"]);
  });
});
