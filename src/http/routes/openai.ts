// The OpenAI surface: /v1/chat/completions (streamed, non-streamed, fake-streamed) and /v1/models.
import { randomBytes } from "node:crypto";
import { randomBase62 } from "../ids.ts";
import { Elysia } from "elysia";
import type { Executor, Served } from "../../executor.ts";
import { openAIRequestToHub } from "../../formats/openai/request.ts";
import { hubResponseToOpenAI } from "../../formats/openai/response.ts";
import { hubStreamToOpenAI } from "../../formats/openai/stream.ts";
import type { SchemaProfile } from "../../formats/openai/schema.ts";
import type { ChatCompletionRequest, ReasoningField, TranslateContext } from "../../formats/openai/types.ts";
import { GatewayError } from "../../hub.ts";
import type { Logger } from "../../log.ts";
import { parseModelName } from "../../models.ts";
import { fallbackHeader } from "../fallback-header.ts";
import { modelsFor } from "../gate.ts";
import { toOpenAIErrorBody } from "../errors.ts";
import { inlineRemoteImages, type RemoteImageOptions } from "../remote-images.ts";
import { rawSSEFraming, sseFraming, streamResponse } from "../stream-response.ts";
import { streamedAnswer } from "../streaming.ts";
import { traceOf, observerFor, recordServed, recordUsage, streamEnded, type RequestTrace } from "../../request-log.ts";
import { ThoughtSignatures } from "../thought-signatures.ts";
import type { RawAnswer } from "../../upstreams/types.ts";

export interface OpenAIRouteDeps {
  executor: Executor;
  /** Every model name the gateway routes (Gemini catalogue and OpenAI upstream models). */
  listedModels: () => string[];
  keepaliveMs: number;
  fakeStreamKeepaliveMs: number;
  reasoningField: ReasoningField;
  schemaProfile: SchemaProfile;
  /** null: images given by URL are passed on as URLs (fileData) instead of fetched. */
  remoteImages: RemoteImageOptions | null;
  log: Logger;
  now: () => number;
  /** model_aliases: the model that serves a client's name (translators apply its rules). */
  resolveModel?: (name: string) => string;
}


/** POST /v1/chat/completions, served by app.ts's fast path (no router in between). */
export function chatCompletionsHandler(deps: OpenAIRouteDeps): (body: unknown, request: Request) => Promise<Response> {
  const signatures = new ThoughtSignatures();
  return (body, request) => chatCompletions(checkChatBody(body), request.signal, traceOf(request), deps, signatures);
}

/** The fields the route itself relies on; the translator validates the rest (and unknown fields pass). */
function checkChatBody(body: unknown): ChatCompletionRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw GatewayError.invalidRequest("The request body must be a JSON object.");
  const { model, messages, stream } = body as Record<string, unknown>;
  if (typeof model !== "string" || model === "") throw GatewayError.invalidRequest("Invalid `model`: expected a non-empty string naming the model", "model");
  if (!Array.isArray(messages)) throw GatewayError.invalidRequest("Invalid `messages`: expected an array of messages", "messages");
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") throw GatewayError.invalidRequest("Invalid `stream`: expected a boolean", "stream");
  return body as ChatCompletionRequest;
}

export function openAIRoutes(deps: OpenAIRouteDeps) {
  const startedAt = Math.floor(deps.now() / 1000);
  return new Elysia({ name: "routes.openai" })
    .get("/v1/models", ({ request }) => {
      const models = modelsFor(request, deps.listedModels());
      // Anthropic SDKs list models at the same path; they say so with anthropic-version.
      if (request.headers.has("anthropic-version")) {
        const created = new Date(startedAt * 1000).toISOString();
        const data = models.map((id) => ({ type: "model", id, display_name: id, created_at: created }));
        return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
      }
      return { object: "list", data: models.map((id) => ({ id, object: "model", created: startedAt, owned_by: "jellycli" })) };
    });
}

async function chatCompletions(body: ChatCompletionRequest, signal: AbortSignal, trace: RequestTrace | undefined, deps: OpenAIRouteDeps, signatures: ThoughtSignatures): Promise<Response> {
  const observe = observerFor(trace);
  const forwarded = deps.executor.passthrough({ model: body.model, body, signal, observe });
  if (forwarded) return passthroughResponse(await forwarded, trace);

  const model = parseModelName(deps.resolveModel?.(body.model) ?? body.model).base;
  const messages = deps.remoteImages ? await inlineRemoteImages(body.messages, deps.remoteImages) : body.messages;
  const { request, toolNames, warnings } = openAIRequestToHub({ ...body, messages: messages as ChatCompletionRequest["messages"] }, {
    model,
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
    onToolCall: (call) => signatures.rememberFrom([call]),
  };
  const input = { model: body.model, request, signal, observe };

  if (body.stream !== true) {
    const served = await deps.executor.generate(input);
    recordServed(trace, served);
    const completion = hubResponseToOpenAI(served.value, context);
    recordUsage(trace, served.value.usageMetadata);
    return Response.json(completion, { headers: fallbackHeader(served) });
  }
  const answer = await streamedAnswer(deps.executor, input, deps, trace);
  const chunks = hubStreamToOpenAI(answer.chunks, context, { includeUsage: body.stream_options?.include_usage === true });
  return streamResponse(chunks, sseFraming(openAIError, "[DONE]"), {
    keepaliveMs: answer.keepaliveMs, primeKeepalive: answer.primeKeepalive, headers: answer.headers, onEnd: streamEnded(trace),
  });
}

/** OpenAI client, OpenAI-compatible upstream: the upstream's bytes, framed like every other stream. */
function passthroughResponse(served: Served<RawAnswer>, trace: RequestTrace | undefined): Response {
  recordServed(trace, served);
  const { body, contentType, streamed } = served.value;
  return streamResponse(body, rawSSEFraming(openAIError, contentType), {
    headers: streamed ? fallbackHeader(served) : { ...fallbackHeader(served), "cache-control": "no-store" },
    onEnd: streamed ? streamEnded(trace) : undefined,
  });
}

const openAIError = (error: GatewayError) => toOpenAIErrorBody(error);
