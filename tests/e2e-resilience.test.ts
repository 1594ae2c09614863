// The pool under real failure modes, end to end: quota-aware rotation, disabled accounts, fallback
// models, hot reload, idle health checks, client disconnects, concurrency and `jellycli check`.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { parse } from "smol-toml";
import {
  addReadyAccount, chat, processEnv, readJson, writeGeminiCliCredential,
  perTestGateways, type Running,
} from "./helpers.ts";

const harness = perTestGateways({ health_check_interval_s: 0 });
const start = harness.start;

const ask = (gateway: Running, model = "gemini-2.5-pro") => chat(gateway.url, { model, messages: [{ role: "user", content: "hi" }] });
const accounts = (from = 0) => harness.mock.generateCalls().slice(from).map((call) => call.account);
const health = async (gateway: Running) => readJson(await fetch(`${gateway.url}/health`));
const errorInfo = (reason: string, metadata: Record<string, string> = {}) => ({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "cloudcode-pa.googleapis.com", metadata });
const quotaExhausted = (resetAt: string) => ({
  kind: "error" as const, status: 429,
  body: { error: { code: 429, message: "Individual quota reached.", status: "RESOURCE_EXHAUSTED", details: [errorInfo("QUOTA_EXHAUSTED", { quotaResetTimeStamp: resetAt, model: "gemini-2.5-pro" })] } },
});

describe("quota-aware selection", () => {
  test("an exhausted model is skipped on that account only; other models still use it", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", quotaExhausted(new Date(Date.now() + 3_600_000).toISOString()));
    const gateway = await start();
    for (let call = 0; call < 4; call++) expect((await ask(gateway)).status).toBe(200);
    // a failed once for Pro, then only b serves Pro …
    expect(accounts()).toEqual(["a", "b", "b", "b", "b"]);
    // … while Flash still rotates over both.
    for (let call = 0; call < 2; call++) await (await ask(gateway, "gemini-2.5-flash")).text();
    expect(accounts(5).sort()).toEqual(["a", "b"]);
    const details = (await health(gateway)).details;
    expect(details.find((entry: any) => entry.file === "a.json").cooling["gemini-2.5-pro"]).toBeDefined();
  });

  test("a restart does not re-hit an account that is cooling", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", quotaExhausted(new Date(Date.now() + 3_600_000).toISOString()));
    const first = await start();
    expect((await ask(first)).status).toBe(200);
    await first.stop();
    const second = await start();
    for (let call = 0; call < 3; call++) await (await ask(second)).text();
    expect(accounts()).toEqual(["a", "b", "b", "b", "b"]);
  });

  test("when every credential is cooling for the model: 429 with Retry-After to the earliest reset", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", quotaExhausted(new Date(Date.now() + 600_000).toISOString()));
    harness.mock.script("b", quotaExhausted(new Date(Date.now() + 120_000).toISOString()));
    const gateway = await start();
    const first = await ask(gateway);
    expect(first.status).toBe(429);
    await first.text();
    const second = await ask(gateway);
    expect(second.status).toBe(429);
    const retryAfter = Number(second.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(100);
    expect(retryAfter).toBeLessThanOrEqual(120);
    expect((await readJson(second)).error.message).toContain("cooling down for gemini-2.5-pro");
    expect(accounts()).toEqual(["a", "b"]);
  });

  test("fallback_models: used only when the requested model has no usable credential, and said in a header", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    harness.mock.script("a", quotaExhausted(new Date(Date.now() + 600_000).toISOString()));
    const gateway = await start({ fallback_models: { "gemini-2.5-pro": "gemini-2.5-flash" } });
    expect((await ask(gateway)).status).toBe(429); // the failure that reveals the quota
    const response = await ask(gateway);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-jellycli-fallback-model")).toBe("gemini-2.5-flash");
    expect((await readJson(response)).model).toBe("gemini-2.5-pro");
    expect(harness.mock.generateCalls().at(-1)!.body.model).toBe("gemini-2.5-flash");
    const streamed = await chat(gateway.url, { model: "gemini-2.5-pro", stream: true, messages: [{ role: "user", content: "s" }] });
    expect(streamed.headers.get("x-jellycli-fallback-model")).toBe("gemini-2.5-flash");
    await streamed.text();
  });

  test("a model out of capacity is retried after a short pause without penalising the account", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    harness.mock.script("a", { kind: "error", status: 429, body: { error: { code: 429, message: "No capacity available for model gemini-2.5-pro on the server", status: "RESOURCE_EXHAUSTED", details: [errorInfo("MODEL_CAPACITY_EXHAUSTED")] } } });
    const gateway = await start();
    const started = performance.now();
    expect((await ask(gateway)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(400);
    expect(accounts()).toEqual(["a", "a"]);
    const details = (await health(gateway)).details[0];
    expect(details).toMatchObject({ status: "active", error_count: 0, cooling: {} });
  });
});

