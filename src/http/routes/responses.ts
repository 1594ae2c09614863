// The OpenAI Responses API: POST /v1/responses (streamed and not; served by app.ts's fast path),
// GET and DELETE /v1/responses/{id}. Always through the hub — also for models an OpenAI-compatible
// upstream serves, whose chat answers the executor translates — so the output is Responses-shaped
// whoever answered. Conversation state for previous_response_id lives in a ResponseStore.
import { randomBytes } from "node:crypto";
import { randomBase62 } from "../ids.ts";
import { Elysia } from "elysia";
import type { Executor } from "../../executor.ts";
import { openAIRequestToHub } from "../../formats/openai/request.ts";
import type { SchemaProfile } from "../../formats/openai/schema.ts";
import { responsesRequestToChat, type Item, type Json, type ResponsesRequest } from "../../formats/responses/request.ts";
import { hubResponseToResponses, type ResponsesContext } from "../../formats/responses/response.ts";
import { hubStreamToResponses, type ResponsesEvent } from "../../formats/responses/stream.ts";
import { GatewayError } from "../../hub.ts";
import type { Logger } from "../../log.ts";
import { parseModelName } from "../../models.ts";
import { observerFor, recordServed, recordUsage, streamEnded, traceOf } from "../../request-log.ts";
import { fallbackHeader } from "../fallback-header.ts";
import { keyOf } from "../gate.ts";
import { inlineRemoteImages, type RemoteImageOptions } from "../remote-images.ts";
import type { ResponseStore } from "../response-store.ts";
import { namedEventFraming, streamResponse } from "../stream-response.ts";
import { streamedAnswer } from "../streaming.ts";
import { rememberCallSignatures, rememberingCallSignatures, ThoughtSignatures } from "../thought-signatures.ts";

export interface ResponsesRouteDeps {
  executor: Executor;
  keepaliveMs: number;
  fakeStreamKeepaliveMs: number;
  schemaProfile: SchemaProfile;
  resolveModel?: (name: string) => string;
  responses: ResponseStore;
  remoteImages: RemoteImageOptions | null;
  log: Logger;
  now: () => number;
}


/** Errors inside a Responses stream: OpenAI's `error` event. */
const streamError = (error: GatewayError) => ({ type: "error", code: error.code ?? (error.status === 429 ? "rate_limit_exceeded" : "server_error"), message: error.message, param: error.param });

