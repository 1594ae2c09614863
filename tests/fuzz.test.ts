// A seeded fuzz of every surface: valid OpenAI chat, Gemini, Anthropic Messages and OpenAI Responses requests, each mangled in one to three
// places (nulls, wrong types, bad %-escapes, broken data: URLs and $refs, deep nesting, odd model
// names). Every answer must be a well-formed error in the surface's own format with a 4xx status
// — or a success — never a 5xx, never a hang.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MockGoogle } from "./mock/google.ts";
import { MockOpenAI } from "./mock/openai.ts";
import { addReadyAccount, makeWorkspace, startGateway, testConfig, type Running } from "./helpers.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const CASES = Number(process.env.FUZZ_CASES ?? 4000);

let google: MockGoogle;
let openai: MockOpenAI;
let gateway: Running;

beforeAll(async () => {
  google = new MockGoogle();
  openai = new MockOpenAI(["sk-fuzz"]);
  const workspace = makeWorkspace();
  addReadyAccount(google, workspace, "fuzz");
  gateway = await startGateway(testConfig(google, workspace, {
    health_check_interval_s: 0, log_requests: "off", fetch_remote_images: false,
    openai_upstreams: [{ name: "kimi", base_url: openai.baseURL, api_keys: ["sk-fuzz"], models: ["kimi-k2"], model_mapping: {}, profile: "kimi" }],
  }));
});

afterAll(async () => {
  await gateway.stop();
  google.stop();
  openai.stop();
});

