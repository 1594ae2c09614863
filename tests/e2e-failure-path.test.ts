// The failure path end to end, one test per behaviour that was wrong: rate limits mistaken for
// capacity, transient rests turned into refusals, transient token-endpoint errors marking a
// credential invalid, fake streams silent for seconds, model variants ignored on the Gemini
// surface, pass-through streams torn instead of ended, replaced credentials staying invalid, and
// the access log for streams.
import { describe, expect, test } from "bun:test";
import { readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../src/log.ts";
import { MockOpenAI } from "./mock/openai.ts";
import { googleErrorBody } from "./mock/google.ts";
import {
  addReadyAccount, chat, perTestGateways, processEnv, readJson, startGateway, testConfig, writeGeminiCliCredential, writeJellycliCredential, type Running,
} from "./helpers.ts";

const harness = perTestGateways({ health_check_interval_s: 0 });
const ask = (gateway: Running, model = "gemini-2.5-pro") => chat(gateway.url, { model, messages: [{ role: "user", content: "hi" }] });
const accounts = () => harness.mock.generateCalls().map((call) => call.account);
const health = async (gateway: Running) => readJson(await fetch(`${gateway.url}/health`));
const detail = async (gateway: Running, file: string) => (await health(gateway)).details.find((entry: any) => entry.file === file);
const errorInfo = (reason: string) => ({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "cloudcode-pa.googleapis.com", metadata: { model: "gemini-2.5-pro" } });
const retryInfo = (delay: string) => ({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: delay });
/** Code Assist's per-account rate limit, worded the way cloudcode-pa words it (codeassist-protocol §8.3). */
const rateLimited = (seconds: number) => ({
  kind: "error" as const, status: 429,
  body: googleErrorBody(429, "RESOURCE_EXHAUSTED", `You have exhausted your capacity on this model. Your quota will reset after ${seconds}s.`, [errorInfo("RATE_LIMIT_EXCEEDED"), retryInfo(`${seconds}s`)]),
});

describe("a per-account rate limit is not 'model out of capacity'", () => {
  for (const seconds of [30, 3600]) {
    test(`RATE_LIMIT_EXCEEDED (${seconds} s): the next account serves at once, and the limited one cools`, async () => {
      for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
      harness.mock.script("a", rateLimited(seconds));
      const gateway = await start();
      const first = await ask(gateway);
      expect(first.status).toBe(200);
      expect(accounts()).toEqual(["a", "b"]);
      // The next request does not go back to the limited account.
      expect((await ask(gateway)).status).toBe(200);
      expect(accounts()).toEqual(["a", "b", "b"]);
      const cooling = (await detail(gateway, "a.json")).cooling["gemini-2.5-pro"];
      expect(Date.parse(cooling) - Date.now()).toBeGreaterThan((seconds - 5) * 1000);
    });
  }

  test("MODEL_CAPACITY_EXHAUSTED with a 60 s RetryInfo: a pause of at most a few seconds, no penalty", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    harness.mock.script("a", { kind: "error", status: 429, body: googleErrorBody(429, "RESOURCE_EXHAUSTED", "No capacity available for model gemini-2.5-pro on the server", [errorInfo("MODEL_CAPACITY_EXHAUSTED"), retryInfo("60s")]) });
    const gateway = await start();
    expect((await ask(gateway)).status).toBe(200); // within the test's 5 s budget, so the pause was not 60 s
    expect(accounts()).toEqual(["a", "a"]);
    const a = await detail(gateway, "a.json");
    expect(a.cooling).toEqual({});
    expect(a.error_count).toBe(0);
  });
});

