// The OpenAI surface end to end: the official `openai` SDK → jellycli → mock Code Assist.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, startGateway, testConfig, type Running , readJson } from "./helpers.ts";

const PASSWORD = "test-password-123";
let mock: MockGoogle;
let gateway: Running;
let client: OpenAI;

beforeAll(async () => {
  mock = new MockGoogle();
  const workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "alice");
  gateway = await startGateway(testConfig(mock, workspace, { password: PASSWORD, fake_stream_keepalive_s: 0.1 }));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: PASSWORD, maxRetries: 0 });
});

afterAll(async () => {
  await gateway.stop();
  mock.stop();
});

describe("non-streamed chat", () => {
  test("returns a chat.completion with the upstream text, usage and the client's model name", async () => {
    mock.script("alice", { kind: "reply", text: "Bonjour à tous 👋" });
    const completion = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "system", content: "Answer in French." }, { role: "user", content: "Say hello" }],
      temperature: 0.2,
      max_tokens: 50,
      stop: "END",
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.id).toStartWith("chatcmpl-");
    expect(completion.model).toBe("gemini-2.5-flash");
    expect(completion.choices[0]!.message.content).toBe("Bonjour à tous 👋");
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(completion.usage!.total_tokens).toBeGreaterThan(0);

    const sent = mock.generateCalls().at(-1)!;
    expect(sent.path).toBe("/v1internal:generateContent");
    expect(sent.body.model).toBe("gemini-2.5-flash");
    expect(sent.body.project).toBe("project-alice");
    expect(sent.body.request.systemInstruction).toEqual({ role: "user", parts: [{ text: "Answer in French." }] });
    expect(sent.body.request.contents).toEqual([{ role: "user", parts: [{ text: "Say hello" }] }]);
    expect(sent.body.request.generationConfig).toEqual({ temperature: 0.2, maxOutputTokens: 50, stopSequences: ["END"], thinkingConfig: { includeThoughts: true } });
  });

  test("multi-turn conversations keep their order and roles; text parts are joined per turn", async () => {
    await client.chat.completions.create({
      model: "gemini-2.5-pro",
      messages: [
        { role: "user", content: [{ type: "text", text: "first" }, { type: "text", text: "second" }] },
        { role: "assistant", content: "reply" },
        { role: "user", content: "again" },
      ],
    });
    expect(mock.generateCalls().at(-1)!.body.request.contents).toEqual([
      { role: "user", parts: [{ text: "first" }, { text: "second" }] },
      { role: "model", parts: [{ text: "reply" }] },
      { role: "user", parts: [{ text: "again" }] },
    ]);
  });

  test("MAX_TOKENS maps to finish_reason length", async () => {
    mock.script("alice", { kind: "reply", text: "cut", finishReason: "MAX_TOKENS" });
    const completion = await client.chat.completions.create({ model: "gemini-2.5-pro", messages: [{ role: "user", content: "long" }] });
    expect(completion.choices[0]!.finish_reason).toBe("length");
  });
});

describe("streamed chat", () => {
  test("the SDK receives role, deltas, finish_reason and the usage chunk, in order", async () => {
    mock.script("alice", { kind: "reply", chunks: ["Hel", "lo ", "wörld 🌍"] });
    const stream = await client.chat.completions.create({
      model: "gemini-2.5-pro",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("Hello wörld 🌍");
    const finish = chunks.filter((chunk) => chunk.choices[0]?.finish_reason);
    expect(finish).toHaveLength(1);
    expect(finish[0]!.choices[0]!.finish_reason).toBe("stop");
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.prompt_tokens).toBe(1);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(mock.generateCalls().at(-1)!.path).toBe("/v1internal:streamGenerateContent");
  });

  test("without include_usage there is no usage chunk, and the wire ends with data: [DONE]", async () => {
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", stream: true, messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${PASSWORD}` });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    const body = await response.text();
    const events = body.split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    expect(events.slice(0, -1).every((event) => event.startsWith("data: {"))).toBe(true);
    expect(body).not.toContain('"usage"');
  });

  test("each upstream event reaches the client as it arrives (300 ms apart upstream)", async () => {
    mock.script("alice", { kind: "reply", chunks: ["one ", "two ", "three ", "four"], delayMs: 300 });
    const started = performance.now();
    const stream = await client.chat.completions.create({ model: "gemini-2.5-pro", messages: [{ role: "user", content: "count" }], stream: true });
    const arrivals: { text: string; at: number }[] = [];
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta.content;
      if (text) arrivals.push({ text, at: performance.now() - started });
    }
    expect(arrivals.map((arrival) => arrival.text).join("")).toBe("one two three four");
    // The first delta must not wait for the rest: the mock sends the last event ≥ 900 ms in.
    expect(arrivals[0]!.at).toBeLessThan(arrivals.at(-1)!.at - 600);
  });
});

