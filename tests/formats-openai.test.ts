// Golden fixtures for the translators (OpenAI and Anthropic ⇄ hub, hub ⇄ OpenAI upstreams): tests/fixtures/<translator>/<case>.json holds
// {input, expected} (plus options). JELLYCLI_UPDATE_GOLDEN=1 rewrites `expected`; review the diff.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GatewayError } from "../src/hub.ts";
import { openAIRequestToHub } from "../src/formats/openai/request.ts";
import { hubResponseToOpenAI } from "../src/formats/openai/response.ts";
import { hubStreamToOpenAI } from "../src/formats/openai/stream.ts";
import type { ReasoningField, TranslateContext } from "../src/formats/openai/types.ts";
import type { RequestOptions } from "../src/formats/openai/request.ts";
import { applyVariant } from "../src/formats/variant.ts";
import { parseModelName } from "../src/models.ts";
import { geminiCountTokensToHub, geminiRequestToHub } from "../src/formats/gemini/request.ts";
import { hubRequestToOpenAI } from "../src/formats/openai/upstream/request.ts";
import { openAIResponseToHub } from "../src/formats/openai/upstream/response.ts";
import { openAIStreamToHub } from "../src/formats/openai/upstream/stream.ts";
import { anthropicRequestToHub } from "../src/formats/anthropic/request.ts";
import { hubResponseToAnthropic } from "../src/formats/anthropic/response.ts";
import { hubStreamToAnthropic } from "../src/formats/anthropic/stream.ts";
import type { AnthropicContext } from "../src/formats/anthropic/types.ts";
import { hubEmbeddingsToOpenAI, openAIEmbeddingsToHub } from "../src/formats/openai/embeddings.ts";
import { responsesRequestToChat } from "../src/formats/responses/request.ts";
import { hubResponseToResponses, type ResponsesContext } from "../src/formats/responses/response.ts";
import { hubStreamToResponses } from "../src/formats/responses/stream.ts";

function responsesContext(fixture: { model?: string; custom_tools?: string[] } = {}): ResponsesContext {
  let ids = 0;
  return {
    responseId: "test", createdAtSeconds: 0, requestedModel: fixture.model ?? "gemini-2.5-flash", makeId: (prefix) => `${prefix}_test_${++ids}`,
    toolName: (name) => name, customTools: new Set(fixture.custom_tools ?? []), echo: { store: true },
  };
}

function anthropicContext(fixture: { model?: string; tool_names?: Record<string, string> } = {}): AnthropicContext {
  let ids = 0;
  return { requestedModel: fixture.model ?? "claude-sonnet-4-5", messageId: "test-id", makeToolUseId: () => `toolu_test_${++ids}`, toolName: (name) => fixture.tool_names?.[name] ?? name };
}

const FIXTURES = join(import.meta.dir, "fixtures");
const UPDATE = process.env.JELLYCLI_UPDATE_GOLDEN === "1";
/** A fixed context; fixtures may set the model, the reasoning field and the request's tool-name map. */
function context(fixture: { model?: string; reasoning_field?: ReasoningField; tool_names?: Record<string, string> } = {}): TranslateContext {
  let ids = 0;
  return {
    requestedModel: fixture.model ?? "gemini-2.5-pro",
    responseId: "test-id",
    createdAtSeconds: 0,
    makeToolCallId: () => `call_test_${++ids}`,
    toolNames: { toOpenAI: (name) => fixture.tool_names?.[name] ?? name },
    reasoningField: fixture.reasoning_field,
  };
}

/** Direction B: tool names the request translation would have produced, and the reported model. */
function upstreamContext(fixture: { tool_names?: Record<string, string>; model?: string }) {
  return { toolNames: { decode: (name: string) => fixture.tool_names?.[name] ?? name }, modelVersion: fixture.model ?? "gemini-2.5-pro" };
}

