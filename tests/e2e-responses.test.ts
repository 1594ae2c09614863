// The OpenAI Responses API end to end: the `openai` SDK's responses.create and the Vercel AI SDK's
// default OpenAI provider (which speaks Responses) → jellycli → mock Code Assist.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, makeWorkspace, readJson, startGateway, testConfig, type Running } from "./helpers.ts";

let mock: MockGoogle;
let gateway: Running;
let client: OpenAI;
const lastCall = () => mock.generateCalls().at(-1)!;
const weatherTool = { type: "function" as const, name: "get_weather", description: "Weather by city", strict: false, parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

beforeAll(async () => {
  mock = new MockGoogle();
  const workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "alice");
  gateway = await startGateway(testConfig(mock, workspace, { health_check_interval_s: 0 }));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await gateway.stop();
  mock.stop();
});

describe("openai SDK: responses", () => {
  test("plain: a response object with output_text, usage, the model as asked; instructions become the system prompt", async () => {
    const response = await client.responses.create({ model: "gemini-2.5-flash", instructions: "Be brief.", input: "Say hi to the team" });
    expect(response.object).toBe("response");
    expect(response.id).toMatch(/^resp_/);
    expect(response.status).toBe("completed");
    expect(response.model).toBe("gemini-2.5-flash");
    expect(response.output_text).toBe("Echo: Say hi to the team");
    expect(response.output[0]).toMatchObject({ type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "Echo: Say hi to the team", annotations: [] }] });
    expect(response.usage).toMatchObject({ input_tokens: 5, output_tokens: 6, total_tokens: 11 });
    expect(lastCall().body.request.systemInstruction.parts[0].text).toBe("Be brief.");
  });

  test("streamed: the documented events in order with rising sequence numbers", async () => {
    mock.script("alice", { kind: "reply", chunks: ["Hel", "lo"] });
    const stream = await client.responses.create({ model: "gemini-2.5-flash", input: "hi", stream: true });
    const events: { type: string; sequence_number: number }[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((event) => event.type)).toEqual([
      "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
      "response.output_text.delta", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
      "response.output_item.done", "response.completed",
    ]);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const completed = events.at(-1) as unknown as { response: OpenAI.Responses.Response };
    expect(completed.response.output_text ?? (completed.response.output[0] as { content: { text: string }[] }).content[0]!.text).toBe("Hello");
  });

  test("an upstream that breaks after the first byte: an `error` event", async () => {
    mock.script("alice", { kind: "drop", chunks: ["partial ", "answer"] });
    const raw = await fetch(`${gateway.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gemini-2.5-flash", input: "hi", stream: true }) });
    const text = await raw.text();
    expect(text).toContain('"delta":"partial "');
    const last = text.trim().split("\n\n").at(-1)!;
    expect(last.split("\n")[0]).toBe("event: error");
    expect(JSON.parse(last.split("\n")[1]!.slice(6))).toMatchObject({ type: "error", message: expect.any(String) });
  });

  test("a function call round trip, stateless (the client sends the whole history back)", async () => {
    mock.script("alice", { kind: "parts", events: [[{ functionCall: { name: "get_weather", args: { city: "Oslo" } }, thoughtSignature: "sig-resp-1" }]] });
    const first = await client.responses.create({ model: "gemini-3-flash-preview", input: "Weather in Oslo?", tools: [weatherTool], store: false, include: ["reasoning.encrypted_content"] });
    const call = first.output.find((item) => item.type === "function_call") as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", arguments: '{"city":"Oslo"}', status: "completed" });
    expect(call.call_id).toMatch(/^call_/);
    const reasoning = first.output.find((item) => item.type === "reasoning") as { encrypted_content?: string };
    expect(reasoning.encrypted_content).toContain("sig-resp-1");

    const second = await client.responses.create({
      model: "gemini-3-flash-preview", tools: [weatherTool], store: false,
      input: [{ role: "user", content: "Weather in Oslo?" }, ...first.output, { type: "function_call_output", call_id: call.call_id, output: "4 °C, rain" }] as OpenAI.Responses.ResponseInput,
    });
    expect(second.status).toBe("completed");
    const contents = lastCall().body.request.contents;
    expect(contents[1].parts[0]).toMatchObject({ functionCall: { name: "get_weather", args: { city: "Oslo" } }, thoughtSignature: "sig-resp-1" });
    expect(contents[2].parts[0].functionResponse).toMatchObject({ name: "get_weather", response: { output: "4 °C, rain" } });
    // Not stored: previous_response_id cannot find it.
    const missing = await client.responses.create({ model: "gemini-2.5-flash", input: "x", previous_response_id: first.id }).catch((error) => error);
    expect(missing.status).toBe(400);
    expect(missing.code).toBe("previous_response_not_found");
  });

  test("previous_response_id carries the conversation; GET and DELETE work on what is kept", async () => {
    mock.script("alice", { kind: "parts", events: [[{ functionCall: { name: "get_weather", args: { city: "Rome" } } }]] });
    const first = await client.responses.create({ model: "gemini-2.5-flash", input: "Weather in Rome?", tools: [weatherTool] });
    const call = first.output.find((item) => item.type === "function_call") as OpenAI.Responses.ResponseFunctionToolCall;
    const second = await client.responses.create({ model: "gemini-2.5-flash", previous_response_id: first.id, tools: [weatherTool], input: [{ type: "function_call_output", call_id: call.call_id, output: "25 °C" }] });
    expect(second.previous_response_id).toBe(first.id);
    const contents = lastCall().body.request.contents;
    expect(contents.map((content: { role: string }) => content.role)).toEqual(["user", "model", "user"]);
    expect(contents[0].parts[0].text).toBe("Weather in Rome?");
    const third = await client.responses.create({ model: "gemini-2.5-flash", previous_response_id: second.id, input: "And tomorrow?" });
    expect(lastCall().body.request.contents).toHaveLength(5);

    const fetched = await client.responses.retrieve(third.id);
    expect(fetched.id).toBe(third.id);
    expect(fetched.output_text).toBe(third.output_text);
    expect((await readJson(await fetch(`${gateway.url}/v1/responses/${third.id}`, { method: "DELETE" }))).deleted).toBe(true);
    expect((await fetch(`${gateway.url}/v1/responses/${third.id}`)).status).toBe(404);
    const gone = await client.responses.create({ model: "gemini-2.5-flash", input: "x", previous_response_id: third.id }).catch((error) => error);
    expect(gone.code).toBe("previous_response_not_found");
  });

  test("reasoning: thoughts as a reasoning summary when asked; json_schema output", async () => {
    mock.script("alice", { kind: "parts", events: [[{ text: "Thinking hard.", thought: true }], [{ text: '{"answer":4}', thoughtSignature: "sig-r" }]] });
    const response = await client.responses.create({
      model: "gemini-2.5-pro", input: "2+2 as JSON", reasoning: { effort: "low", summary: "auto" },
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object", properties: { answer: { type: "number" } }, required: ["answer"] }, strict: true } },
    });
    expect(response.output[0]).toMatchObject({ type: "reasoning", summary: [{ type: "summary_text", text: "Thinking hard." }] });
    expect(JSON.parse(response.output_text)).toEqual({ answer: 4 });
    const config = lastCall().body.request.generationConfig;
    expect(config.thinkingConfig).toEqual({ thinkingBudget: 1024, includeThoughts: true });
    expect(config.responseMimeType).toBe("application/json");
  });

  test("what Codex sends does not cause a 400: developer messages, namespace and custom tools, web_search without web access, store false", async () => {
    const response = await fetch(`${gateway.url}/v1/responses`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gemini-2.5-flash", instructions: "You are Codex.", store: false, stream: false, parallel_tool_calls: false,
        include: ["reasoning.encrypted_content"], reasoning: { effort: "medium", summary: "auto" }, prompt_cache_key: "abc", text: { verbosity: "low" },
        tools: [
          { type: "function", name: "exec_command", description: "Run a shell command", strict: false, parameters: { type: "object", properties: { cmd: { type: "string" } }, required: ["cmd"] } },
          { type: "custom", name: "apply_patch", description: "Apply a patch", format: { type: "grammar", syntax: "lark", definition: "start: /.+/" } },
          { type: "namespace", name: "mcp", tools: [{ type: "function", name: "mcp__files__list", parameters: { type: "object", properties: {} } }] },
          { type: "web_search", external_web_access: false },
        ],
        input: [
          { type: "message", role: "developer", content: [{ type: "input_text", text: "<permissions>read-only</permissions>" }] },
          { type: "message", role: "user", content: [{ type: "input_text", text: "list files" }] },
        ],
      }),
    });
    expect(response.status).toBe(200);
    const declared = lastCall().body.request.tools[0].functionDeclarations.map((declaration: { name: string }) => declaration.name);
    expect(declared).toEqual(["exec_command", "apply_patch", "mcp__files__list"]);
  });

  test("a custom (freeform) tool's call comes back as custom_tool_call with its text input", async () => {
    mock.script("alice", { kind: "parts", events: [[{ functionCall: { name: "apply_patch", args: { input: "*** Begin Patch\n*** End Patch" } } }]] });
    const response = await client.responses.create({ model: "gemini-2.5-flash", input: "patch it", tools: [{ type: "custom", name: "apply_patch", description: "patch" }] as never });
    expect(response.output[0]).toMatchObject({ type: "custom_tool_call", name: "apply_patch", input: "*** Begin Patch\n*** End Patch" });
  });

  test("a stored answer belongs to the client key that made it: another key cannot read, continue or delete it", async () => {
    const workspace = makeWorkspace();
    addReadyAccount(mock, workspace, "keyed");
    const keyed = await startGateway(testConfig(mock, workspace, { health_check_interval_s: 0 }));
    try {
      const key = async (name: string) => (await readJson(await fetch(`${keyed.url}/admin/api/keys`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) }))).key as string;
      const alice = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: await key("alice"), maxRetries: 0 });
      const bob = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: await key("bob"), maxRetries: 0 });
      const mine = await alice.responses.create({ model: "gemini-2.5-flash", input: "private" });
      expect((await bob.responses.retrieve(mine.id).catch((error) => error)).status).toBe(404);
      expect((await bob.responses.create({ model: "gemini-2.5-flash", input: "x", previous_response_id: mine.id }).catch((error) => error)).code).toBe("previous_response_not_found");
      expect((await bob.responses.delete(mine.id).catch((error) => error)).status).toBe(404);
      expect((await alice.responses.retrieve(mine.id)).id).toBe(mine.id);
    } finally {
      await keyed.stop();
    }
  });

  test("a model an OpenAI-compatible server serves answers in Responses form too (translated through the hub)", async () => {
    const { MockOpenAI } = await import("./mock/openai.ts");
    const upstream = new MockOpenAI(["sk-resp"]);
    const workspace = makeWorkspace();
    const local = await startGateway(testConfig(mock, workspace, { health_check_interval_s: 0, openai_upstreams: [{ name: "kimi", base_url: upstream.baseURL, api_keys: ["sk-resp"], models: ["kimi-k2"], model_mapping: {}, profile: "kimi" }] }));
    try {
      const viaKimi = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const response = await viaKimi.responses.create({ model: "kimi-k2", input: "hello kimi" });
      expect(response.output_text).toBe("Echo: hello kimi");
      expect(upstream.calls.at(-1)!.path).toBe("/v1/chat/completions");
      const stream = await viaKimi.responses.create({ model: "kimi-k2", input: "stream please", stream: true });
      let text = "";
      for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
      expect(text).toBe("Echo: stream please");
    } finally {
      await local.stop();
      upstream.stop();
    }
  });

  test("bad input in OpenAI's error shape", async () => {
    const error = await client.responses.create({ model: "gemini-2.5-flash", input: [{ type: "bogus_item" }] as never }).catch((caught) => caught);
    expect(error.status).toBe(400);
    expect(error.param).toBe("input[0].type");
  });
});

describe("Vercel AI SDK: @ai-sdk/openai's default provider speaks Responses", () => {
  const provider = () => createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused" });

  test("generateText", async () => {
    const result = await generateText({ model: provider()("gemini-2.5-flash"), prompt: "Hello from the AI SDK" });
    expect(result.text).toBe("Echo: Hello from the AI SDK");
    expect(result.usage.inputTokens).toBe(5);
  });

  test("streamText with a tool: the SDK runs it and finishes the answer", async () => {
    mock.script("alice",
      { kind: "parts", events: [[{ text: "Checking." }], [{ functionCall: { name: "get_weather", args: { city: "Lima" } } }]] },
      { kind: "reply", chunks: ["It is ", "warm in Lima."] });
    const seen: string[] = [];
    const result = streamText({
      model: provider()("gemini-2.5-flash"),
      prompt: "Weather in Lima?",
      tools: {
        get_weather: tool({
          description: "weather",
          inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
          execute: async ({ city }) => {
            seen.push(city);
            return { city, temperature: 24 };
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    const errors: unknown[] = [];
    for await (const part of result.fullStream) if (part.type === "error") errors.push(part.error);
    expect(errors).toEqual([]);
    expect(seen).toEqual(["Lima"]);
    expect(await result.text).toContain("warm in Lima.");
  });
});
