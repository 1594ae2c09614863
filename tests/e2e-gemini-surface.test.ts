// The Gemini-native surface end to end with the @google/genai SDK, against each of the three
// backends (Code Assist OAuth pool, Gemini API keys, an OpenAI-compatible server), plus the
// OpenAI SDK passed straight through to the OpenAI-compatible server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { GoogleGenAI, type Content } from "@google/genai";
import OpenAI from "openai";
import { MockGoogle } from "./mock/google.ts";
import { MockOpenAI } from "./mock/openai.ts";
import { addReadyAccount, makeWorkspace, readJson, startGateway, testConfig, type Running } from "./helpers.ts";

const PASSWORD = "gemini-surface-pw";
const weather = {
  functionDeclarations: [{
    name: "get_weather", description: "Current weather",
    parametersJsonSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  }],
};

let google: MockGoogle;
let openai: MockOpenAI;
let codeAssistGateway: Running;
let apiKeyGateway: Running;
let openAIGateway: Running;
let apiKeyWorkspace: ReturnType<typeof makeWorkspace>;
const genai = (gateway: Running, apiKey = PASSWORD) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: gateway.url } });

beforeAll(async () => {
  google = new MockGoogle();
  openai = new MockOpenAI(["sk-one", "sk-two"]);
  const oauth = makeWorkspace();
  addReadyAccount(google, oauth, "ca");
  codeAssistGateway = await startGateway(testConfig(google, oauth, { password: PASSWORD, default_model: "gemini-2.5-flash" }));

  apiKeyWorkspace = makeWorkspace();
  google.addApiKey("AIza-key-one-0000000000000001", "key1");
  google.addApiKey("AIza-key-two-0000000000000002", "key2");
  apiKeyGateway = await startGateway(testConfig(google, apiKeyWorkspace, {
    password: PASSWORD, gemini_api_keys: ["AIza-key-one-0000000000000001", "AIza-key-two-0000000000000002"], gemini_api_endpoint: google.url,
  }));

  openAIGateway = await startGateway(testConfig(google, makeWorkspace(), {
    password: PASSWORD,
    openai_upstreams: [{ name: "kimi", base_url: openai.baseURL, api_keys: ["sk-one", "sk-two"], models: ["kimi-k2", "gemini-*", "deepseek/deepseek-chat", "qwen2.5:7b"], model_mapping: { "gemini-2.5-pro": "kimi-k2" }, profile: "kimi" }],
  }));
});

afterAll(async () => {
  for (const gateway of [codeAssistGateway, apiKeyGateway, openAIGateway]) await gateway.stop();
  google.stop();
  openai.stop();
});

/** The same client-side story, told against each backend. */
async function functionCallingRoundTrip(gateway: Running, model: string) {
  const ai = genai(gateway);
  const history: Content[] = [{ role: "user", parts: [{ text: "Weather in Paris?" }] }];
  const first = await ai.models.generateContent({ model, contents: history, config: { tools: [weather] } });
  const call = first.functionCalls![0]!;
  expect(call.name).toBe("get_weather");
  expect(call.args).toEqual({ city: "Paris" });
  history.push(first.candidates![0]!.content!, { role: "user", parts: [{ functionResponse: { name: call.name!, id: call.id, response: { output: "21 °C" } } }] });
  const second = await ai.models.generateContent({ model, contents: history, config: { tools: [weather] } });
  return { first, second, call };
}