describe("transient rests lower priority; they never refuse", () => {
  test("a 500 with every other account cooling: the same account is tried again rather than failing", async () => {
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", { kind: "error", status: 500 });
    harness.mock.script("b", rateLimited(30));
    const gateway = await start();
    expect((await ask(gateway)).status).toBe(200);
    expect(accounts()).toEqual(["a", "b", "a"]);
  });

  test("after every account answered 500, the next request is served, not refused with 429", async () => {
    for (const name of ["a", "b", "c"]) {
      addReadyAccount(harness.mock, harness.workspace, name);
      harness.mock.script(name, { kind: "error", status: 500 });
    }
    const gateway = await start({ max_retries: 2 });
    const failed = await ask(gateway);
    expect(failed.status).toBe(500);
    await failed.text();
    const next = await ask(gateway);
    expect(next.status).toBe(200);
    expect((await readJson(next)).choices[0].message.content).toBe("Echo: hi");
    // A rested account is still preferred over one whose rest has not ended.
    expect(accounts()).toEqual(["a", "b", "c", "a"]);
    expect((await detail(gateway, "b.json")).resting_until).toBeDefined();
  });
});

describe("token refresh failures", () => {
  for (const [label, failure] of [
    ["429", { status: 429, body: { error: "rate_limit_exceeded", error_description: "Too many requests" } }],
    ["503", { status: 503, body: { error: "backend_error" } }],
  ] as const) {
    test(`a ${label} from the token endpoint is a passing problem: the credential stays usable`, async () => {
      harness.mock.addAccount({ name: "t", refreshToken: "1//rt-t", project: "p-t" });
      writeGeminiCliCredential(harness.workspace, "t.json", { refreshToken: "1//rt-t" }); // expired: needs a refresh
      harness.mock.tokenFailure = failure;
      const gateway = await start();
      const refused = await ask(gateway);
      expect(refused.status).toBeGreaterThanOrEqual(500);
      await refused.text();
      expect((await detail(gateway, "t.json")).status).toBe("active");
      harness.mock.tokenFailure = undefined;
      expect((await ask(gateway)).status).toBe(200);
    });
  }

  test("invalid_grant still marks the credential invalid", async () => {
    harness.mock.addAccount({ name: "r", refreshToken: "1//rt-r", project: "p-r", revoked: true });
    writeGeminiCliCredential(harness.workspace, "r.json", { refreshToken: "1//rt-r" });
    const gateway = await start();
    await (await ask(gateway)).text();
    expect((await detail(gateway, "r.json")).status).toBe("invalid");
  });
});

describe("fake streams", () => {
  for (const surface of ["openai", "gemini"] as const) {
    test(`${surface}: headers and a keep-alive go out before the answer exists`, async () => {
      addReadyAccount(harness.mock, harness.workspace, "a");
      let release!: () => void;
      harness.mock.script("a", { kind: "reply", text: "slow answer", gate: new Promise<void>((resolve) => { release = resolve; }) });
      const gateway = await start({ fake_stream_keepalive_s: 3 });
      const response = surface === "openai"
        ? await chat(gateway.url, { model: "gemini-2.5-pro-fake-stream", stream: true, messages: [{ role: "user", content: "hi" }] })
        : await fetch(`${gateway.url}/v1beta/models/gemini-2.5-pro-fake-stream:streamGenerateContent?alt=sse`, {
          method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
        });
      // The mock is still holding the answer back, yet the client has its status and a first byte.
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      const reader = response.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toBe(": keep-alive\n\n");
      release();
      let rest = "";
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
      expect(rest).toContain("slow answer");
      // A fake stream is one unary call upstream.
      expect(harness.mock.calls.filter((call) => call.path.endsWith(":generateContent"))).toHaveLength(1);
    });
  }

  test("a quick refusal keeps its real status", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    harness.mock.script("a", { kind: "error", status: 400, body: googleErrorBody(400, "INVALID_ARGUMENT", "bad request body") });
    const gateway = await start();
    const response = await fetch(`${gateway.url}/v1beta/models/gemini-2.5-pro-fake-stream:streamGenerateContent?alt=sse`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.message).toBe("bad request body");
  });
});

