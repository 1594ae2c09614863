// The OpenAI surface: /v1/chat/completions (streamed, non-streamed, fake-streamed) and /v1/models.
import { randomBytes } from "node:crypto";
import { Elysia, t } from "elysia";
import type { Executor } from "../../executor.ts";
import { openAIRequestToHub } from "../../formats/openai/request.ts";
import { hubResponseToOpenAI } from "../../formats/openai/response.ts";
import { hubStreamToOpenAI } from "../../formats/openai/stream.ts";
import type { SchemaProfile } from "../../formats/openai/schema.ts";
import type { ChatCompletionChunk, ChatCompletionRequest, ReasoningField, TranslateContext } from "../../formats/openai/types.ts";
import type { GenerateContentResponse } from "../../hub.ts";
import type { Logger } from "../../log.ts";
import { parseModelName } from "../../models.ts";
import { clientAuth } from "../auth.ts";
import { fallbackHeader } from "../fallback-header.ts";
import { streamFailure, toOpenAIErrorBody } from "../errors.ts";
import { inlineRemoteImages } from "../remote-images.ts";
import { sseResponse } from "../sse.ts";
import { currentTrace } from "../../request-log.ts";
import { ThoughtSignatures } from "../thought-signatures.ts";
import type { OpenAICompatUpstream } from "../../upstreams/openai-compat.ts";

export interface OpenAIRouteDeps {
  executor: Executor;
  passwords: readonly string[];
  /** Every model name the gateway routes (Gemini catalogue and OpenAI upstream models). */
  listedModels: () => string[];
  keepaliveMs: number;
  fakeStreamKeepaliveMs: number;
  reasoningField: ReasoningField;
  schemaProfile: SchemaProfile;
  /** null: images given by URL are passed on as URLs (fileData) instead of fetched. */
  remoteImages: { fetch: typeof fetch; maxBytes: number; timeoutMs: number } | null;
  log: Logger;
  now: () => number;
}

// Minimal and open: Elysia strips undeclared fields otherwise, and the translator validates the rest.
const chatRequestSchema = t.Object(
  { model: t.String({ minLength: 1 }), messages: t.Array(t.Any()), stream: t.Optional(t.Union([t.Boolean(), t.Null()])) },
  { additionalProperties: true },
);

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function openAIRoutes(deps: OpenAIRouteDeps) {
  const startedAt = Math.floor(deps.now() / 1000);
  const signatures = new ThoughtSignatures();
  return new Elysia({ name: "routes.openai" })
    .use(clientAuth(deps.passwords))
    .post("/v1/chat/completions", ({ body, request }) => chatCompletions(body as ChatCompletionRequest, request.signal, deps, signatures), { body: chatRequestSchema })
    .get("/v1/models", () => ({
      object: "list",
      data: deps.listedModels().map((id) => ({ id, object: "model", created: startedAt, owned_by: "jellycli" })),
    }));
}

async function chatCompletions(body: ChatCompletionRequest, signal: AbortSignal, deps: OpenAIRouteDeps, signatures: ThoughtSignatures): Promise<Response> {
  if (deps.executor.route(body.model).kind === "openai") return passthrough(body, signal, deps);
  const variant = parseModelName(body.model);
  const messages = deps.remoteImages ? await inlineRemoteImages(body.messages, deps.remoteImages) : body.messages;
  const { request, toolNames, warnings } = openAIRequestToHub({ ...body, messages: messages as ChatCompletionRequest["messages"] }, {
    model: variant.base,
    search: variant.search,
    thinking: variant.thinking,
    schemaProfile: deps.schemaProfile,
    reasoningField: deps.reasoningField,
    signatureFor: (id) => signatures.recall(id),
  });
  if (warnings.length > 0) deps.log.debug("request translated with warnings", { model: body.model, warnings });
  const context: TranslateContext = {
    requestedModel: body.model,
    responseId: randomBytes(12).toString("hex"),
    createdAtSeconds: Math.floor(deps.now() / 1000),
    makeToolCallId: () => `call_${randomBase62(24)}`,
    toolNames,
    reasoningField: deps.reasoningField,
  };
  const input = { model: body.model, request, signal };
  const streamOptions = { includeUsage: body.stream_options?.include_usage === true };

  if (body.stream !== true) {
    const served = await deps.executor.generate(input);
    const completion = hubResponseToOpenAI(served.value, context);
    const trace = currentTrace();
    if (trace) trace.tokens = completion.usage?.total_tokens;
    for (const choice of completion.choices) signatures.rememberFrom(choice.message.tool_calls);
    return Response.json(completion, { headers: fallbackHeader(served) });
  }
  const remembering = (chunks: AsyncIterable<ChatCompletionChunk>) => rememberSignatures(chunks, signatures);
  if (variant.fakeStream) {
    const answer = deps.executor.generate(input);
    answer.catch(() => {}); // observed below; this only keeps an abandoned rejection quiet
    // An answer (or a refusal) that comes quickly still gets a proper status; after that, keep-alives.
    const early = await Promise.race([answer, Bun.sleep(deps.fakeStreamKeepaliveMs).then(() => undefined)]);
    const whole = (async function* (): AsyncGenerator<GenerateContentResponse> {
      yield (early ?? (await answer)).value;
    })();
    return openAIEventStream(remembering(hubStreamToOpenAI(whole, context, streamOptions)), deps.fakeStreamKeepaliveMs, early ? fallbackHeader(early) : {});
  }
  const served = await deps.executor.stream(input);
  return openAIEventStream(remembering(hubStreamToOpenAI(served.value, context, streamOptions)), deps.keepaliveMs, fallbackHeader(served));
}

/** OpenAI client, OpenAI-compatible upstream: forwarded as is (model mapped, key rotated). */
async function passthrough(body: ChatCompletionRequest, signal: AbortSignal, deps: OpenAIRouteDeps): Promise<Response> {
  const served = await deps.executor.call({ model: body.model, signal }, (attempt, upstream) =>
    (upstream as OpenAICompatUpstream).passthrough({ body, model: attempt.model, apiKey: attempt.auth.apiKey, signal: attempt.signal }));
  for (const [name, value] of Object.entries(fallbackHeader(served))) served.value.headers.set(name, value);
  return served.value;
}

async function* rememberSignatures(chunks: AsyncIterable<ChatCompletionChunk>, signatures: ThoughtSignatures): AsyncGenerator<ChatCompletionChunk> {
  for await (const chunk of chunks) {
    for (const choice of chunk.choices) signatures.rememberFrom(choice.delta.tool_calls);
    yield chunk;
  }
}

function openAIEventStream(chunks: AsyncIterable<object>, keepaliveMs: number, headers: Record<string, string>): Response {
  return sseResponse(chunks, {
    keepaliveMs,
    done: "[DONE]",
    errorEvent: (error) => toOpenAIErrorBody(streamFailure(error)),
  }, headers);
}

function randomBase62(length: number): string {
  return Array.from(randomBytes(length), (byte) => BASE62[byte % 62]).join("");
}