describe("accounts that need a person", () => {
  test("403 VALIDATION_REQUIRED disables with the URL, shown by /health and the state file, never retried", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", {
      kind: "error", status: 403,
      body: { error: { code: 403, message: "Verify your account to continue.", status: "PERMISSION_DENIED", details: [errorInfo("VALIDATION_REQUIRED", { validation_link: "https://accounts.google.com/signin/continue?x=1" })] } },
    });
    const gateway = await start();
    for (let call = 0; call < 3; call++) expect((await ask(gateway)).status).toBe(200);
    expect(accounts()).toEqual(["a", "b", "b", "b"]);
    const report = (await health(gateway)).details.find((entry: any) => entry.file === "a.json");
    expect(report).toMatchObject({ status: "disabled", url: "https://accounts.google.com/signin/continue?x=1" });
    expect(report.reason).toStartWith("VALIDATION_REQUIRED");
    await gateway.stop();
    const state = parse(readFileSync(harness.workspace.stateFile, "utf8")) as any;
    expect(state.credentials["a.json"]).toMatchObject({ status: "disabled", disabled: true, disabled_url: "https://accounts.google.com/signin/continue?x=1" });
  });

  test("a 401 that survives a refresh makes the credential invalid", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", { kind: "error", status: 401 }, { kind: "error", status: 401 });
    const gateway = await start();
    expect((await ask(gateway)).status).toBe(200);
    expect(harness.mock.calls.filter((call) => call.path === "/token" && call.account === "a")).toHaveLength(1);
    expect((await health(gateway)).details.find((entry: any) => entry.file === "a.json").status).toBe("invalid");
  });
});

describe("hot reload", () => {
  test("files added, removed and replaced take effect without a restart; a new login in a file starts clean", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    const gateway = await start({ credentials_poll_s: 0.1 });
    expect((await ask(gateway)).status).toBe(200);

    addReadyAccount(harness.mock, harness.workspace, "b");
    await Bun.sleep(400);
    expect((await health(gateway)).credentials.total).toBe(2);
    for (let call = 0; call < 2; call++) await (await ask(gateway)).text();
    expect(accounts().sort()).toEqual(["a", "a", "b"]);

    rmSync(join(harness.workspace.credentialsDir, "a.json"));
    await Bun.sleep(400);
    for (let call = 0; call < 2; call++) await (await ask(gateway)).text();
    expect(accounts(3)).toEqual(["b", "b"]);

    // Replace b.json with another account's file: same name, same state entry, new tokens.
    harness.mock.addAccount({ name: "c", refreshToken: "1//rt-c", project: "project-c" });
    const next = join(harness.workspace.dir, "next.json");
    writeGeminiCliCredential({ ...harness.workspace, credentialsDir: harness.workspace.dir }, "next.json", { refreshToken: "1//rt-c" });
    renameSync(next, join(harness.workspace.credentialsDir, "b.json"));
    await Bun.sleep(400);
    await (await ask(gateway)).text();
    expect(accounts().at(-1)).toBe("c");
    const report = (await health(gateway)).details.find((entry: any) => entry.file === "b.json");
    expect(report.success_count).toBe(1); // a new login in the same file starts clean: only the call as account c
  });
});