describe("model variants on the Gemini-native surface", () => {
  const native = (gateway: Running, model: string, method = "generateContent") => fetch(`${gateway.url}/v1beta/models/${model}:${method}`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }], generationConfig: { thinkingConfig: { includeThoughts: true, thinkingBudget: 4096 } } }),
  });

  test("-search adds Google Search, -nothinking and -maxthinking set the budget, the upstream sees the base model", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    const gateway = await start();
    for (const model of ["gemini-2.5-flash-search", "gemini-2.5-flash-nothinking", "gemini-2.5-pro-maxthinking"]) {
      const response = await native(gateway, model);
      expect(response.status).toBe(200);
      await response.text();
    }
    const [search, nothinking, maxthinking] = harness.mock.generateCalls().map((call) => call.body);
    expect(search.model).toBe("gemini-2.5-flash");
    expect(search.request.tools).toEqual([{ googleSearch: {} }]);
    expect(nothinking.request.generationConfig.thinkingConfig).toEqual({ thinkingBudget: 0 });
    expect(maxthinking.model).toBe("gemini-2.5-pro");
    expect(maxthinking.request.generationConfig.thinkingConfig).toEqual({ thinkingBudget: 32768, includeThoughts: true });
  });

  test("-fake-stream on streamGenerateContent is served from one unary call", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    const gateway = await start();
    const response = await native(gateway, "gemini-2.5-flash-fake-stream", "streamGenerateContent?alt=sse");
    const body = await response.text();
    expect(body).toContain("Echo: hi");
    expect(harness.mock.calls.filter((call) => call.path.endsWith(":streamGenerateContent"))).toHaveLength(0);
    expect(harness.mock.calls.filter((call) => call.path.endsWith(":generateContent"))).toHaveLength(1);
  });
});

describe("OpenAI pass-through", () => {
  test("a stream that breaks mid-way ends with an in-band error event, not a torn connection", async () => {
    const upstream = new MockOpenAI(["sk-1"]);
    try {
      upstream.script({ kind: "drop", chunks: ["partial ", "answer"] });
      const gateway = await start({ openai_upstreams: [{ name: "kimi", base_url: upstream.baseURL, api_keys: ["sk-1"], models: ["kimi-k2"], model_mapping: {}, profile: "kimi" }] });
      const response = await chat(gateway.url, { model: "kimi-k2", stream: true, messages: [{ role: "user", content: "hi" }] });
      expect(response.status).toBe(200);
      const body = await response.text(); // throws if the connection is torn
      expect(body).toContain("partial ");
      const last = body.trim().split("\n\n").at(-1)!;
      expect(JSON.parse(last.trim().replace(/^data: /, ""))).toMatchObject({ error: { type: "server_error" } });
    } finally {
      upstream.stop();
    }
  });
});

describe("replaced credentials", () => {
  test("an invalid credential replaced by a fresh login starts clean and serves", async () => {
    harness.mock.addAccount({ name: "old", refreshToken: "1//rt-old", project: "p", revoked: true });
    writeGeminiCliCredential(harness.workspace, "acct.json", { refreshToken: "1//rt-old" });
    const gateway = await start({ credentials_poll_s: 0.1 });
    await (await ask(gateway)).text();
    expect((await detail(gateway, "acct.json")).status).toBe("invalid");

    harness.mock.addAccount({ name: "new", refreshToken: "1//rt-new", project: "p-new" });
    const staging = join(harness.workspace.dir, "acct.json");
    writeJellycliCredential({ ...harness.workspace, credentialsDir: harness.workspace.dir }, "acct.json", {
      refreshToken: "1//rt-new", accessToken: harness.mock.issueToken("new"), expiresAt: Date.now() + 3_600_000, projectId: "p-new",
    });
    renameSync(staging, join(harness.workspace.credentialsDir, "acct.json"));
    await Bun.sleep(400);
    expect(await detail(gateway, "acct.json")).toMatchObject({ status: "active", error_count: 0 });
    expect((await ask(gateway)).status).toBe(200);
    expect(accounts().at(-1)).toBe("new");
  });

  test("a file replaced while jellycli was stopped starts clean too", async () => {
    harness.mock.addAccount({ name: "old", refreshToken: "1//rt-old", project: "p", revoked: true });
    writeGeminiCliCredential(harness.workspace, "acct.json", { refreshToken: "1//rt-old" });
    const first = await start();
    await (await ask(first)).text();
    await first.stop();
    harness.mock.addAccount({ name: "new", refreshToken: "1//rt-new", project: "p-new" });
    writeJellycliCredential(harness.workspace, "acct.json", { refreshToken: "1//rt-new", accessToken: harness.mock.issueToken("new"), expiresAt: Date.now() + 3_600_000, projectId: "p-new" });
    const second = await start();
    expect((await detail(second, "acct.json")).status).toBe("active");
  });
});

