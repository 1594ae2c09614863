// The credential pool end to end: rotation, token refresh, invalid_grant, project discovery,
// failover and persistence across restarts, observed through the mock's request log and the files.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { parse } from "smol-toml";
import {
  addReadyAccount, chat, writeGeminiCliCredential, writeJellycliCredential,
  readJson, perTestGateways, type Running,
} from "./helpers.ts";

const harness = perTestGateways();
const start = harness.start;

const ask = (gateway: Running, model = "gemini-2.5-pro") =>
  new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 }).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });

function readState(): any {
  return parse(readFileSync(harness.workspace.stateFile, "utf8"));
}

describe("rotation", () => {
  test("three credentials, calls_per_rotation = 2: each serves two calls in turn", async () => {
    for (const name of ["a", "b", "c"]) addReadyAccount(harness.mock, harness.workspace, name);
    const gateway = await start({ calls_per_rotation: 2 });
    for (let call = 0; call < 8; call++) await ask(gateway);
    expect(harness.mock.generateCalls().map((entry) => entry.account)).toEqual(["a", "a", "b", "b", "c", "c", "a", "a"]);
  });

  test("calls_per_rotation = 1 (the default) moves on every call, also under concurrency", async () => {
    for (const name of ["a", "b", "c"]) addReadyAccount(harness.mock, harness.workspace, name);
    const gateway = await start();
    await Promise.all(Array.from({ length: 9 }, () => ask(gateway)));
    const counts = Object.groupBy(harness.mock.generateCalls(), (entry) => entry.account!);
    expect(Object.fromEntries(Object.entries(counts).map(([name, list]) => [name, list!.length]))).toEqual({ a: 3, b: 3, c: 3 });
  });
});

describe("token refresh", () => {
  test("an expired token is refreshed before use and written back in jellycli's format", async () => {
    harness.mock.addAccount({ name: "a", refreshToken: "1//rt-a", project: "proj-a", clientId: "cid", clientSecret: "csecret" });
    const path = writeJellycliCredential(harness.workspace, "a.json", { refreshToken: "1//rt-a", accessToken: "ya29.old", expiresAt: Date.now() - 60_000, projectId: "proj-a", clientId: "cid", clientSecret: "csecret" });
    const gateway = await start();
    await ask(gateway);
    await ask(gateway);
    const refreshes = harness.mock.calls.filter((call) => call.path === "/token");
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]!.body).toMatchObject({ grant_type: "refresh_token", refresh_token: "1//rt-a", client_id: "cid", client_secret: "csecret" });
    const file = JSON.parse(readFileSync(path, "utf8"));
    expect(file.refresh_token).toBe("1//rt-a");
    expect(file.client_id).toBe("cid");
    expect(file.project_id).toBe("proj-a");
    expect(file.access_token).toStartWith("ya29.mock-a-");
    expect(Date.parse(file.expiry)).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(harness.mock.generateCalls().every((call) => call.token === file.access_token)).toBe(true);
  });

  test("a token expiring within five minutes is refreshed too", async () => {
    harness.mock.addAccount({ name: "a", refreshToken: "1//rt-a", project: "proj-a", clientId: "cid", clientSecret: "csecret" });
    const soon = harness.mock.issueToken("a", 120);
    writeJellycliCredential(harness.workspace, "a.json", { refreshToken: "1//rt-a", accessToken: soon, expiresAt: Date.now() + 120_000, projectId: "proj-a", clientId: "cid", clientSecret: "csecret" });
    await ask(await start());
    expect(harness.mock.calls.filter((call) => call.path === "/token")).toHaveLength(1);
    expect(harness.mock.generateCalls()[0]!.token).not.toBe(soon);
  });

  test("Gemini CLI's oauth_creds.json: refreshed with Gemini CLI's client, written back in its own format", async () => {
    harness.mock.addAccount({ name: "cli", refreshToken: "1//rt-cli", project: "proj-cli" });
    const path = writeGeminiCliCredential(harness.workspace, "oauth_creds.json", { refreshToken: "1//rt-cli" });
    const gateway = await start();
    const completion = await ask(gateway);
    expect(completion.choices[0]!.message.content).toBe("Echo: hi");
    expect(harness.mock.calls.find((call) => call.path === "/token")!.body.client_id).toStartWith("681255809395-");
    const file = JSON.parse(readFileSync(path, "utf8"));
    expect(Object.keys(file).sort()).toEqual(["access_token", "expiry_date", "id_token", "refresh_token", "scope", "token_type"]);
    expect(file.refresh_token).toBe("1//rt-cli");
    expect(file.expiry_date).toBeGreaterThan(Date.now());
    expect(file.expiry).toBeUndefined();
  });

  test("concurrent requests on one expired credential share a single refresh", async () => {
    harness.mock.addAccount({ name: "a", refreshToken: "1//rt-a", project: "proj-a" });
    writeGeminiCliCredential(harness.workspace, "a.json", { refreshToken: "1//rt-a" });
    const gateway = await start({ calls_per_rotation: 100 });
    await Promise.all(Array.from({ length: 10 }, () => ask(gateway)));
    expect(harness.mock.calls.filter((call) => call.path === "/token")).toHaveLength(1);
  });

  test("a 401 from the upstream refreshes once and retries on the same credential", async () => {
    const { accessToken } = addReadyAccount(harness.mock, harness.workspace, "a");
    const gateway = await start();
    await ask(gateway);
    harness.mock.revokeAccessToken(accessToken); // Google stopped honouring it before its expiry
    const completion = await ask(gateway);
    expect(completion.choices[0]!.message.content).toBe("Echo: hi");
    const attempts = harness.mock.generateCalls();
    expect(attempts).toHaveLength(3);
    expect(attempts[1]!.token).toBe(accessToken);
    expect(attempts[2]!.token).not.toBe(accessToken);
    expect(harness.mock.calls.filter((call) => call.path === "/token")).toHaveLength(1);
  });
});

