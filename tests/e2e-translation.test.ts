// The full OpenAI ⇄ Gemini translation end to end, with real clients: the `openai` SDK and the
// Vercel AI SDK (@ai-sdk/openai-compatible) → jellycli → mock Code Assist.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { jsonSchema, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, readJson, startGateway, testConfig, type Running } from "./helpers.ts";

let mock: MockGoogle;
let gateway: Running;
let client: OpenAI;
let images: ReturnType<typeof Bun.serve>;
const PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");

const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get.weather",
    description: "Current weather",
    parameters: { $schema: "http://json-schema.org/draft-07/schema#", type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  },
};
const lastCall = () => mock.generateCalls().at(-1)!;

beforeAll(async () => {
  mock = new MockGoogle();
  const workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "t");
  images = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch: (request) => new URL(request.url).pathname === "/cat" ? new Response(PNG, { headers: { "content-type": "image/png" } }) : new Response("no", { status: 404 }),
  });
  // The test image server is on loopback, which jellycli refuses to fetch from unless allowed.
  gateway = await startGateway(testConfig(mock, workspace, { keepalive_s: 0.1, remote_images_allow_private: true }));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "x", maxRetries: 0 });
});

afterAll(async () => {
  await gateway.stop();
  mock.stop();
  images.stop(true);
});

describe("tool calls with the openai SDK", () => {
  test("non-streamed round trip: call, result, answer; names restored, results paired by id", async () => {
    mock.script("t",
      { kind: "parts", events: [[{ functionCall: { name: "get.weather", args: { city: "Paris" } } }]] },
      { kind: "reply", text: "It is 21 °C in Paris." });
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather in Paris?" }];
    const first = await client.chat.completions.create({ model: "gemini-2.5-flash", messages, tools: [weatherTool] });
    const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0]!.finish_reason).toBe("tool_calls");
    expect(first.choices[0]!.message.content).toBeNull();
    expect(call.function).toEqual({ name: "get.weather", arguments: '{"city":"Paris"}' });
    expect(call.id).toMatch(/^call_[0-9A-Za-z]{24}$/);
    expect(lastCall().body.request.tools[0].functionDeclarations[0]).toEqual({
      name: "get.weather", description: "Current weather",
      parametersJsonSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
    });

    messages.push(first.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: '{"temp":21}' });
    const second = await client.chat.completions.create({ model: "gemini-2.5-flash", messages, tools: [weatherTool] });
    expect(second.choices[0]!.message.content).toBe("It is 21 °C in Paris.");
    const contents = lastCall().body.request.contents;
    expect(contents[1].parts[0].functionCall).toEqual({ name: "get.weather", args: { city: "Paris" }, id: call.id });
    expect(contents[2].parts[0].functionResponse).toEqual({ name: "get.weather", id: call.id, response: { output: '{"temp":21}' } });
  });

  test("streamed parallel calls: one complete call per chunk, SDK accumulates both", async () => {
    mock.script("t", { kind: "parts", events: [[{ text: "Checking. " }], [{ functionCall: { name: "get.weather", args: { city: "Oslo" } } }, { functionCall: { name: "get.weather", args: { city: "Rome" } } }]] });
    const stream = client.chat.completions.stream({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "Oslo and Rome?" }], tools: [weatherTool] });
    const deltas: unknown[] = [];
    stream.on("chunk", (chunk) => deltas.push(chunk.choices[0]?.delta?.tool_calls));
    const final = await stream.finalChatCompletion();
    const calls = final.choices[0]!.message.tool_calls as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall[];
    expect(calls.map((entry) => JSON.parse(entry.function.arguments).city)).toEqual(["Oslo", "Rome"]);
    expect(new Set(calls.map((entry) => entry.id)).size).toBe(2);
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    expect(final.choices[0]!.message.content).toBe("Checking. ");
    expect(deltas.filter(Boolean)).toHaveLength(2);
  });

  test("Gemini 3: the thought signature of a call comes back on the next turn (no 400)", async () => {
    mock.script("t",
      { kind: "parts", events: [[{ functionCall: { name: "get.weather", args: { city: "Lima" } }, thoughtSignature: "c2lnLWZyb20tZ2VtaW5p" }]] },
      { kind: "reply", text: "Sunny." });
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: "user", content: "Lima?" }];
    const first = await client.chat.completions.create({ model: "gemini-3-pro-preview", messages, tools: [weatherTool], stream: false });
    const message = first.choices[0]!.message;
    // Clients that drop unknown fields still get the signature back through jellycli's memory.
    const stripped = { role: "assistant" as const, content: null, tool_calls: message.tool_calls!.map(({ id, type, function: fn }: any) => ({ id, type, function: fn })) };
    messages.push(stripped, { role: "tool", tool_call_id: message.tool_calls![0]!.id, content: "sunny" });
    const second = await client.chat.completions.create({ model: "gemini-3-pro-preview", messages, tools: [weatherTool] });
    expect(second.choices[0]!.message.content).toBe("Sunny.");
    expect(lastCall().body.request.contents[1].parts[0].thoughtSignature).toBe("c2lnLWZyb20tZ2VtaW5p");
  });

  test("an unsigned call from a client's own history gets the bypass sentinel on Gemini 3", async () => {
    const response = await client.chat.completions.create({
      model: "gemini-3-flash-preview",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_from_elsewhere", type: "function", function: { name: "get.weather", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "call_from_elsewhere", content: "ok" },
      ],
      tools: [weatherTool],
    });
    expect(response.choices[0]!.finish_reason).toBe("stop");
    expect(lastCall().body.request.contents[1].parts[0].thoughtSignature).toBe("skip_thought_signature_validator");
  });

  test("a forced tool and a named tool_choice map to ANY with the sanitised name", async () => {
    mock.script("t", { kind: "parts", events: [[{ functionCall: { name: "get.weather", args: { city: "X" } } }]] });
    await client.chat.completions.create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "go" }], tools: [weatherTool], tool_choice: { type: "function", function: { name: "get.weather" } } });
    expect(lastCall().body.request.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get.weather"] } });
  });
});