describe("@google/genai → Code Assist", () => {
  test("generateContent, generateContentStream and countTokens", async () => {
    const ai = genai(codeAssistGateway);
    const answer = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hello there" });
    expect(answer.text).toBe("Echo: hello there");
    const sent = google.generateCalls().at(-1)!;
    expect(sent.path).toBe("/v1internal:generateContent");
    expect(sent.body.request.contents).toEqual([{ role: "user", parts: [{ text: "hello there" }] }]);

    google.script("ca", { kind: "reply", chunks: ["one ", "two ", "three"] });
    let streamed = "";
    for await (const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "count" })) streamed += chunk.text ?? "";
    expect(streamed).toBe("one two three");

    const counted = await ai.models.countTokens({ model: "gemini-2.5-flash", contents: "three little words" });
    expect(counted.totalTokens).toBe(3);
    expect(google.calls.at(-1)!.body).toEqual({ request: { model: "models/gemini-2.5-flash", contents: [{ role: "user", parts: [{ text: "three little words" }] }] } });
  });

  test("function calling round trip; unknown fields pass through the envelope untouched", async () => {
    google.script("ca",
      { kind: "parts", events: [[{ functionCall: { name: "get_weather", args: { city: "Paris" }, id: "fc-1" } }]] },
      { kind: "reply", text: "21 °C in Paris." });
    const { second } = await functionCallingRoundTrip(codeAssistGateway, "gemini-2.5-flash");
    expect(second.text).toBe("21 °C in Paris.");
    const request = google.generateCalls().at(-1)!.body.request;
    expect(request.contents[1].parts[0].functionCall).toEqual({ name: "get_weather", args: { city: "Paris" }, id: "fc-1" });
    expect(request.tools).toEqual([weather]);
  });

  test("Gemini CLI style: an unknown Gemini model goes to default_model, never a 404", async () => {
    const answer = await genai(codeAssistGateway).models.generateContent({ model: "gemini-9.9-ultra-helper", contents: "ping" });
    expect(answer.text).toBe("Echo: ping");
    expect(google.generateCalls().at(-1)!.body.model).toBe("gemini-2.5-flash");
  });
});

describe("@google/genai → Gemini API keys", () => {
  test("keys rotate, reach the API as x-goog-api-key, and never appear in the state file", async () => {
    const ai = genai(apiKeyGateway);
    for (let call = 0; call < 4; call++) expect((await ai.models.generateContent({ model: "gemini-2.5-flash", contents: `n${call}` })).text).toBe(`Echo: n${call}`);
    expect(google.apiKeyCalls().slice(-4).map((call) => call.account)).toEqual(["key1", "key2", "key1", "key2"]);
    expect(google.apiKeyCalls().at(-1)!.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    await apiKeyGateway.gateway.store.flush();
    const state = readFileSync(apiKeyWorkspace.stateFile, "utf8");
    expect(state).toContain('[credentials."gemini-api:');
    expect(state).not.toContain("AIza-key");
  });

  test("a key that gets 429 cools down and the other key serves", async () => {
    google.script("key1", { kind: "error", status: 429, body: { error: { code: 429, message: "Resource has been exhausted (e.g. check quota).", status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "40s" }] } } });
    const ai = genai(apiKeyGateway);
    const before = google.apiKeyCalls().length;
    for (let call = 0; call < 3; call++) await ai.models.generateContent({ model: "gemini-2.5-pro", contents: "x" });
    const used = google.apiKeyCalls().slice(before).map((call) => call.account);
    expect(used[0]).toBe("key1");
    expect(used.slice(1)).toEqual(["key2", "key2", "key2"]);
    const health = await readJson(await fetch(`${apiKeyGateway.url}/health`, { headers: { authorization: `Bearer ${PASSWORD}` } }));
    const key1 = health.details.find((entry: any) => entry.pool === "gemini_api" && entry.cooling["gemini-2.5-pro"]);
    expect(key1.file).toMatch(/^gemini-api:[0-9a-f]{8}$/);
  });

  test("streaming and function calling through the Gemini API", async () => {
    google.script("key1", { kind: "reply", chunks: ["a", "b"] });
    google.script("key2", { kind: "reply", chunks: ["a", "b"] });
    let streamed = "";
    for await (const chunk of await genai(apiKeyGateway).models.generateContentStream({ model: "gemini-2.5-flash", contents: "s" })) streamed += chunk.text ?? "";
    expect(streamed).toBe("ab");
    google.clearScripts();
    // Keys rotate between the two turns, so each turn is scripted on both keys.
    const ai = genai(apiKeyGateway);
    for (const key of ["key1", "key2"]) google.script(key, { kind: "parts", events: [[{ functionCall: { name: "get_weather", args: { city: "Oslo" } } }]] });
    const history: Content[] = [{ role: "user", parts: [{ text: "Weather in Oslo?" }] }];
    const first = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: history, config: { tools: [weather] } });
    expect(first.functionCalls![0]).toMatchObject({ name: "get_weather", args: { city: "Oslo" } });
    google.clearScripts();
    for (const key of ["key1", "key2"]) google.script(key, { kind: "reply", text: "sunny" });
    history.push(first.candidates![0]!.content!, { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "12 °C" } } }] });
    const second = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: history, config: { tools: [weather] } });
    google.clearScripts();
    expect(second.text).toBe("sunny");
    expect(google.apiKeyCalls().at(-1)!.body.contents[2].parts[0].functionResponse).toEqual({ name: "get_weather", response: { output: "12 °C" } });
  });
});

