// The Anthropic surface end to end: the official `@anthropic-ai/sdk` → jellycli → mock Code Assist.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { MockGoogle, googleErrorBody } from "./mock/google.ts";
import { addReadyAccount, makeWorkspace, readJson, startGateway, testConfig, type Running } from "./helpers.ts";

const PASSWORD = "anthropic-test-password";
let mock: MockGoogle;
let gateway: Running;
let client: Anthropic;
const lastCall = () => mock.generateCalls().at(-1)!;

beforeAll(async () => {
  mock = new MockGoogle();
  const workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "alice");
  gateway = await startGateway(testConfig(mock, workspace, { password: PASSWORD, health_check_interval_s: 0, keepalive_s: 0.2 }));
  client = new Anthropic({ baseURL: gateway.url, apiKey: PASSWORD, maxRetries: 0 });
});

afterAll(async () => {
  await gateway.stop();
  mock.stop();
});

describe("messages", () => {
  test("create: a message in Anthropic's shape; claude-… names go to Gemini through model_aliases", async () => {
    const message = await client.messages.create({ model: "claude-sonnet-4-5-20250929", max_tokens: 100, system: "Be brief.", messages: [{ role: "user", content: "Say hello please" }] });
    expect(message).toMatchObject({ type: "message", role: "assistant", model: "claude-sonnet-4-5-20250929", stop_reason: "end_turn", stop_sequence: null, content: [{ type: "text", text: "Echo: Say hello please" }] });
    expect(message.id).toMatch(/^msg_[0-9A-Za-z]{24}$/);
    expect(message.usage).toMatchObject({ input_tokens: 3, output_tokens: 4, cache_read_input_tokens: 0 });
    expect(lastCall().body).toMatchObject({ model: "gemini-2.5-pro", request: { systemInstruction: { parts: [{ text: "Be brief." }] }, generationConfig: { maxOutputTokens: 100 } } });
    await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    expect(lastCall().body.model).toBe("gemini-2.5-flash");
  });

  test("what Claude Code sends does not cause a 400: system messages between turns, adaptive thinking, output_config, odd schemas, defer_loading", async () => {
    const response = await fetch(`${gateway.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": PASSWORD, "anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14,context-management-2025-06-27" },
      body: JSON.stringify({
        model: "claude-opus-4-1", max_tokens: 32000, stream: false,
        system: [{ type: "text", text: "You are Claude Code.", cache_control: { type: "ephemeral" } }],
        messages: [
          { role: "user", content: [{ type: "text", text: "list files", cache_control: { type: "ephemeral" } }] },
          { role: "system", content: "<system-reminder>Use tools wisely.</system-reminder>" },
        ],
        thinking: { type: "adaptive" }, output_config: { effort: "high" }, context_management: { edits: [] }, metadata: { user_id: "user_abc" },
        tools: [{
          name: "Bash", description: "Run a command", defer_loading: true,
          input_schema: { $schema: "http://json-schema.org/draft-07/schema#", type: "object", additionalProperties: false, required: ["command"],
            properties: { command: { type: "string" }, timeout: { type: "number", exclusiveMinimum: 0, maximum: 9007199254740991 } } },
        }],
      }),
    });
    expect(response.status).toBe(200);
    const sent = lastCall().body.request;
    expect(sent.systemInstruction.parts.map((part: { text: string }) => part.text)).toEqual(["You are Claude Code.", "<system-reminder>Use tools wisely.</system-reminder>"]);
    expect(sent.tools[0].functionDeclarations[0].name).toBe("Bash");
    expect(sent.generationConfig.thinkingConfig).toEqual({ includeThoughts: true });
  });

  test("streamed: Anthropic's events in order, event names equal to data.type", async () => {
    mock.script("alice", { kind: "reply", chunks: ["Hel", "lo ", "there"] });
    const raw = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${PASSWORD}`, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 50, stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(raw.headers.get("content-type")).toContain("text/event-stream");
    const events = (await raw.text()).trim().split("\n\n").map((block) => {
      const [eventLine, dataLine] = block.split("\n");
      const data = JSON.parse(dataLine!.slice(6));
      expect(eventLine).toBe(`event: ${data.type}`);
      return data;
    });
    expect(events.map((event) => event.type)).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    expect(events.filter((event) => event.type === "content_block_delta").map((event) => event.delta.text).join("")).toBe("Hello there");
    expect(events.at(-2)).toMatchObject({ delta: { stop_reason: "end_turn" }, usage: { output_tokens: 3 } });

    mock.script("alice", { kind: "reply", chunks: ["Streamed ", "by the SDK"] });
    const stream = client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 50, messages: [{ role: "user", content: "go" }] });
    const texts: string[] = [];
    stream.on("text", (text) => texts.push(text));
    const final = await stream.finalMessage();
    expect(texts.join("")).toBe("Streamed by the SDK");
    expect(final.content).toEqual([expect.objectContaining({ type: "text", text: "Streamed by the SDK" })]);
  });

  test("an upstream that breaks after the first byte: an `error` event in Anthropic's shape", async () => {
    mock.script("alice", { kind: "drop", chunks: ["partial ", "answer"] });
    const raw = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST", headers: { "content-type": "application/json", "x-api-key": PASSWORD },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 50, stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    const text = await raw.text();
    expect(text).toContain('"text":"partial "');
    const last = text.trim().split("\n\n").at(-1)!;
    expect(last.split("\n")[0]).toBe("event: error");
    expect(JSON.parse(last.split("\n")[1]!.slice(6))).toMatchObject({ type: "error", error: { type: "api_error" } });
  });

  test("ping while the upstream is silent", async () => {
    mock.script("alice", { kind: "reply", chunks: ["slow ", "answer"], delayMs: 600 });
    const raw = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST", headers: { "content-type": "application/json", "x-api-key": PASSWORD },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 50, stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    const text = await raw.text();
    expect(text).toContain('event: ping\ndata: {"type":"ping"}\n\n');
    expect(text).toContain('"text":"answer"');
  });

  test("a tool round trip on Gemini 3: tool_use out, tool_result back, the call's thought signature returned to Gemini", async () => {
    mock.script("alice", { kind: "parts", events: [[{ functionCall: { name: "get_weather", args: { city: "Paris" } }, thoughtSignature: "sig-weather-1" }]] });
    const tools = [{ name: "get_weather", description: "Weather by city", input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] } }];
    const first = await client.messages.create({ model: "gemini-3-flash-preview", max_tokens: 200, tools, tool_choice: { type: "auto" }, messages: [{ role: "user", content: "Weather in Paris?" }] });
    expect(first.stop_reason).toBe("tool_use");
    const call = first.content.find((block) => block.type === "tool_use")!;
    expect(call).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "Paris" } });
    expect((call as { id: string }).id).toMatch(/^toolu_/);

    const second = await client.messages.create({
      model: "gemini-3-flash-preview", max_tokens: 200, tools,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: (call as { id: string }).id, content: [{ type: "text", text: "18 °C, sunny" }] }] },
      ],
    });
    expect(second.stop_reason).toBe("end_turn");
    const contents = lastCall().body.request.contents;
    expect(contents[1].parts[0]).toMatchObject({ functionCall: { name: "get_weather", args: { city: "Paris" } }, thoughtSignature: "sig-weather-1" });
    expect(contents[2].parts[0]).toEqual({ functionResponse: { name: "get_weather", id: (call as { id: string }).id, response: { output: "18 °C, sunny" } } });

    // An error result reaches Gemini as an error.
    await client.messages.create({
      model: "gemini-2.5-flash", max_tokens: 50, tools,
      messages: [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_x", name: "get_weather", input: { city: "Oslo" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", is_error: true, content: "service down" }] },
      ],
    });
    expect(lastCall().body.request.contents[2].parts[0].functionResponse.response).toEqual({ error: "service down" });
  });

  test("thinking: thoughts as a thinking block whose signature goes back to Gemini; streamed with thinking_delta and signature_delta", async () => {
    mock.script("alice", { kind: "parts", events: [[{ text: "Let me think.", thought: true }], [{ text: "The answer is 4.", thoughtSignature: "sig-think-1" }]] });
    const message = await client.messages.create({ model: "gemini-2.5-pro", max_tokens: 2000, thinking: { type: "enabled", budget_tokens: 1024 }, messages: [{ role: "user", content: "2+2?" }] });
    expect(message.content).toEqual([{ type: "thinking", thinking: "Let me think.", signature: "sig-think-1" }, { type: "text", text: "The answer is 4." }] as never);
    expect(lastCall().body.request.generationConfig.thinkingConfig).toEqual({ thinkingBudget: 1024, includeThoughts: true });

    await client.messages.create({ model: "gemini-2.5-pro", max_tokens: 100, messages: [{ role: "user", content: "2+2?" }, { role: "assistant", content: message.content }, { role: "user", content: "and 3+3?" }] });
    expect(lastCall().body.request.contents[1]).toEqual({ role: "model", parts: [{ text: "The answer is 4.", thoughtSignature: "sig-think-1" }] });

    mock.script("alice", { kind: "parts", events: [[{ text: "Hmm", thought: true }], [{ text: "Four.", thoughtSignature: "sig-think-2" }]] });
    const stream = client.messages.stream({ model: "gemini-2.5-pro", max_tokens: 2000, thinking: { type: "enabled", budget_tokens: 2048 }, messages: [{ role: "user", content: "2+2?" }] });
    const deltas: string[] = [];
    stream.on("streamEvent", (event) => { if (event.type === "content_block_delta") deltas.push(event.delta.type); });
    const final = await stream.finalMessage();
    expect(deltas).toEqual(["thinking_delta", "signature_delta", "text_delta"]);
    expect(final.content[0]).toMatchObject({ type: "thinking", thinking: "Hmm", signature: "sig-think-2" });
  });

  test("an image given by URL is fetched and sent inline, with the same guards as for OpenAI clients", async () => {
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
    const images = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(png, { headers: { "content-type": "image/png" } }) });
    const workspace = makeWorkspace();
    addReadyAccount(mock, workspace, "pics");
    const local = await startGateway(testConfig(mock, workspace, { remote_images_allow_private: true, health_check_interval_s: 0 }));
    try {
      const viaUrl = new Anthropic({ baseURL: local.url, apiKey: "x", maxRetries: 0 });
      await viaUrl.messages.create({ model: "claude-sonnet-4-5", max_tokens: 20, messages: [{ role: "user", content: [{ type: "image", source: { type: "url", url: `http://127.0.0.1:${images.port}/cat.png` } }, { type: "text", text: "what is it" }] }] });
      expect(lastCall().body.request.contents[0].parts[0]).toEqual({ inlineData: { mimeType: "image/png", data: png.toString("base64") } });
      // Without permission for private addresses (the default), the same URL is refused.
      const refused = await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 20, messages: [{ role: "user", content: [{ type: "image", source: { type: "url", url: `http://127.0.0.1:${images.port}/cat.png` } }] }] }).catch((error) => error);
      expect(refused.status).toBe(400);
      expect(refused.message).toContain("messages[0].content[0]");
    } finally {
      await local.stop();
      images.stop(true);
    }
  });

  test("a model an OpenAI-compatible server serves (Claude Code in front of Kimi): message and stream", async () => {
    const { MockOpenAI } = await import("./mock/openai.ts");
    const upstream = new MockOpenAI(["sk-anth"]);
    const local = await startGateway(testConfig(mock, makeWorkspace(), { health_check_interval_s: 0, model_aliases: { "claude-*": "kimi-k2" }, openai_upstreams: [{ name: "kimi", base_url: upstream.baseURL, api_keys: ["sk-anth"], models: ["kimi-k2"], model_mapping: {}, profile: "kimi" }] }));
    try {
      const viaKimi = new Anthropic({ baseURL: local.url, apiKey: "x", maxRetries: 0 });
      const message = await viaKimi.messages.create({ model: "claude-sonnet-4-5", max_tokens: 20, messages: [{ role: "user", content: "hello kimi" }] });
      expect(message.content).toEqual([{ type: "text", text: "Echo: hello kimi" }] as never);
      expect(upstream.calls.at(-1)!.body.model).toBe("kimi-k2");
      const streamed = await viaKimi.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 20, messages: [{ role: "user", content: "stream" }] }).finalMessage();
      expect(streamed.content[0]).toMatchObject({ type: "text", text: "Echo: stream" });
    } finally {
      await local.stop();
      upstream.stop();
    }
  });

  test("count_tokens", async () => {
    const counted = await client.messages.countTokens({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "one two three four" }] });
    expect(counted.input_tokens).toBe(4);
  });

  test("model list in Anthropic's format when asked with anthropic-version", async () => {
    const page = await client.models.list();
    expect(page.data.map((model) => model.id)).toContain("gemini-2.5-pro");
    expect(page.data[0]).toMatchObject({ type: "model", display_name: expect.any(String) });
    expect((await readJson(await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${PASSWORD}` } }))).object).toBe("list");
  });
});

describe("errors in Anthropic's shape", () => {
  const expectError = async (promise: Promise<unknown>, status: number, type: string) => {
    const error = await promise.then(() => undefined, (caught) => caught);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect([error.status, error.error?.type, error.error?.error?.type]).toEqual([status, "error", type]);
    return error;
  };
  test("400, 401, 404, 429 with retry-after, 500 and 529", async () => {
    await expectError(client.messages.create({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "x" }] } as never), 400, "invalid_request_error");
    await expectError(new Anthropic({ baseURL: gateway.url, apiKey: "wrong", maxRetries: 0 }).messages.create({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] }), 401, "authentication_error");
    await expectError(client.messages.create({ model: "no-such-model", max_tokens: 5, messages: [{ role: "user", content: "x" }] }), 404, "not_found_error");
    const limited = googleErrorBody(429, "RESOURCE_EXHAUSTED", "Your quota will reset after 30s.", [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "RATE_LIMIT_EXCEEDED", domain: "cloudcode-pa.googleapis.com" }, { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "30s" }]);
    mock.script("alice", { kind: "error", status: 429, body: limited });
    const rateLimited = await expectError(client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] }), 429, "rate_limit_error");
    expect(Number(rateLimited.headers.get("retry-after"))).toBeGreaterThan(0);
    mock.clearScripts();
    await gateway.gateway.backends[0]!.pool.report("alice.json", { kind: "operator", action: "reset" }, Date.now());
    for (let attempt = 0; attempt < 4; attempt++) mock.script("alice", { kind: "error", status: 500 });
    await expectError(client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] }), 500, "api_error");
    mock.clearScripts();
    const capacity = googleErrorBody(429, "RESOURCE_EXHAUSTED", "No capacity available for model gemini-2.5-pro on the server", [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "MODEL_CAPACITY_EXHAUSTED", domain: "cloudcode-pa.googleapis.com" }]);
    for (let attempt = 0; attempt < 4; attempt++) mock.script("alice", { kind: "error", status: 429, body: capacity });
    await expectError(client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] }), 529, "overloaded_error");
    mock.clearScripts();
  }, 20_000);

  test("403 for a client key whose models exclude the one asked for (aliases count as their target)", async () => {
    const created = await readJson(await fetch(`${gateway.url}/admin/api/keys`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "haiku-only", models: ["gemini-2.5-flash"] }) }));
    const keyed = new Anthropic({ baseURL: gateway.url, apiKey: created.key, maxRetries: 0 });
    const refused = await expectError(keyed.messages.create({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] }), 403, "permission_error");
    expect(refused.message).toContain("claude-sonnet-4-5");
    expect((await keyed.messages.create({ model: "claude-haiku-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] })).type).toBe("message");
    await fetch(`${gateway.url}/admin/api/keys/${created.id}`, { method: "DELETE", headers: { "content-type": "application/json" }, body: "{}" });
  });
});
