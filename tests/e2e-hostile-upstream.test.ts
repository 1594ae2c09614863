// An upstream that means harm (or is just broken): huge, endless, dripping and malformed answers
// must end in a bounded error for the client, and the gateway must keep serving. Plus what a
// client can make of model names, delays and error texts.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../src/log.ts";
import { MockGoogle, googleErrorBody } from "./mock/google.ts";
import { HostileServer } from "./mock/hostile.ts";
import { addReadyAccount, chat, makeWorkspace, readJson, startGateway, testConfig, type Running } from "./helpers.ts";

const KEY = "sk-hostile-secret-key-123456";
let hostile: HostileServer;
let google: MockGoogle;
const running: Running[] = [];

beforeAll(() => {
  hostile = new HostileServer();
});
afterAll(() => hostile.stop());
afterEach(async () => {
  for (const gateway of running.splice(0)) await gateway.stop();
  google?.stop();
});

async function start(overrides = {}, lines: string[] = []) {
  google = new MockGoogle();
  const workspace = makeWorkspace();
  addReadyAccount(google, workspace, "a");
  const gateway = await startGateway(testConfig(google, workspace, {
    health_check_interval_s: 0, connect_timeout_s: 1, idle_timeout_s: 2,
    openai_upstreams: [{ name: "hostile", base_url: hostile.baseURL, api_keys: [KEY], models: ["hostile-*"], model_mapping: {}, profile: "generic" }],
    ...overrides,
  }), createLogger("debug", (line) => lines.push(line)));
  running.push(gateway);
  return { gateway, workspace };
}
const native = (gateway: Running, model: string, method = "streamGenerateContent?alt=sse") => fetch(`${gateway.url}/v1beta/models/${model}:${method}`, {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
});