describe("invalid_grant", () => {
  test("disables the credential, persists why, and the others carry on", async () => {
    harness.mock.addAccount({ name: "dead", refreshToken: "1//rt-dead", project: "proj-dead", revoked: true });
    writeGeminiCliCredential(harness.workspace, "dead.json", { refreshToken: "1//rt-dead" });
    addReadyAccount(harness.mock, harness.workspace, "live");
    const gateway = await start();
    for (let call = 0; call < 4; call++) expect((await ask(gateway)).choices[0]!.message.content).toBe("Echo: hi");
    expect(harness.mock.generateCalls().map((call) => call.account)).toEqual(["live", "live", "live", "live"]);
    expect(harness.mock.calls.filter((call) => call.path === "/token")).toHaveLength(1);
    await gateway.stop();
    const state = readState();
    expect(state.credentials["dead.json"].disabled).toBe(true);
    expect(state.credentials["dead.json"].disabled_reason).toContain("invalid_grant");
    expect(state.credentials["live.json"].success_count).toBe(4);
    expect(JSON.stringify(state)).not.toContain("1//rt-dead");

    const health = await readJson(await fetch(`${(await start()).url}/health`));
    expect(health.credentials).toMatchObject({ total: 2, usable: 1, invalid: 1, disabled: 0 });
  });

  test("when every credential is disabled the client gets 503 naming the reason", async () => {
    harness.mock.addAccount({ name: "dead", refreshToken: "1//rt-dead", project: "p", revoked: true });
    writeGeminiCliCredential(harness.workspace, "dead.json", { refreshToken: "1//rt-dead" });
    const gateway = await start();
    const first = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    expect(first.status).toBe(503);
    await first.text();
    const second = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    expect(second.status).toBe(503);
    expect((await readJson(second)).error.message).toContain("invalid_grant");
  });
});

