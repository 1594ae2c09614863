// A client that means harm, end to end: nothing is read, parsed or logged before the password is
// checked; slow bodies are cut off; browsers cannot reach a gateway without a password.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { checkSafety, buildConfig } from "../src/config.ts";
import { isLoopbackHost } from "../src/http/gate.ts";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, readJson, startGateway, testConfig, type Running, type Workspace } from "./helpers.ts";

const PASSWORD = "hostile-pw";
let mock: MockGoogle;
let workspace: Workspace;
const running: Running[] = [];
const start = async (overrides = {}, options = {}) => {
  const gateway = await startGateway(testConfig(mock, workspace, { health_check_interval_s: 0, ...overrides }), undefined, options);
  running.push(gateway);
  return gateway;
};

beforeEach(() => {
  mock = new MockGoogle();
  workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "a");
});
afterEach(async () => {
  for (const gateway of running.splice(0)) await gateway.stop();
  mock.stop();
});

/** A request body that sends a little and then never ends. */
function endlessBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async start(controller) {
      controller.enqueue(new TextEncoder().encode('{"model":"gemini-2.5-flash","messages":['));
    },
  });
}

describe("authentication comes first", () => {
  test("an unauthenticated request gets 401 without its body being read (a body that never ends)", async () => {
    const gateway = await start({ password: PASSWORD, log_requests: "full", log_dir: join(workspace.dir, "logs") });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST", headers: { "content-type": "application/json" }, body: endlessBody(), duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(401);
    expect((await readJson(response)).error.code).toBe("missing_api_key");
    const wrong = await fetch(`${gateway.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": "nope" }, body: endlessBody(), duplex: "half",
    } as RequestInit);
    expect(wrong.status).toBe(401);
    expect((await readJson(wrong)).error.status).toBe("UNAUTHENTICATED");
    await Bun.sleep(100);
    expect(existsSync(join(workspace.dir, "logs")) ? readdirSync(join(workspace.dir, "logs")) : []).toEqual([]);
  });

  test("?access_token= is not a way to authenticate", async () => {
    const gateway = await start({ password: PASSWORD });
    const response = await fetch(`${gateway.url}/v1/models?access_token=${PASSWORD}`);
    expect(response.status).toBe(401);
    expect((await fetch(`${gateway.url}/v1/models?key=${PASSWORD}`)).status).toBe(200);
  });

  test("a body that trickles in is cut off with 408", async () => {
    const gateway = await start({ password: PASSWORD }, { bodyReadTimeoutMs: 300 });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${PASSWORD}` }, body: endlessBody(), duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(408);
    expect((await readJson(response)).error.code).toBe("request_timeout");
    expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "still here" }] }, { authorization: `Bearer ${PASSWORD}` })).status).toBe(200);
  });
});

describe("browsers and foreign pages", () => {
  test("a POST that is not application/json is 415 (a form or text/plain body from a web page)", async () => {
    const gateway = await start();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] }) });
    expect(response.status).toBe(415);
    expect((await readJson(response)).error.code).toBe("unsupported_media_type");
    expect(mock.generateCalls()).toHaveLength(0);
  });

  test("without a password only loopback Host names are served (DNS rebinding)", async () => {
    const gateway = await start();
    const foreign = await fetch(`${gateway.url}/v1/models`, { headers: { host: "attacker.example:7878" } });
    expect(foreign.status).toBe(403);
    expect((await readJson(foreign)).error.code).toBe("host_not_allowed");
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { host: "localhost:7878" } })).status).toBe(200);
    const secured = await start({ password: PASSWORD });
    expect((await fetch(`${secured.url}/v1/models`, { headers: { host: "gateway.example.com", authorization: `Bearer ${PASSWORD}` } })).status).toBe(200);
    expect((await fetch(`${secured.url}/v1/models`, { headers: { host: "a/b", authorization: `Bearer ${PASSWORD}` } })).status).toBe(400);
  });

  test("cors_origins answers preflights for the listed origins only, and marks the answers", async () => {
    const gateway = await start({ password: PASSWORD, cors_origins: ["http://app.example"] });
    const preflight = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "OPTIONS", headers: { origin: "http://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://app.example");
    expect(preflight.headers.get("access-control-allow-headers")).toBe("authorization, content-type");
    const other = await fetch(`${gateway.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: "http://evil.example", "access-control-request-method": "POST" } });
    expect(other.status).toBe(403);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const answer = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] }, { origin: "http://app.example", authorization: `Bearer ${PASSWORD}` });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("access-control-allow-origin")).toBe("http://app.example");
    const refused = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] }, { origin: "http://app.example" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe("http://app.example"); // so the page can read why
  });

  test('cors_origins = "*" is refused on a gateway without a password', () => {
    expect(() => checkSafety(buildConfig({ cors_origins: "*" }).config)).toThrow(/without a password/);
    expect(() => checkSafety(buildConfig({ cors_origins: "*", password: "pw" }).config)).not.toThrow();
  });

  test.each([
    ["localhost:7878", true], ["127.0.0.1", true], ["127.9.9.9:1", true], ["[::1]:7878", true], ["app.localhost", true],
    ["localhost.attacker.example", false], ["127.0.0.1.nip.io", false], ["attacker.example", false], ["[::ffff:7f00:1]", false],
  ])("isLoopbackHost(%p) = %p", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