describe("jellycli check beside a running gateway", () => {
  const MAIN = join(import.meta.dir, "..", "src", "main.ts");
  const runCheck = async (env: Record<string, string>, cwd: string) => {
    const child = Bun.spawn([process.execPath, MAIN, "check"], { cwd, env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
    const [code, stdout] = await Promise.all([child.exited, new Response(child.stdout).text()]);
    return { code, stdout };
  };

  test("check does not write the state file the server owns", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    const gateway = await start();
    expect((await ask(gateway)).status).toBe(200);
    await Bun.sleep(150); // the server's own flush (every 50 ms here)
    const before = readFileSync(harness.workspace.stateFile, "utf8");
    const modified = statSync(harness.workspace.stateFile).mtimeMs;
    const { code, stdout } = await runCheck(processEnv(harness.mock, harness.workspace), harness.workspace.dir);
    expect(code).toBe(0);
    expect(stdout).toContain("a.json");
    expect(statSync(harness.workspace.stateFile).mtimeMs).toBe(modified);
    expect(readFileSync(harness.workspace.stateFile, "utf8")).toBe(before);
  });

  test("check exits non-zero when the upstream refuses connections", async () => {
    addReadyAccount(harness.mock, harness.workspace, "a");
    const env = { ...processEnv(harness.mock, harness.workspace), JELLYCLI_CODE_ASSIST_ENDPOINT: "http://127.0.0.1:1" };
    const { code, stdout } = await runCheck(env, harness.workspace.dir);
    expect(code).not.toBe(0);
    expect(stdout).toContain("a.json");
  });
});

describe("the access log", () => {
  test("a stream is logged when it ends, with its duration and tokens; retry decisions show at debug", async () => {
    const lines: string[] = [];
    for (const name of ["a", "b"]) addReadyAccount(harness.mock, harness.workspace, name);
    harness.mock.script("a", { kind: "error", status: 500 });
    harness.mock.script("b", { kind: "reply", chunks: ["one ", "two ", "three"], delayMs: 250 });
    const gateway = await startGateway(testConfig(harness.mock, harness.workspace, { health_check_interval_s: 0 }), createLogger("debug", (line) => lines.push(line)));
    harness.running.push(gateway);
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(await response.text()).toContain("data: [DONE]");
    await Bun.sleep(50);
    const line = lines.find((entry) => entry.includes(" request ") && entry.includes("/v1/chat/completions"))!;
    expect(Number(/ ms=(\d+)/.exec(line)![1])).toBeGreaterThanOrEqual(500); // two 250 ms pauses inside the stream
    expect(line).toMatch(/ tokens=\d+/);
    expect(line).toContain("credential=b.json");
    expect(lines.some((entry) => entry.includes("DEBUG upstream call failed") && entry.includes("credential=a.json") && entry.includes("decision=next_credential"))).toBe(true);
  });

  test("a credential turning invalid is a WARN line with the reason", async () => {
    const lines: string[] = [];
    harness.mock.addAccount({ name: "r", refreshToken: "1//rt-r", project: "p-r", revoked: true });
    writeGeminiCliCredential(harness.workspace, "r.json", { refreshToken: "1//rt-r" });
    const gateway = await startGateway(testConfig(harness.mock, harness.workspace, { health_check_interval_s: 0 }), createLogger("info", (line) => lines.push(line)));
    harness.running.push(gateway);
    await (await ask(gateway)).text();
    expect(lines.find((entry) => entry.includes("credential=r.json") && entry.includes("to=invalid"))).toMatch(/ WARN .*invalid_grant/);
  });
});

function start(overrides = {}) {
  return harness.start(overrides);
}