describe("fake streaming", () => {
  for (const suffix of ["-fake-stream", "-假流式"]) {
    test(`${suffix}: calls the unary upstream, keeps the connection alive, then streams the answer`, async () => {
      mock.script("alice", { kind: "reply", text: "slow answer", delayMs: 350 });
      const response = await chat(gateway.url, { model: `gemini-2.5-pro${suffix}`, stream: true, messages: [{ role: "user", content: "q" }] }, { authorization: `Bearer ${PASSWORD}` });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toStartWith("text/event-stream");
      const body = await response.text();
      expect(body).toContain(": keep-alive\n\n");
      const chunks = body.split("\n\n").filter((event) => event.startsWith("data: {")).map((event) => JSON.parse(event.slice(6)));
      expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? "").join("")).toBe("slow answer");
      expect(chunks.every((chunk) => chunk.model === `gemini-2.5-pro${suffix}`)).toBe(true);
      expect(body.trimEnd().endsWith("data: [DONE]")).toBe(true);
      const sent = mock.generateCalls().at(-1)!;
      expect(sent.path).toBe("/v1internal:generateContent");
      expect(sent.body.model).toBe("gemini-2.5-pro");
    });
  }

  test("an upstream refusal that comes quickly keeps its real status", async () => {
    mock.script("alice", { kind: "error", status: 400, body: { error: { code: 400, message: "bad thing", status: "INVALID_ARGUMENT" } } });
    const response = await chat(gateway.url, { model: "gemini-2.5-pro-fake-stream", stream: true, messages: [{ role: "user", content: "q" }] }, { authorization: `Bearer ${PASSWORD}` });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.message).toBe("bad thing");
  });
});

describe("models, health and auth", () => {
  test("GET /v1/models lists each base model and its fake-stream variant", async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toContain("gemini-2.5-pro");
    expect(models).toContain("gemini-2.5-pro-fake-stream");
    expect(models).toContain("gemini-3-flash-preview");
    // Five base models, each with its fake-stream variant, and the embedding model.
    expect(models).toContain("gemini-embedding-001");
    expect(models).toHaveLength(11);
  });

  test("GET /health needs no password and shows counts, no secrets", async () => {
    const response = await fetch(`${gateway.url}/health`);
    expect(response.status).toBe(200);
    const health = await readJson(response);
    expect(health).toMatchObject({ status: "ok", version: expect.any(String), credentials: { total: 1, usable: 1, disabled: 0, cooling: 0 } });
    expect(JSON.stringify(health)).not.toMatch(/ya29|refresh/);
  });

  test("a missing or wrong password is a 401 OpenAI error", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${PASSWORD}x` }] as Record<string, string>[]) {
      const response = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "q" }] }, headers);
      expect(response.status).toBe(401);
      const body = await readJson(response);
      expect(body.error).toMatchObject({ type: "authentication_error", message: expect.any(String) });
    }
    const models = await fetch(`${gateway.url}/v1/models`);
    expect(models.status).toBe(401);
    expect((await readJson(models)).error.code).toBe("missing_api_key");
    const wrong = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "nope", maxRetries: 0 });
    const error = await wrong.chat.completions.create({ model: "gemini-2.5-pro", messages: [{ role: "user", content: "q" }] }).catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.status).toBe(401);
  });
});