describe("hostile upstreams", () => {
  test("a 100 MiB unary answer is refused once it passes the cap, and the gateway keeps serving", async () => {
    const { gateway } = await start();
    const response = await chat(gateway.url, { model: "hostile-huge", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(502);
    expect((await readJson(response)).error.message).toContain("larger than");
    expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
  });

  test("a 64 MiB SSE line ends the stream with an in-band error", async () => {
    const { gateway } = await start();
    const response = await native(gateway, "hostile-line");
    const body = await response.text();
    expect(body.length).toBeLessThan(10_000);
    expect(body).toContain("larger than");
  });

  test("an error body dripped one byte a second is cut off after connect_timeout and parsed on what came", async () => {
    const { gateway } = await start({ max_retries: 0 });
    const response = await chat(gateway.url, { model: "hostile-drip", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBeGreaterThanOrEqual(500); // the test's 5 s budget is the proof it did not wait for 1,000 s
    expect((await readJson(response)).error).toBeDefined();
  });

  test("a unary answer that stops half-way is cut off after idle_timeout, and the gateway keeps serving", async () => {
    const { gateway } = await start({ max_retries: 0 });
    const started = Date.now();
    const response = await native(gateway, "hostile-stall", "generateContent");
    expect(response.status).toBe(504);
    expect((await readJson(response)).error.message).toContain("timed out");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(Date.now() - started).toBeLessThan(4_000);
    // The gateway hung up on the upstream (its request signal fires on the server's side).
    for (const deadline = Date.now() + 1_000; hostile.stallsAborted === 0 && Date.now() < deadline;) await Bun.sleep(20);
    expect(hostile.stallsAborted).toBe(1);
    expect((await native(gateway, "gemini-2.5-flash", "generateContent")).status).toBe(200);
  });

  test("malformed events are skipped; the well-formed ones arrive", async () => {
    const { gateway } = await start();
    const body = await (await native(gateway, "hostile-malformed")).text();
    expect(body).toContain('"text":"ok"');
  });

  test("an upstream error that echoes our key never shows it to the client or the log", async () => {
    const lines: string[] = [];
    const { gateway } = await start({}, lines);
    const response = await chat(gateway.url, { model: "hostile-echo-key", messages: [{ role: "user", content: "hi" }] });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(text).toContain("Incorrect API key provided: sk-h…");
    expect(text).not.toContain(KEY);
    expect(lines.join("")).not.toContain(KEY);
  });

  test("full logs with a client that never reads: the upstream is not drained into memory", async () => {
    const { gateway } = await start({ log_requests: "full", log_dir: join(makeWorkspace().dir, "logs") });
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
      body: JSON.stringify({ model: "hostile-endless", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    const before = hostile.hits.get("/v1/chat/completions") ?? 0;
    const rss = process.memoryUsage().rss;
    await Bun.sleep(1500); // headers read, body never read: a tee without backpressure would buffer the endless stream
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 1024 * 1024);
    expect(hostile.hits.get("/v1/chat/completions")).toBe(before);
    controller.abort();
  });
});

describe("full log records", () => {
  test("are written 0600 in a 0700 folder", async () => {
    const dir = join(makeWorkspace().dir, "logs");
    const { gateway } = await start({ log_requests: "full", log_dir: dir });
    await (await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })).text();
    await Bun.sleep(150);
    const [file] = readdirSync(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, file!)).mode & 0o777).toBe(0o600);
  });
});

describe("model names from clients", () => {
  test("a name that would walk the upstream's URL, or carry a NUL, is a 400 — and never cools a credential", async () => {
    const { gateway } = await start();
    for (const model of ["../../../x?y#z", "gemini\u0000", "gémini/../x", "a b"]) {
      const response = await chat(gateway.url, { model, messages: [{ role: "user", content: "hi" }] });
      expect(response.status).toBe(400);
      expect((await readJson(response)).error.param).toBe("model");
    }
    const nativeWalk = await fetch(`${gateway.url}/v1beta/models/..%2F..%2Fx:generateContent`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "x" }] }] }) });
    expect(nativeWalk.status).toBe(400);
    expect(google.generateCalls()).toEqual([]);
    // Normal requests are still served by an untouched credential.
    for (let index = 0; index < 3; index++) expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
    expect((await readJson(await fetch(`${gateway.url}/health`))).details[0]).toMatchObject({ status: "active", error_count: 0, cooling: {} });
  });
});

describe("absurd delays from upstreams", () => {
  test("retryDelay 99999999999999999999999s: /health still answers, the state file is still written, other models serve", async () => {
    const { gateway, workspace } = await start({ state_flush_interval_s: 0.05 });
    google.script("a", { kind: "error", status: 429, body: googleErrorBody(429, "RESOURCE_EXHAUSTED", "later", [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "99999999999999999999999s" }]) });
    const first = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    expect(first.status).toBe(429);
    expect(Number(first.headers.get("retry-after"))).toBeLessThanOrEqual(7 * 24 * 3600);
    const health = await fetch(`${gateway.url}/health`);
    expect(health.status).toBe(200);
    const cooling = (await readJson(health)).details[0].cooling["gemini-2.5-pro"];
    expect(Date.parse(cooling) - Date.now()).toBeLessThanOrEqual(7 * 24 * 3600 * 1000);
    expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
    await Bun.sleep(150);
    expect(readFileSync(workspace.stateFile, "utf8")).toContain("gemini-2.5-pro");
  });
});

describe("/health without the password", () => {
  test("status and counts only; the details need the password", async () => {
    const { gateway } = await start({ password: "health-pw" });
    const anonymous = await readJson(await fetch(`${gateway.url}/health`));
    expect(anonymous).toMatchObject({ status: "ok", credentials: { total: 2 } });
    expect(anonymous.details).toBeUndefined();
    expect(JSON.stringify(anonymous)).not.toContain("a.json");
    const operator = await readJson(await fetch(`${gateway.url}/health`, { headers: { authorization: "Bearer health-pw" } }));
    expect(operator.details[0].file).toBe("a.json");
  });
});
