// The Anthropic surface: POST /v1/messages (streamed and not) and /v1/messages/count_tokens, for
// Claude Code and the Anthropic SDKs. Served by app.ts's fast path, like chat completions.
import { randomBase62 } from "../ids.ts";
import type { Executor } from "../../executor.ts";
import { anthropicRequestToHub } from "../../formats/anthropic/request.ts";
import { hubResponseToAnthropic } from "../../formats/anthropic/response.ts";
import { hubStreamToAnthropic } from "../../formats/anthropic/stream.ts";
import type { AnthropicContext, MessagesRequest, StreamEvent } from "../../formats/anthropic/types.ts";
import type { SchemaProfile } from "../../formats/openai/schema.ts";
import { GatewayError } from "../../hub.ts";
import type { Logger } from "../../log.ts";
import { parseModelName } from "../../models.ts";
import { observerFor, recordServed, recordUsage, streamEnded, traceOf, type RequestTrace } from "../../request-log.ts";
import { toAnthropicErrorBody } from "../errors.ts";
import { fallbackHeader } from "../fallback-header.ts";
import { namedEventFraming, streamResponse } from "../stream-response.ts";
import { streamedAnswer } from "../streaming.ts";
import { inlineRemoteImages, type RemoteImageOptions } from "../remote-images.ts";
import { rememberCallSignatures, rememberingCallSignatures, ThoughtSignatures } from "../thought-signatures.ts";

export interface AnthropicRouteDeps {
  executor: Executor;
  keepaliveMs: number;
  fakeStreamKeepaliveMs: number;
  schemaProfile: SchemaProfile;
  resolveModel?: (name: string) => string;
  /** null: images given by URL go to Gemini as URLs (fileData) instead of being fetched. */
  remoteImages: RemoteImageOptions | null;
  log: Logger;
}


/** POST /v1/messages and /v1/messages/count_tokens (`?beta=true` changes nothing). */
export function messagesHandler(deps: AnthropicRouteDeps): (path: string, body: unknown, request: Request) => Promise<Response> {
  const signatures = new ThoughtSignatures();
  return (path, body, request) => {
    const checked = checkBody(body, path.endsWith("/count_tokens"));
    const trace = traceOf(request);
    return path.endsWith("/count_tokens") ? countTokens(checked, request.signal, trace, deps, signatures) : messages(checked, request.signal, trace, deps, signatures);
  };
}

function checkBody(body: unknown, counting: boolean): MessagesRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw GatewayError.invalidRequest("The request body must be a JSON object.");
  const { model, messages, max_tokens, stream } = body as Record<string, unknown>;
  if (typeof model !== "string" || model === "") throw GatewayError.invalidRequest("model: Field required", "model");
  if (!Array.isArray(messages)) throw GatewayError.invalidRequest("messages: Field required (an array of messages)", "messages");
  if (!counting && (typeof max_tokens !== "number" || !Number.isInteger(max_tokens) || max_tokens < 1)) {
    throw GatewayError.invalidRequest("max_tokens: Field required (a positive integer)", "max_tokens");
  }
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") throw GatewayError.invalidRequest("stream: Input should be a valid boolean", "stream");
  return body as MessagesRequest;
}

async function translate(asked: MessagesRequest, deps: AnthropicRouteDeps, signatures: ThoughtSignatures) {
  // Code Assist does not fetch image URLs itself: jellycli does, with the same guards as for OpenAI clients.
  const body = deps.remoteImages ? { ...asked, messages: await inlineRemoteImages(asked.messages, deps.remoteImages) as MessagesRequest["messages"] } : asked;
  const model = parseModelName(deps.resolveModel?.(body.model) ?? body.model).base;
  const { request, toolNames, warnings } = anthropicRequestToHub(body, { model, schemaProfile: deps.schemaProfile, signatureFor: (id) => signatures.recall(id) });
  if (warnings.length > 0) deps.log.debug("request translated with warnings", { model: body.model, warnings });
  const context: AnthropicContext = {
    requestedModel: body.model,
    messageId: randomBase62(24),
    makeToolUseId: () => `toolu_${randomBase62(24)}`,
    toolName: (name) => toolNames.toOpenAI(name),
  };
  return { request, context };
}

async function messages(body: MessagesRequest, signal: AbortSignal, trace: RequestTrace | undefined, deps: AnthropicRouteDeps, signatures: ThoughtSignatures): Promise<Response> {
  const { request, context } = await translate(body, deps, signatures);
  const input = { model: body.model, request, signal, observe: observerFor(trace) };
  if (body.stream !== true) {
    const served = await deps.executor.generate(input);
    recordServed(trace, served);
    recordUsage(trace, served.value.usageMetadata);
    rememberCallSignatures(served.value.candidates?.[0]?.content?.parts, signatures, context.makeToolUseId);
    return Response.json(hubResponseToAnthropic(served.value, context), { headers: fallbackHeader(served) });
  }
  const answer = await streamedAnswer(deps.executor, input, deps, trace);
  const events = hubStreamToAnthropic(rememberingCallSignatures(answer.chunks, signatures, context.makeToolUseId), context);
  return streamResponse<StreamEvent>(events, namedEventFraming(toAnthropicErrorBody), {
    keepaliveMs: answer.keepaliveMs, primeKeepalive: answer.primeKeepalive, headers: answer.headers, onEnd: streamEnded(trace),
  });
}

async function countTokens(body: MessagesRequest, signal: AbortSignal, trace: RequestTrace | undefined, deps: AnthropicRouteDeps, signatures: ThoughtSignatures): Promise<Response> {
  const { request } = await translate(body, deps, signatures);
  const served = await deps.executor.countTokens({ model: body.model, request, signal, observe: observerFor(trace) });
  recordServed(trace, served);
  return Response.json({ input_tokens: served.value.totalTokens });
}