describe("structured output, images, reasoning, search", () => {
  test("json_schema response_format → responseMimeType + responseJsonSchema", async () => {
    mock.script("t", { kind: "reply", text: '{"name":"Ann","age":30}' });
    const completion = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "Ann is 30" }],
      response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema: { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false } } },
    });
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ name: "Ann", age: 30 });
    const config = lastCall().body.request.generationConfig;
    expect(config.responseMimeType).toBe("application/json");
    expect(config.responseJsonSchema.propertyOrdering).toEqual(["name", "age"]);
  });

  test("images: a data URL and an http URL (fetched by jellycli) both arrive inline", async () => {
    const dataUrl = `data:image/png;base64,${PNG.toString("base64")}`;
    await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: [
        { type: "text", text: "Same picture?" },
        { type: "image_url", image_url: { url: dataUrl } },
        { type: "image_url", image_url: { url: `http://127.0.0.1:${images.port}/cat` } },
      ] }],
    });
    const parts = lastCall().body.request.contents[0].parts;
    expect(parts[1]).toEqual({ inlineData: { mimeType: "image/png", data: PNG.toString("base64") } });
    expect(parts[2]).toEqual({ inlineData: { mimeType: "image/png", data: PNG.toString("base64") } });
  });

  test("an image URL that cannot be fetched is a 400 naming the part", async () => {
    const response = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: `http://127.0.0.1:${images.port}/missing` } }] }] });
    expect(response.status).toBe(400);
    const body = await readJson(response);
    expect(body.error.param).toBe("messages[0].content[0].image_url.url");
    // Which image failed, never what the remote said (that would make jellycli a port scanner).
    expect(body.error.message).toBe("The image at messages[0].content[0].image_url.url: it could not be fetched as an image.");
  });

  test("reasoning: includeThoughts by default, reasoning_effort → budget, thoughts → reasoning_content", async () => {
    mock.script("t", { kind: "reply", thoughts: "Let me add.", text: "4" });
    const completion = await client.chat.completions.create({ model: "gemini-2.5-pro", messages: [{ role: "user", content: "2+2" }], reasoning_effort: "low" });
    expect(lastCall().body.request.generationConfig.thinkingConfig).toEqual({ thinkingBudget: 1024, includeThoughts: true });
    const message = completion.choices[0]!.message as unknown as { content: string; reasoning_content: string };
    expect(message.content).toBe("4");
    expect(message.reasoning_content).toBe("Let me add.");
    expect(completion.usage!.completion_tokens_details!.reasoning_tokens).toBe(5);
  });

  test("-search adds Google Search; grounding comes back as url_citation annotations", async () => {
    mock.script("t", {
      kind: "parts", events: [[{ text: "Rain today." }]],
      groundingMetadata: { groundingChunks: [{ web: { uri: "https://weather.example/today", title: "weather.example" } }], groundingSupports: [{ segment: { startIndex: 0, endIndex: 11 }, groundingChunkIndices: [0] }] },
    });
    const completion = await client.chat.completions.create({ model: "gemini-2.5-flash-search", messages: [{ role: "user", content: "weather?" }] });
    expect(lastCall().body.request.tools).toEqual([{ googleSearch: {} }]);
    expect(lastCall().body.model).toBe("gemini-2.5-flash");
    expect((completion.choices[0]!.message as any).annotations).toEqual([
      { type: "url_citation", url_citation: { url: "https://weather.example/today", title: "weather.example", start_index: 0, end_index: 11 } },
    ]);
    expect(completion.model).toBe("gemini-2.5-flash-search");
  });

  test("streamed and non-streamed text are identical, CJK and emoji included", async () => {
    const pieces = ["你好，", "世界 👩‍💻", " — ça va? ", "🎉"];
    mock.script("t", { kind: "reply", chunks: pieces }, { kind: "reply", chunks: pieces });
    const whole = await client.chat.completions.create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] });
    const stream = await client.chat.completions.create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }], stream: true });
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
    expect(streamed).toBe(pieces.join(""));
    expect(whole.choices[0]!.message.content).toBe(streamed);
  });

  test("keep-alive comments flow while the upstream is silent (row 39)", async () => {
    mock.script("t", { kind: "reply", chunks: ["a", "b"], delayMs: 400 });
    const response = await chat(gateway.url, { model: "gemini-2.5-flash", stream: true, messages: [{ role: "user", content: "slow" }] });
    const body = await response.text();
    expect(body).toContain(": keep-alive\n\n");
    expect(body).toContain('"content":"b"');
  });
});