/** mulberry32: small, fast and the same sequence for the same seed. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const schema = { type: "object", properties: { city: { type: "string" }, when: { anyOf: [{ type: "string" }, { type: "null" }] }, nested: { $ref: "#/$defs/n" } }, required: ["city"], $defs: { n: { type: "object", properties: { x: { type: "integer", enum: [1, 2] } } } } };
const PNG = "data:image/png;base64,iVBORw0KGgo=";

const openAIBodies = (): Record<string, unknown>[] => [
  { model: "gemini-2.5-flash", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], temperature: 0.2, max_tokens: 50, stop: ["x"] },
  { model: "gemini-3-pro-preview", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: PNG, detail: "high" } }] }] },
  {
    model: "gemini-2.5-pro", tools: [{ type: "function", function: { name: "weather", description: "w", parameters: schema } }], tool_choice: { type: "function", function: { name: "weather" } },
    messages: [{ role: "user", content: "weather?" }, { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: "{\"city\":\"Paris\"}" } }] }, { role: "tool", tool_call_id: "c1", content: "sunny" }],
  },
  { model: "gemini-2.5-flash-search", reasoning_effort: "low", response_format: { type: "json_schema", json_schema: { name: "r", schema } }, messages: [{ role: "user", content: "json" }], n: 1, logprobs: true, top_logprobs: 2 },
  { model: "kimi-k2", messages: [{ role: "user", content: "passthrough" }], stream: false },
];

const geminiBodies = (): Record<string, unknown>[] => [
  { contents: [{ role: "user", parts: [{ text: "hi" }] }], generationConfig: { temperature: 0.5, thinkingConfig: { includeThoughts: true, thinkingBudget: 128 } } },
  {
    systemInstruction: { parts: [{ text: "sys" }] },
    contents: [{ role: "user", parts: [{ text: "weather" }] }, { role: "model", parts: [{ functionCall: { name: "weather", args: { city: "Paris" } } }] }, { role: "user", parts: [{ functionResponse: { name: "weather", response: { output: "sunny" } } }] }],
    tools: [{ functionDeclarations: [{ name: "weather", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } } } }] }],
    toolConfig: { functionCallingConfig: { mode: "AUTO", allowedFunctionNames: ["weather"] } },
  },
  { contents: [{ role: "user", parts: [{ inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } }, { text: "what is it" }] }], safetySettings: [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_NONE" }] },
  { contents: [{ role: "user", parts: [{ text: "snake" }] }], generation_config: { max_output_tokens: 20, response_mime_type: "application/json" } },
];
const geminiPaths = [
  "gemini-2.5-flash:generateContent", "gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini-2.5-flash:streamGenerateContent", "gemini-2.5-flash:countTokens",
  "kimi-k2:generateContent", "kimi-k2:streamGenerateContent?alt=sse", "gemini-2.5-flash-nothinking-fake-stream:streamGenerateContent?alt=sse",
];
const anthropicBodies = (): Record<string, unknown>[] => [
  { model: "claude-sonnet-4-5", max_tokens: 50, system: [{ type: "text", text: "sys" }], messages: [{ role: "user", content: [{ type: "text", text: "hi" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }] }] },
  {
    model: "gemini-3-flash-preview", max_tokens: 50, stream: true, thinking: { type: "enabled", budget_tokens: 1024 }, tools: [{ name: "weather", input_schema: schema }], tool_choice: { type: "tool", name: "weather" },
    messages: [{ role: "user", content: "weather?" }, { role: "assistant", content: [{ type: "thinking", thinking: "t", signature: "s" }, { type: "tool_use", id: "t1", name: "weather", input: { city: "Paris" } }] }, { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "sunny" }], is_error: false }] }],
  },
  { model: "claude-haiku-4-5", max_tokens: 10, stop_sequences: ["x"], messages: [{ role: "user", content: "short" }, { role: "system", content: "reminder" }] },
];
const responsesBodies = (): Record<string, unknown>[] => [
  { model: "gemini-2.5-flash", instructions: "brief", input: "hi", max_output_tokens: 50, reasoning: { effort: "low", summary: "auto" } },
  {
    model: "gemini-2.5-pro", stream: true, tools: [{ type: "function", name: "weather", parameters: schema }, { type: "custom", name: "patch" }, { type: "web_search" }], tool_choice: "auto",
    input: [{ role: "user", content: [{ type: "input_text", text: "weather?" }, { type: "input_image", image_url: PNG }] }, { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gemini-thought-signature:s" }, { type: "function_call", call_id: "c1", name: "weather", arguments: "{\"city\":\"Paris\"}" }, { type: "function_call_output", call_id: "c1", output: "sunny" }],
  },
  { model: "gemini-2.5-flash", input: [{ type: "message", role: "developer", content: "rules" }, { role: "user", content: "json" }], text: { format: { type: "json_schema", name: "r", schema } }, store: false },
];
const oddModels = ["gemini-2.5-flash%ZZ", "..%2F..%2Fx", "gemini%00", "models/", "a".repeat(300), "ünïcödé-model", "gemini-2.5-flash?x=1", "-search", "__proto__", "constructor"];

function mangle(body: unknown, next: () => number): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const nests = (depth: number): unknown => (depth === 0 ? "deep" : next() < 0.5 ? [nests(depth - 1)] : { a: nests(depth - 1) });
  const replacements: (() => unknown)[] = [
    () => null, () => 0, () => -1, () => 1e308, () => "", () => "%", () => "%E0%A4%A", () => "data:,%ZZ", () => "data:image/png;base64,",
    () => ({ $ref: "#/$defs/%ZZ" }), () => ({ $ref: "#/$defs/missing" }), () => [], () => ({}), () => [null], () => nests(40), () => "x".repeat(5000),
    () => true, () => ({ type: "image_url", image_url: { url: "data:;base64,@@" } }), () => ({ anyOf: [null, 1] }), () => [{}], () => "\u0000\ud800",
  ];
  const paths: (string | number)[][] = [];
  const walk = (value: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(value)) value.forEach((item, index) => walk(item, [...path, index]));
    else if (typeof value === "object" && value !== null) for (const [key, inner] of Object.entries(value)) walk(inner, [...path, key]);
  };
  walk(body, []);
  // Earlier mangles may have left nothing below the root to mangle.
  if (paths.length < 2) return body;
  const target = pick(paths.slice(1));
  const parent = target.slice(0, -1).reduce<any>((node, key) => node[key], body);
  const key = target.at(-1)!;
  const roll = next();
  if (roll < 0.15 && !Array.isArray(parent)) delete parent[key];
  else if (roll < 0.25) parent[key] = [parent[key]];
  else parent[key] = pick(replacements)();
  return body;
}

describe("fuzz", () => {
  test(`${CASES} mangled requests over every surface: no 5xx, no hang, only well-formed errors`, async () => {
    const next = random(SEED);
    const failures: string[] = [];
    let ok = 0;
    let refused = 0;
    const one = async (index: number) => {
      const roll = next();
      const surface = roll < 0.3 ? "openai" : roll < 0.6 ? "gemini" : roll < 0.8 ? "anthropic" : "responses";
      const templates = { openai: openAIBodies, gemini: geminiBodies, anthropic: anthropicBodies, responses: responsesBodies }[surface]();
      let body: unknown = templates[Math.floor(next() * templates.length)];
      for (let count = 1 + Math.floor(next() * 3); count > 0; count--) body = mangle(body, next);
      let path = { openai: "/v1/chat/completions", anthropic: "/v1/messages", responses: "/v1/responses", gemini: `/v1beta/models/${geminiPaths[Math.floor(next() * geminiPaths.length)]}` }[surface];
      if (surface === "gemini" && next() < 0.1) path = `/v1beta/models/${oddModels[Math.floor(next() * oddModels.length)]}:generateContent`;
      if (surface !== "gemini" && next() < 0.05) (body as Record<string, unknown>).model = oddModels[Math.floor(next() * oddModels.length)];
      const text = next() < 0.03 ? JSON.stringify(body).slice(0, -3) : JSON.stringify(body);
      if (process.env.FUZZ_TRACE) console.error(`#${index} ${path} ${text.slice(0, 400)}`);
      let response: Response;
      let answer: string;
      try {
        response = await fetch(`${gateway.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: text, signal: AbortSignal.timeout(10_000) });
        answer = await response.text();
      } catch (error) {
        failures.push(`#${index} ${path}: no answer (${(error as Error).name}) for ${text.slice(0, 300)}`);
        return;
      }
      if (response.status >= 500) {
        failures.push(`#${index} ${path}: ${response.status} ${answer.slice(0, 200)} for ${text.slice(0, 300)}`);
        return;
      }
      if (response.status >= 400) {
        refused++;
        const parsed = JSON.parse(answer) as { type?: string; error?: Record<string, unknown> };
        const error = parsed.error;
        const wellFormed = surface === "openai" || surface === "responses"
          ? typeof error?.message === "string" && typeof error.type === "string" && "param" in error && "code" in error
          : surface === "anthropic"
            ? parsed.type === "error" && typeof error?.type === "string" && typeof error.message === "string"
            : typeof error?.message === "string" && error.code === response.status && typeof error.status === "string";
        if (!wellFormed) failures.push(`#${index} ${path}: malformed ${response.status} error body ${answer.slice(0, 200)}`);
        return;
      }
      ok++;
      // A stream that started may still end with an in-band error; it must be a well-formed one.
      if (answer.includes('"error"') && !answer.includes('"message"')) failures.push(`#${index} ${path}: malformed in-band error ${answer.slice(0, 200)}`);
    };
    let index = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (index < CASES) await one(index++);
    }));
    if (process.env.FUZZ_TRACE) console.error(`fuzz: ${ok} answered, ${refused} refused with 4xx, ${failures.length} failures`);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(ok + refused).toBe(CASES);
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
  }, 60_000);
});