describe("project discovery", () => {
  test("an onboarded account: loadCodeAssist names the project, which is cached in the state file", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a", { projectId: "mystical-reporter-42", fileProject: false });
    const gateway = await start();
    await ask(gateway);
    await ask(gateway);
    const load = harness.mock.calls.filter((call) => call.path === "/v1internal:loadCodeAssist");
    expect(load).toHaveLength(1);
    expect(load[0]!.body).toEqual({ metadata: { ideType: "IDE_UNSPECIFIED", platform: "PLATFORM_UNSPECIFIED", pluginType: "GEMINI" } });
    expect(harness.mock.generateCalls().map((call) => call.body.project)).toEqual(["mystical-reporter-42", "mystical-reporter-42"]);
    await gateway.stop();
    expect(readState().credentials["a.json"].project_id).toBe("mystical-reporter-42");

    // After a restart the cached project is used without asking again.
    await ask(await start());
    expect(harness.mock.calls.filter((call) => call.path === "/v1internal:loadCodeAssist")).toHaveLength(1);
  });

  test("a new account is onboarded on the free tier (no project sent) and the operation is polled", async () => {
    harness.mock.addAccount({ name: "new", refreshToken: "1//rt-new", project: "fresh-project-7", needsOnboarding: true, onboardPolls: 2 });
    writeGeminiCliCredential(harness.workspace, "new.json", { refreshToken: "1//rt-new" });
    const completion = await ask(await start());
    expect(completion.choices[0]!.message.content).toBe("Echo: hi");
    const onboard = harness.mock.calls.find((call) => call.path === "/v1internal:onboardUser")!;
    expect(onboard.body).toEqual({ tierId: "free-tier", metadata: { ideType: "IDE_UNSPECIFIED", platform: "PLATFORM_UNSPECIFIED", pluginType: "GEMINI" } });
    expect(harness.mock.calls.filter((call) => call.path.startsWith("/v1internal/operations/"))).toHaveLength(2);
    expect(harness.mock.generateCalls()[0]!.body.project).toBe("fresh-project-7");
  });
});