describe("errors in OpenAI's shape", () => {
  // Its own gateway: the 429 cools its only credential, which must not touch the other suites.
  let errors: Running;
  let errorClient: OpenAI;
  beforeAll(async () => {
    const workspace = makeWorkspace();
    addReadyAccount(mock, workspace, "e");
    errors = await startGateway(testConfig(mock, workspace));
    errorClient = new OpenAI({ baseURL: `${errors.url}/v1`, apiKey: "x", maxRetries: 0 });
  });
  afterAll(() => errors.stop());

  test("input too long → 400 context_length_exceeded (row 43)", async () => {
    mock.script("e", { kind: "error", status: 400, body: { error: { code: 400, message: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", status: "INVALID_ARGUMENT" } } });
    const error = await errorClient.chat.completions.create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] }).catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe("context_length_exceeded");
  });

  test("429 with RetryInfo → 429, Retry-After and rate_limit_exceeded (row 42)", async () => {
    mock.script("e", { kind: "error", status: 429, body: { error: { code: 429, message: "Resource exhausted.", status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "37s" }] } } });
    const error = await errorClient.chat.completions.create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] }).catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.headers.get("retry-after")).toBe("37");
    expect(error.code).toBe("rate_limit_exceeded");
  });
});

describe("Vercel AI SDK (@ai-sdk/openai-compatible)", () => {
  test("streamText with a tool: the SDK parses every chunk, runs the tool and finishes the answer", async () => {
    mock.script("t",
      { kind: "parts", events: [[{ text: "Let me check." }], [{ functionCall: { name: "get_weather", args: { city: "Kyiv" } } }]] },
      { kind: "reply", chunks: ["It is ", "cold in Kyiv."] });
    const provider = createOpenAICompatible({ name: "jellycli", baseURL: `${gateway.url}/v1`, apiKey: "x", includeUsage: true });
    const seen: string[] = [];
    const result = streamText({
      model: provider("gemini-2.5-flash"),
      prompt: "Weather in Kyiv?",
      tools: {
        get_weather: tool({
          description: "weather",
          inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
          execute: async ({ city }) => {
            seen.push(city);
            return { city, temperature: -3 };
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    const errors: unknown[] = [];
    for await (const part of result.fullStream) if (part.type === "error") errors.push(part.error);
    expect(errors).toEqual([]);
    expect(seen).toEqual(["Kyiv"]);
    expect(await result.text).toContain("cold in Kyiv.");
    const response = lastCall().body.request.contents.at(-1).parts[0].functionResponse;
    expect(response.name).toBe("get_weather");
    expect(JSON.parse(response.response.output)).toEqual({ city: "Kyiv", temperature: -3 });
  });
});