/** Request fixtures: options derive from the model name like the route does; `options` overrides. */
function requestOptions(fixture: { input: { model: string }; options?: object; signatures?: Record<string, string> }): RequestOptions {
  const variant = parseModelName(fixture.input.model);
  return {
    model: variant.base,
    signatureFor: (id) => fixture.signatures?.[id],
    ...fixture.options,
  };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function* replay<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

/** Errors are part of the contract too: a fixture may expect {error: {status, param, message}}. */
async function run(translate: () => unknown | Promise<unknown>): Promise<unknown> {
  try {
    return await translate();
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    return { error: { status: error.status, param: error.param, message: error.message } };
  }
}

const translators: Record<string, (fixture: any) => Promise<unknown>> = {
  "openai-request": (fixture) => run(() => {
    const options = requestOptions(fixture);
    const { request: translated, warnings } = openAIRequestToHub(fixture.input, options);
    // What the executor does next, whichever surface the request came from.
    const request = applyVariant(translated, parseModelName(fixture.input.model), options.model);
    return { request, warnings };
  }),
  "openai-response": (fixture) => run(() => hubResponseToOpenAI(fixture.input, context(fixture))),
  "openai-stream": (fixture) => run(() => collect(hubStreamToOpenAI(replay(fixture.input), context(fixture), { includeUsage: fixture.include_usage === true }))),
  // Direction B: Gemini clients in front of OpenAI-compatible upstreams.
  "gemini-request": (fixture) => run(() => (fixture.count_tokens ? geminiCountTokensToHub(fixture.input) : geminiRequestToHub(fixture.input))),
  "openai-upstream-request": (fixture) => run(() => {
    const { body, warnings } = hubRequestToOpenAI(fixture.input, { model: fixture.model ?? "upstream-model", profile: fixture.profile ?? "generic", stream: fixture.stream === true });
    return { body, warnings };
  }),
  "openai-upstream-response": (fixture) => run(() => openAIResponseToHub(fixture.input, upstreamContext(fixture))),
  "openai-upstream-stream": (fixture) => run(() => collect(openAIStreamToHub(replay(fixture.input), upstreamContext(fixture)))),
  "openai-embeddings": (fixture) => run(() => {
    const { requests, base64 } = openAIEmbeddingsToHub(fixture.input);
    return { requests, response: fixture.upstream ? hubEmbeddingsToOpenAI(fixture.upstream, { model: fixture.input.model, base64, promptTokens: 3 }) : undefined };
  }),
  "responses-request": (fixture) => run(() => {
    const items = new Map<string, Record<string, unknown>>(Object.entries(fixture.stored_items ?? {}));
    const { chat, inputItems, customTools, warnings } = responsesRequestToChat(fixture.input, fixture.prior ?? [], (id) => items.get(id));
    return { chat, inputItems, customTools: [...customTools], warnings };
  }),
  "responses-response": (fixture) => run(() => hubResponseToResponses(fixture.input, responsesContext(fixture))),
  "responses-stream": (fixture) => run(() => collect(hubStreamToResponses(replay(fixture.input), responsesContext(fixture)))),
  "anthropic-request": (fixture) => run(() => {
    const { request, warnings } = anthropicRequestToHub(fixture.input, { model: fixture.served_model ?? "gemini-2.5-pro", schemaProfile: "json_schema", signatureFor: (id) => fixture.signatures?.[id] });
    return { request, warnings };
  }),
  "anthropic-response": (fixture) => run(() => hubResponseToAnthropic(fixture.input, anthropicContext(fixture))),
  "anthropic-stream": (fixture) => run(() => collect(hubStreamToAnthropic(replay(fixture.input), anthropicContext(fixture)))),
};

for (const [translator, translate] of Object.entries(translators)) {
  describe(translator, () => {
    const files = readdirSync(join(FIXTURES, translator)).filter((name) => name.endsWith(".json")).sort();
    test("has cases", () => expect(files.length).toBeGreaterThan(0));
    for (const file of files) {
      test(file.replace(/\.json$/, ""), async () => {
        const path = join(FIXTURES, translator, file);
        const fixture = JSON.parse(readFileSync(path, "utf8"));
        const actual = JSON.parse(JSON.stringify(await translate(fixture)));
        if (UPDATE) {
          writeFileSync(path, `${JSON.stringify({ ...fixture, expected: actual }, null, 2)}\n`);
          return;
        }
        expect(fixture.expected).toBeDefined();
        expect(actual).toEqual(fixture.expected);
      });
    }
  });
}

describe("stream translator and UTF-8", () => {
  test("text split at every position (surrogate pairs included) comes out identical", async () => {
    const text = "naïve 你好 👋🏽 done";
    for (let cut = 1; cut < text.length; cut++) {
      const chunks = [text.slice(0, cut), text.slice(cut)].map((piece, index) => ({
        candidates: [{ content: { role: "model", parts: [{ text: piece }] }, ...(index === 1 ? { finishReason: "STOP" } : {}) }],
      }));
      const out = await collect(hubStreamToOpenAI(replay(chunks), context(), { includeUsage: false }));
      const deltas = out.map((chunk) => chunk.choices[0]?.delta.content ?? "");
      expect(deltas.join("")).toBe(text);
      // No delta may end in half a surrogate pair.
      for (const delta of deltas) expect(/[\uD800-\uDBFF]$/.test(delta)).toBe(false);
    }
  });
});

describe("upstream bytes → SSE parser → stream translator", () => {
  test("an SSE body split at every byte boundary yields the identical text", async () => {
    const { parseSSE } = await import("../src/upstreams/sse-parse.ts");
    const text = "Grüße, 世界! 🎉👩‍💻 ok";
    const events = [...text].reduce<string[]>((pieces, char, index) => {
      if (index % 3 === 0) pieces.push("");
      pieces[pieces.length - 1] += char;
      return pieces;
    }, []);
    const body = new TextEncoder().encode(events.map((piece) => `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: piece }] } }] })}\r\n\r\n`).join(""));
    for (let cut = 1; cut < body.length; cut++) {
      async function* twoReads() {
        yield body.slice(0, cut);
        yield body.slice(cut);
      }
      async function* hub() {
        for await (const event of parseSSE(twoReads())) yield JSON.parse(event.data);
      }
      const out = await collect(hubStreamToOpenAI(hub(), context(), { includeUsage: false }));
      expect(out.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")).toBe(text);
    }
  });
});