describe("idle health checks", () => {
  test("an invalid credential is probed while idle and comes back when Google accepts it again", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", { kind: "error", status: 401 }, { kind: "error", status: 401 });
    const gateway = await start({ health_check_interval_s: 0.3 });
    expect((await ask(gateway)).status).toBe(200);
    expect((await health(gateway)).details.find((entry: any) => entry.file === "a.json").status).toBe("invalid");
    const probesBefore = harness.mock.calls.filter((call) => call.path === "/v1internal:loadCodeAssist").length;
    await Bun.sleep(3_000);
    expect(harness.mock.calls.filter((call) => call.path === "/v1internal:loadCodeAssist").length).toBeGreaterThan(probesBefore);
    expect((await health(gateway)).details.find((entry: any) => entry.file === "a.json").status).toBe("active");
  });

  test("API keys are probed too: a key the upstream refused comes back once it works again", async () => {
    const key = "AIza-probe-key-00000000000000";
    harness.mock.addApiKey(key, "probe-key");
    harness.mock.removeApiKey(key);
    const gateway = await start({ health_check_interval_s: 0.3, gemini_api_keys: [key], gemini_api_endpoint: harness.mock.url });
    expect((await ask(gateway, "gemini-2.5-flash")).status).toBe(503);
    const report = () => health(gateway).then((body) => body.details.find((entry: any) => entry.pool === "gemini_api"));
    expect((await report()).status).toBe("invalid");
    harness.mock.addApiKey(key, "probe-key");
    await Bun.sleep(3_000);
    expect((await report()).status).toBe("active");
    expect(harness.mock.calls.some((call) => call.method === "GET" && call.path === "/v1beta/models" && call.account === "probe-key")).toBe(true);
    expect((await ask(gateway, "gemini-2.5-flash")).status).toBe(200);
  });

  test("no probe runs while a request is in flight", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    addReadyAccount(harness.mock, harness.workspace, "b");
    harness.mock.script("a", { kind: "error", status: 500 });
    const gateway = await start({ health_check_interval_s: 0.2 });
    expect((await ask(gateway)).status).toBe(200); // a is now resting (cooling) → wants a probe
    harness.mock.script("b", { kind: "reply", chunks: ["1", "2", "3", "4", "5", "6", "7", "8"], delayMs: 500 });
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", stream: true, messages: [{ role: "user", content: "long" }] });
    const startedAt = Date.now();
    await response.text();
    const during = harness.mock.calls.filter((call) => call.path === "/v1internal:loadCodeAssist" && call.at >= startedAt && call.at <= Date.now());
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3_000);
    expect(during).toEqual([]);
  });
});