export function responsesHandler(deps: ResponsesRouteDeps): (body: unknown, request: Request) => Promise<Response> {
  const signatures = new ThoughtSignatures();
  return async (raw, request) => {
    const body = checkBody(raw);
    const trace = traceOf(request);
    let prior: Item[] = [];
    const owner = keyOf(request)?.id ?? "";
    if (body.previous_response_id) {
      const stored = await deps.responses.get(body.previous_response_id);
      // Another client key's answer is as unknown as one that never was.
      if (!stored || stored.owner !== owner) {
        throw new GatewayError({ status: 400, code: "previous_response_not_found", param: "previous_response_id", message: `Previous response with id '${body.previous_response_id}' not found (responses are kept for responses_ttl_s, in this process).` });
      }
      prior = stored.items;
    }
    const conversion = responsesRequestToChat(body, prior, (id) => deps.responses.item(id));
    if (deps.remoteImages) conversion.chat.messages = await inlineRemoteImages(conversion.chat.messages, deps.remoteImages) as typeof conversion.chat.messages;
    const model = parseModelName(deps.resolveModel?.(body.model) ?? body.model).base;
    const wantsThoughts = typeof body.reasoning?.summary === "string" && body.reasoning.summary !== "none";
    const { request: hub, toolNames, warnings } = openAIRequestToHub(conversion.chat, {
      model, schemaProfile: deps.schemaProfile, reasoningField: wantsThoughts ? "reasoning_content" : "hidden", signatureFor: (id) => signatures.recall(id),
    });
    warnings.push(...conversion.warnings);
    if (warnings.length > 0) deps.log.debug("request translated with warnings", { model: body.model, warnings });
    const context: ResponsesContext = {
      responseId: randomBytes(24).toString("hex"),
      createdAtSeconds: Math.floor(deps.now() / 1000),
      requestedModel: body.model,
      makeId: (prefix) => `${prefix}_${randomBase62(24)}`,
      toolName: (name) => toolNames.toOpenAI(name),
      customTools: conversion.customTools,
      echo: echoOf(body),
    };
    const keep = (response: Json) => {
      if (body.store === false) return;
      deps.responses.put(String(response.id), { owner, response, items: [...prior, ...conversion.inputItems, ...(response.output as Item[])] });
    };
    const input = { model: body.model, request: hub, signal: request.signal, observe: observerFor(trace) };
    const callId = () => context.makeId("call");

    if (body.stream !== true) {
      const served = await deps.executor.generate(input);
      recordServed(trace, served);
      recordUsage(trace, served.value.usageMetadata);
      rememberCallSignatures(served.value.candidates?.[0]?.content?.parts, signatures, callId);
      const response = hubResponseToResponses(served.value, context);
      keep(response);
      return Response.json(response, { headers: fallbackHeader(served) });
    }
    const answer = await streamedAnswer(deps.executor, input, deps, trace);
    const events = keeping(hubStreamToResponses(rememberingCallSignatures(answer.chunks, signatures, callId), context), keep);
    return streamResponse<ResponsesEvent>(events, namedEventFraming(streamError, "comment"), {
      keepaliveMs: answer.keepaliveMs, primeKeepalive: answer.primeKeepalive, headers: answer.headers, onEnd: streamEnded(trace),
    });
  };
}

/** GET and DELETE /v1/responses/{id}: what the store still holds. */
export function responsesRoutes(deps: Pick<ResponsesRouteDeps, "responses">) {
  const notFound = (id: string) => new GatewayError({ status: 404, code: "not_found", param: "response_id", message: `Response with id '${id}' not found.` });
  return new Elysia({ name: "routes.responses" })
    .get("/v1/responses/:id", async ({ params, request }) => {
      const stored = await deps.responses.get(params.id);
      if (!stored || stored.owner !== (keyOf(request)?.id ?? "")) throw notFound(params.id);
      return stored.response;
    })
    .delete("/v1/responses/:id", async ({ params, request }) => {
      const stored = await deps.responses.get(params.id);
      if (!stored || stored.owner !== (keyOf(request)?.id ?? "") || !(await deps.responses.delete(params.id))) throw notFound(params.id);
      return { id: params.id, object: "response", deleted: true };
    });
}

function checkBody(body: unknown): ResponsesRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw GatewayError.invalidRequest("The request body must be a JSON object.");
  const { model, input, previous_response_id: previous, stream } = body as Record<string, unknown>;
  if (typeof model !== "string" || model === "") throw GatewayError.invalidRequest("Missing required parameter: 'model'.", "model");
  if (input === undefined && !previous) throw GatewayError.invalidRequest("Missing required parameter: 'input'.", "input");
  if (previous !== undefined && previous !== null && typeof previous !== "string") throw GatewayError.invalidRequest("'previous_response_id' must be a string.", "previous_response_id");
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") throw GatewayError.invalidRequest("'stream' must be a boolean.", "stream");
  return body as ResponsesRequest;
}

/** The request's settings as a Responses object repeats them. */
function echoOf(body: ResponsesRequest): Json {
  return {
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: "disabled",
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

/** Keeps the finished response (the last event carries it) once the stream got there. */
async function* keeping(events: AsyncIterable<ResponsesEvent>, keep: (response: Json) => void): AsyncGenerator<ResponsesEvent> {
  for await (const event of events) {
    if (event.type === "response.completed" || event.type === "response.incomplete") keep(event.response as Json);
    yield event;
  }
}
