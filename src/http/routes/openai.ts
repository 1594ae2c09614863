// The OpenAI surface: /v1/chat/completions (streamed, non-streamed, fake-streamed) and /v1/models.
import { randomBytes } from "node:crypto";
import { Elysia, t } from "elysia";
import type { Executor } from "../../executor.ts";
import { GatewayError } from "../../hub.ts";
import { openAIRequestToHub } from "../../formats/openai/request.ts";
import { hubResponseToOpenAI } from "../../formats/openai/response.ts";
import { hubStreamToOpenAI } from "../../formats/openai/stream.ts";
import type { ChatCompletionRequest, TranslateContext } from "../../formats/openai/types.ts";
import type { Logger } from "../../log.ts";
import { listedModelNames, parseModelName } from "../../models.ts";
import { clientAuth } from "../auth.ts";
import { toOpenAIErrorBody } from "../errors.ts";
import { sseResponse } from "../sse.ts";

export interface OpenAIRouteDeps {
  executor: Executor;
  passwords: readonly string[];
  models: readonly string[];
  keepaliveMs: number;
  fakeStreamKeepaliveMs: number;
  log: Logger;
  now: () => number;
}

// Minimal and open: Elysia strips undeclared fields otherwise, and the translator validates the rest.
const chatRequestSchema = t.Object(
  { model: t.String({ minLength: 1 }), messages: t.Array(t.Any()), stream: t.Optional(t.Union([t.Boolean(), t.Null()])) },
  { additionalProperties: true },
);

export function openAIRoutes(deps: OpenAIRouteDeps) {
  const startedAt = Math.floor(deps.now() / 1000);
  return new Elysia({ name: "routes.openai" })
    .use(clientAuth(deps.passwords))
    .post("/v1/chat/completions", ({ body, request }) => chatCompletions(body as ChatCompletionRequest, request.signal, deps), { body: chatRequestSchema })
    .get("/v1/models", () => ({
      object: "list",
      data: listedModelNames(deps.models).map((id) => ({ id, object: "model", created: startedAt, owned_by: "google" })),
    }));
}

export async function chatCompletions(body: ChatCompletionRequest, signal: AbortSignal, deps: OpenAIRouteDeps): Promise<Response | object> {
  const { request } = openAIRequestToHub(body);
  const context: TranslateContext = {
    requestedModel: body.model,
    responseId: randomBytes(12).toString("hex"),
    createdAtSeconds: Math.floor(deps.now() / 1000),
  };
  const input = { model: body.model, request, signal };
  const streamOptions = { includeUsage: body.stream_options?.include_usage === true };
  if (body.stream !== true) return hubResponseToOpenAI(await deps.executor.generate(input), context);

  if (parseModelName(body.model).fakeStream) {
    const answer = deps.executor.generate(input);
    answer.catch(() => {}); // observed below; this only keeps an abandoned rejection quiet
    // An answer (or a refusal) that comes quickly still gets a proper status; after that, keep-alives.
    const early = await Promise.race([answer, Bun.sleep(deps.fakeStreamKeepaliveMs).then(() => undefined)]);
    const chunks = (async function* () {
      yield early ?? (await answer);
    })();
    return openAIEventStream(hubStreamToOpenAI(chunks, context, streamOptions), deps.fakeStreamKeepaliveMs);
  }
  const upstream = await deps.executor.stream(input);
  return openAIEventStream(hubStreamToOpenAI(upstream, context, streamOptions), deps.keepaliveMs);
}

function openAIEventStream(chunks: AsyncIterable<object>, keepaliveMs: number): Response {
  return sseResponse(chunks, {
    keepaliveMs,
    done: "[DONE]",
    errorEvent: (error) => toOpenAIErrorBody(error instanceof GatewayError ? error : new GatewayError({ status: 500, message: "internal error while streaming" })),
  });
}