describe("failover and errors", () => {
  test("429 and 500 move to the next credential; the client sees one success", async () => {
    for (const name of ["a", "b", "c"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", { kind: "error", status: 429, body: { error: { code: 429, message: "quota", status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "30s" }] } } });
    harness.mock.script("b", { kind: "error", status: 500 });
    const gateway = await start();
    expect((await ask(gateway)).choices[0]!.message.content).toBe("Echo: hi");
    expect(harness.mock.generateCalls().map((call) => call.account)).toEqual(["a", "b", "c"]);
    // a is cooling for this model now, so the next calls skip it.
    await ask(gateway);
    await ask(gateway);
    expect(harness.mock.generateCalls().slice(3).map((call) => call.account)).not.toContain("a");
  });

  test("a broken connection and a silent upstream also move to the next credential", async () => {
    for (const name of ["a", "b", "c"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", { kind: "reset" });
    harness.mock.script("b", { kind: "hang" });
    const gateway = await start({ connect_timeout_s: 0.3, idle_timeout_s: 0.3 });
    expect((await ask(gateway)).choices[0]!.message.content).toBe("Echo: hi");
    expect(harness.mock.generateCalls().map((call) => call.account)).toEqual(["a", "b", "c"]);
  });

  test("after the first byte an upstream failure is reported in-band and the stream ends without [DONE]", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    harness.mock.script("a", { kind: "drop", chunks: ["partial ", "answer"] });
    const gateway = await start();
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(200);
    const events = (await response.text()).split("\n\n").filter(Boolean);
    expect(events.join()).toContain('"content":"partial "');
    const last = JSON.parse(events.at(-1)!.slice("data: ".length));
    expect(last.error).toMatchObject({ type: "server_error", message: expect.any(String) });
    expect(events).not.toContain("data: [DONE]");
    await gateway.stop();
    expect(readState().credentials["a.json"].error_count).toBe(1);
  });

  test("a streamed request fails over before its first byte", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", { kind: "error", status: 503 });
    const gateway = await start();
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toContain('"content":"Echo: hi"');
    expect(body).not.toContain('"error"');
    expect(harness.mock.generateCalls().map((call) => call.account)).toEqual(["a", "b"]);
  });

  test("400 goes straight back to the client with the upstream's message, no retry, no penalty", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", { kind: "error", status: 400, body: { error: { code: 400, message: "Unable to submit request because it has an empty text parameter.", status: "INVALID_ARGUMENT" } } });
    const gateway = await start();
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toMatchObject({ type: "invalid_request_error", message: "Unable to submit request because it has an empty text parameter." });
    expect(harness.mock.generateCalls()).toHaveLength(1);
    await gateway.stop();
    expect(readState().credentials["a.json"]).toMatchObject({ error_count: 0, disabled: false });
  });

  test("an unknown model is the upstream's 404, passed through", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    const gateway = await start();
    const response = await chat(gateway.url, { model: "gemini-9-ultra", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(404);
    expect((await readJson(response)).error.code).toBe("model_not_found");
  });

  test("max_retries bounds the attempts; the last upstream error reaches the client with Retry-After", async () => {
    for (const name of ["a", "b", "c", "d"]) {
      addReadyAccount(harness.mock, harness.workspace, name);
      harness.mock.script(name, { kind: "error", status: 429, body: { error: { code: 429, message: `quota ${name}`, status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" }] } } });
    }
    const gateway = await start({ max_retries: 2 });
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("7");
    expect((await readJson(response)).error.message).toBe("quota c");
    expect(harness.mock.generateCalls()).toHaveLength(3);
  });

  test("no credentials at all: 503 saying how to add one", async () => {
    const gateway = await start();
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(503);
    const body = await readJson(response);
    expect(body.error.type).toBe("server_error");
    expect(body.error.message).toContain("credentials directory");
  });
});

describe("state file", () => {
  test("counters survive a restart, and an operator's edit made while stopped is honoured", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    let gateway = await start();
    for (let call = 0; call < 4; call++) await ask(gateway);
    await gateway.stop();
    let state = readState();
    expect(state.version).toBe(1);
    expect(state.credentials["a.json"].success_count).toBe(2);
    expect(state.credentials["b.json"].success_count).toBe(2);
    expect(state.credentials["a.json"].last_success_at).toBeInstanceOf(Date);

    // The operator disables b by hand; on restart only a serves, and the counters carry on.
    const text = readFileSync(harness.workspace.stateFile, "utf8").replace(/(\[credentials\."b\.json"\][^[]*?)disabled = false/s, '$1disabled = true\ndisabled_reason = "manual"');
    writeFileSync(harness.workspace.stateFile, text);
    gateway = await start();
    for (let call = 0; call < 2; call++) await ask(gateway);
    await gateway.stop();
    state = readState();
    expect(state.credentials["a.json"].success_count).toBe(4);
    expect(state.credentials["b.json"]).toMatchObject({ success_count: 2, disabled: true, disabled_reason: "manual" });
  });

  test("state is flushed in the background without a stop", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    const gateway = await start({ state_flush_interval_s: 0.05 });
    await ask(gateway);
    await Bun.sleep(300);
    expect(readState().credentials["a.json"].success_count).toBe(1);
  });

  test("a malformed credential file is skipped, never modified", async () => {
    addReadyAccount(harness.mock, harness.workspace, "good");
    const bad = join(harness.workspace.credentialsDir, "bad.json");
    writeFileSync(bad, "{ not json");
    writeFileSync(join(harness.workspace.credentialsDir, "empty.json"), JSON.stringify({ access_token: "x" }));
    const gateway = await start();
    expect((await ask(gateway)).choices[0]!.message.content).toBe("Echo: hi");
    expect(readFileSync(bad, "utf8")).toBe("{ not json");
    const health = await readJson(await fetch(`${gateway.url}/health`));
    expect(health.credentials.total).toBe(1);
  });
});