describe("streams and clients", () => {
  test("a client that disconnects aborts the upstream request within a second", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    harness.mock.script("a", { kind: "reply", chunks: Array.from({ length: 20 }, (_, index) => `part ${index} `), delayMs: 200 });
    const gateway = await start();
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST", signal: controller.signal, headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gemini-2.5-pro", stream: true, messages: [{ role: "user", content: "long" }] }),
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    const abortedAt = Date.now();
    while (harness.mock.aborted === 0 && Date.now() - abortedAt < 1_000) await Bun.sleep(20);
    expect(harness.mock.aborted).toBeGreaterThan(0);
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
  });

  test("a client that hangs up before the answer starts aborts the upstream call, streamed or not", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    const gateway = await start();
    for (const stream of [false, true]) {
      harness.mock.script("a", { kind: "hang" });
      const before = harness.mock.aborted;
      const controller = new AbortController();
      const answer = fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST", signal: controller.signal, headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gemini-2.5-pro", stream, messages: [{ role: "user", content: "long" }] }),
      }).catch(() => undefined);
      while (harness.mock.calls.filter((call) => call.path.includes("enerateContent")).length === 0) await Bun.sleep(10);
      harness.mock.calls.length = 0;
      controller.abort();
      await answer;
      const abortedAt = Date.now();
      while (harness.mock.aborted === before && Date.now() - abortedAt < 1_000) await Bun.sleep(20);
      expect(harness.mock.aborted).toBe(before + 1);
    }
  });

  test("200 concurrent requests over 5 credentials: exact rotation, one refresh each, no lost counts", async () => {
    for (const name of ["a", "b", "c", "d", "e"]) {
      harness.mock.addAccount({ name, refreshToken: `1//rt-${name}`, project: `p-${name}` });
      writeGeminiCliCredential(harness.workspace, `${name}.json`, { refreshToken: `1//rt-${name}` }); // expired: refresh first
    }
    const gateway = await start({ state_flush_interval_s: 0.05 });
    // Project discovery happens once per account before the burst.
    for (let call = 0; call < 5; call++) await (await ask(gateway)).text();
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "x", maxRetries: 0 });
    const results = await Promise.all(Array.from({ length: 200 }, (_, index) => index % 2 === 0
      ? client.chat.completions.create({ model: "gemini-2.5-pro", messages: [{ role: "user", content: `n${index}` }] }).then(() => "ok")
      : client.chat.completions.create({ model: "gemini-2.5-pro", messages: [{ role: "user", content: `s${index}` }], stream: true })
        .then(async (stream) => {
          for await (const _ of stream) { /* drain */ }
          return "ok";
        })));
    expect(results.every((result) => result === "ok")).toBe(true);
    const counts = Object.values(Object.groupBy(harness.mock.generateCalls(), (call) => call.account!)).map((list) => list!.length);
    expect(counts).toEqual([41, 41, 41, 41, 41]);
    for (const name of ["a", "b", "c", "d", "e"]) expect(harness.mock.calls.filter((call) => call.path === "/token" && call.account === name)).toHaveLength(1);
    await gateway.stop();
    const state = parse(readFileSync(harness.workspace.stateFile, "utf8")) as any;
    const successes = Object.values(state.credentials).reduce((sum: number, entry: any) => sum + entry.success_count, 0);
    expect(successes).toBe(205);
  });
});

describe("jellycli check", () => {
  test("probes every credential once and prints file, email, project, tier, state, reason", async () => {
    addReadyAccount(harness.mock, harness.workspace, "good");
    harness.mock.addAccount({ name: "dead", refreshToken: "1//rt-dead", project: "p", revoked: true });
    writeGeminiCliCredential(harness.workspace, "dead.json", { refreshToken: "1//rt-dead" });
    harness.mock.addApiKey("AIza-check-key-0000000000000", "check-key");
    const env = { ...processEnv(harness.mock, harness.workspace), JELLYCLI_GEMINI_API_KEYS: "AIza-check-key-0000000000000", JELLYCLI_GEMINI_API_ENDPOINT: harness.mock.url };
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "src", "main.ts"), "check"], {
      cwd: harness.workspace.dir, env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe",
    });
    const [code, out] = await Promise.all([child.exited, new Response(child.stdout).text()]);
    expect(code).toBe(0);
    const lines = out.split("\n");
    expect(lines[0]).toMatch(/^FILE\s+EMAIL\s+PROJECT\s+TIER\s+STATE\s+REASON\s+NEXT RESET$/);
    expect(lines.find((line) => line.startsWith("good.json"))).toMatch(/project-good\s+free-tier\s+active/);
    expect(lines.find((line) => line.startsWith("dead.json"))).toMatch(/invalid\s+invalid_grant/);
    expect(lines.find((line) => line.startsWith("gemini-api:"))).toMatch(/^gemini-api:[0-9a-f]{8}\s+active/);
    expect(out).not.toContain("AIza-check-key");
    expect(out).toContain("2 of 3 credentials passed.");
    expect(out).not.toContain("ya29.");
    // The state file belongs to the gateway (which may be running): check only reads it.
    expect(existsSync(harness.workspace.stateFile)).toBe(false);
  });
});