describe("@google/genai → OpenAI-compatible upstream (direction B)", () => {
  test("generateContent: mapped model, system prompt, answer and usage", async () => {
    const ai = genai(openAIGateway);
    const answer = await ai.models.generateContent({ model: "gemini-2.5-pro", contents: "hi kimi", config: { systemInstruction: "be brief", temperature: 0.3, maxOutputTokens: 100 } });
    expect(answer.text).toBe("Echo: hi kimi");
    expect(answer.usageMetadata).toMatchObject({ promptTokenCount: 11, candidatesTokenCount: 7, totalTokenCount: 18 });
    const sent = openai.calls.at(-1)!;
    expect(sent.body.model).toBe("kimi-k2");
    expect(sent.body.messages).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: "hi kimi" }]);
    // The Kimi profile leaves sampling to the platform and uses max_completion_tokens.
    expect(sent.body.temperature).toBeUndefined();
    expect(sent.body.max_completion_tokens).toBe(100);
  });

  test("streamed function calling: fragments become one whole functionCall; reasoning comes back to Kimi", async () => {
    openai.script(
      { kind: "tools", reasoning: "need weather", calls: [{ name: "get_weather", arguments: '{"city":"Paris"}' }] },
      { kind: "text", chunks: ["It is ", "21 °C."] });
    const ai = genai(openAIGateway);
    const history: Content[] = [{ role: "user", parts: [{ text: "Weather in Paris?" }] }];
    const chunks = [];
    for await (const chunk of await ai.models.generateContentStream({ model: "kimi-k2", contents: history, config: { tools: [weather], thinkingConfig: { includeThoughts: true } } })) chunks.push(chunk);
    const calls = chunks.flatMap((chunk) => chunk.functionCalls ?? []);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" }, id: "call_mock_0" });
    expect(String(chunks.at(-1)!.candidates![0]!.finishReason)).toBe("STOP");
    expect(chunks.at(-1)!.usageMetadata!.promptTokenCount).toBe(11);
    expect(chunks.some((chunk) => chunk.candidates?.[0]?.content?.parts?.some((part) => part.thought))).toBe(true);

    // Non-streamed second turn with the model turn as Gemini CLI would send it back (no thoughts).
    const modelTurn = { role: "model", parts: chunks.flatMap((chunk) => chunk.candidates![0]!.content!.parts!.filter((part) => part.functionCall)) };
    history.push(modelTurn, { role: "user", parts: [{ functionResponse: { name: "get_weather", id: "call_mock_0", response: { output: "21 °C" } } }] });
    await ai.models.generateContent({ model: "kimi-k2", contents: history, config: { tools: [weather] } });
    const replay = openai.calls.at(-1)!.body.messages;
    expect(replay[1]).toMatchObject({ role: "assistant", tool_calls: [{ id: "call_mock_0", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }], reasoning_content: "need weather" });
    expect(replay[2]).toEqual({ role: "tool", tool_call_id: "call_mock_0", content: "21 °C" });
  });

  test("model names with / and : are routed by the last colon (row 45); countTokens is estimated (row 60)", async () => {
    const ai = genai(openAIGateway);
    expect((await ai.models.generateContent({ model: "deepseek/deepseek-chat", contents: "a" })).text).toBe("Echo: a");
    expect(openai.calls.at(-1)!.body.model).toBe("deepseek/deepseek-chat");
    expect((await ai.models.generateContent({ model: "qwen2.5:7b", contents: "b" })).text).toBe("Echo: b");
    expect(openai.calls.at(-1)!.body.model).toBe("qwen2.5:7b");
    const counted = await ai.models.countTokens({ model: "kimi-k2", contents: [{ role: "user", parts: [{ text: "abcdefgh" }, { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } }] }] });
    expect(counted.totalTokens).toBe(3002);
  });

  test("upstream errors come back as Google errors with the right status; 429 carries RetryInfo (row 61)", async () => {
    openai.script({ kind: "error", status: 429, message: "Rate limit reached", headers: { "retry-after": "20" } }, { kind: "error", status: 429, message: "Rate limit reached", headers: { "retry-after": "20" } });
    // gemini-2.5-flash is served by Kimi under its own name: its cooldown leaves kimi-k2 alone.
    const response = await fetch(`${openAIGateway.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": PASSWORD },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "x" }] }] }),
    });
    expect(response.status).toBe(429);
    const body = await readJson(response);
    expect(body.error).toMatchObject({ code: 429, status: "RESOURCE_EXHAUSTED" });
    expect(body.error.details).toContainEqual({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "20s" });
  });
});

describe("Gemini REST details", () => {
  const post = (gateway: Running, path: string, body: unknown, headers: Record<string, string> = { "x-goog-api-key": PASSWORD }) =>
    fetch(`${gateway.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  test("snake_case bodies are accepted like camelCase (row 46)", async () => {
    const response = await post(codeAssistGateway, "/v1beta/models/gemini-2.5-flash:generateContent", {
      system_instruction: { parts: [{ text: "sys" }] },
      contents: [{ role: "user", parts: [{ text: "snake" }, { inline_data: { mime_type: "image/png", data: "iVBORw0KGgo=" } }] }],
      generation_config: { max_output_tokens: 10, thinking_config: { thinking_budget: 0 } },
    });
    expect(response.status).toBe(200);
    const request = google.generateCalls().at(-1)!.body.request;
    expect(request.systemInstruction).toEqual({ parts: [{ text: "sys" }] });
    expect(request.contents[0].parts[1]).toEqual({ inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } });
    expect(request.generationConfig).toEqual({ maxOutputTokens: 10, thinkingConfig: { thinkingBudget: 0 } });
  });

  test("without alt=sse the stream is one JSON array, sent progressively (row 62)", async () => {
    google.script("ca", { kind: "reply", chunks: ["x", "y"] });
    const response = await post(codeAssistGateway, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", { contents: [{ role: "user", parts: [{ text: "arr" }] }] });
    expect(response.headers.get("content-type")).toStartWith("application/json");
    const array = await readJson(response);
    expect(array.map((chunk: any) => chunk.candidates[0].content.parts[0].text)).toEqual(["x", "y"]);
  });

  test("auth: ?key= and Bearer work, a wrong key is a Google-format 401; /v1 aliases answer too", async () => {
    const body = { contents: [{ role: "user", parts: [{ text: "k" }] }] };
    expect((await post(codeAssistGateway, `/v1beta/models/gemini-2.5-flash:generateContent?key=${PASSWORD}`, body, {})).status).toBe(200);
    expect((await post(codeAssistGateway, "/v1/models/gemini-2.5-flash:generateContent", body, { authorization: `Bearer ${PASSWORD}` })).status).toBe(200);
    const wrong = await post(codeAssistGateway, "/v1beta/models/gemini-2.5-flash:generateContent", body, { "x-goog-api-key": "nope" });
    expect(wrong.status).toBe(401);
    expect((await readJson(wrong)).error).toMatchObject({ code: 401, status: "UNAUTHENTICATED" });
  });

  test("Basic auth works too; unknown request fields reach Code Assist untouched", async () => {
    const basic = `Basic ${Buffer.from(`user:${PASSWORD}`).toString("base64")}`;
    const response = await post(codeAssistGateway, "/v1beta/models/gemini-2.5-flash:generateContent", {
      contents: [{ role: "user", parts: [{ text: "b", futurePartField: { x: 1 } }] }], futureTopLevelField: [1, 2], labels: { team: "a_b" },
    }, { authorization: basic });
    expect(response.status).toBe(200);
    const request = google.generateCalls().at(-1)!.body.request;
    expect(request.futureTopLevelField).toEqual([1, 2]);
    expect(request.labels).toEqual({ team: "a_b" });
    expect(request.contents[0].parts[0].futurePartField).toEqual({ x: 1 });
  });

  test("gemini_upstream_order: when the first pool cannot serve the model, the next one does", async () => {
    const workspace = makeWorkspace();
    addReadyAccount(google, workspace, "order");
    google.addApiKey("AIza-order-key-000000000000000", "order-key");
    const gateway = await startGateway(testConfig(google, workspace, { gemini_api_keys: ["AIza-order-key-000000000000000"], gemini_api_endpoint: google.url }));
    try {
      google.script("order", { kind: "error", status: 429, body: { error: { code: 429, message: "Individual quota reached.", status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "QUOTA_EXHAUSTED", domain: "cloudcode-pa.googleapis.com" }] } } });
      const ask = () => post(gateway, "/v1beta/models/gemini-2.5-pro:generateContent", { contents: [{ role: "user", parts: [{ text: "o" }] }] }, {});
      const oauthCalls = () => google.generateCalls().filter((call) => call.account === "order").length;
      // The OAuth account answers 429 (quota), and the same request is served by the API key.
      expect((await ask()).status).toBe(200);
      expect(oauthCalls()).toBe(1);
      expect(google.apiKeyCalls().at(-1)!.account).toBe("order-key");
      // Afterwards the cooling account is skipped: the key serves directly.
      expect((await ask()).status).toBe(200);
      expect(oauthCalls()).toBe(1);
      expect(google.apiKeyCalls().filter((call) => call.account === "order-key")).toHaveLength(2);
    } finally {
      await gateway.stop();
    }
  });

  test("an empty x-goog-api-key is fine when no password is set (row 63)", async () => {
    const open = await startGateway(testConfig(google, makeWorkspace(), { gemini_api_keys: ["AIza-key-one-0000000000000001"], gemini_api_endpoint: google.url }));
    try {
      const response = await post(open, "/v1beta/models/gemini-2.5-flash:generateContent", { contents: [{ role: "user", parts: [{ text: "open" }] }] }, { "x-goog-api-key": "" });
      expect(response.status).toBe(200);
    } finally {
      await open.stop();
    }
  });

  test("bad input is a Google error body: malformed JSON, missing contents, unknown method", async () => {
    const malformed = await fetch(`${codeAssistGateway.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": PASSWORD }, body: "{oops" });
    expect(malformed.status).toBe(400);
    expect((await readJson(malformed)).error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" });
    const missing = await post(codeAssistGateway, "/v1beta/models/gemini-2.5-flash:generateContent", { prompt: "x" });
    expect((await readJson(missing)).error.message).toContain("contents");
    const unknown = await post(codeAssistGateway, "/v1beta/models/gemini-2.5-flash:predictLongRunning", {});
    expect(unknown.status).toBe(404);
  });

  test("GET /v1beta/models lists every routable model; GET one; 404 for unknown", async () => {
    const list = await readJson(await fetch(`${openAIGateway.url}/v1beta/models`, { headers: { "x-goog-api-key": PASSWORD } }));
    const names = list.models.map((model: any) => model.name);
    expect(names).toContain("models/gemini-2.5-pro");
    expect(names).toContain("models/kimi-k2");
    const one = await readJson(await fetch(`${openAIGateway.url}/v1beta/models/kimi-k2`, { headers: { "x-goog-api-key": PASSWORD } }));
    expect(one.supportedGenerationMethods).toContain("generateContent");
    expect((await fetch(`${openAIGateway.url}/v1beta/models/nope`, { headers: { "x-goog-api-key": PASSWORD } })).status).toBe(404);
  });
});

describe("OpenAI SDK → OpenAI-compatible upstream (passthrough)", () => {
  test("fields survive untouched, the key rotates, the model is mapped; streaming passes through", async () => {
    const client = new OpenAI({ baseURL: `${openAIGateway.url}/v1`, apiKey: PASSWORD, maxRetries: 0 });
    const before = openai.calls.length;
    const completion = await client.chat.completions.create({ model: "gemini-2.5-pro", messages: [{ role: "user", content: "pass" }], logit_bias: { "50256": -100 }, user: "u-7", service_tier: "auto" } as any);
    expect(completion.choices[0]!.message.content).toBe("Echo: pass");
    const sent = openai.calls.at(-1)!.body;
    expect(sent).toMatchObject({ model: "kimi-k2", logit_bias: { "50256": -100 }, user: "u-7", service_tier: "auto" });
    const stream = await client.chat.completions.create({ model: "kimi-k2", messages: [{ role: "user", content: "s" }], stream: true, stream_options: { include_usage: true } });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Echo: s");
    expect(new Set(openai.calls.slice(before).map((call) => call.key))).toEqual(new Set(["sk-one", "sk-two"]));
    const listed = [];
    for await (const model of client.models.list()) listed.push(model.id);
    expect(listed).toContain("kimi-k2");
    expect(listed).toContain("gemini-2.5-flash");
  });

  test("an upstream 401 on one key fails over to the next", async () => {
    openai.script({ kind: "error", status: 401, message: "Incorrect API key provided." });
    const client = new OpenAI({ baseURL: `${openAIGateway.url}/v1`, apiKey: PASSWORD, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: "kimi-k2", messages: [{ role: "user", content: "again" }] });
    expect(completion.choices[0]!.message.content).toBe("Echo: again");
  });
});
