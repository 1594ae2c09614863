// The Gemini-native surface: /v1beta/models[/{model}], and {model}:generateContent |
// :streamGenerateContent | :countTokens under /v1beta (and /v1). Model names may hold "/" and ":";
// the method is what follows the last ":".
import { Elysia } from "elysia";
import type { Executor } from "../../executor.ts";
import { geminiCountTokensToHub, geminiRequestToHub } from "../../formats/gemini/request.ts";
import { geminiEmbed } from "./embeddings.ts";
import { GatewayError, type GenerateContentResponse } from "../../hub.ts";
import { parseModelName } from "../../models.ts";
import { fallbackHeader } from "../fallback-header.ts";
import { modelsFor } from "../gate.ts";
import { toGoogleErrorBody } from "../errors.ts";
import { jsonArrayFraming, sseFraming, streamResponse } from "../stream-response.ts";
import { streamedAnswer } from "../streaming.ts";
import { traceOf, observerFor, recordServed, recordUsage, streamEnded, type RequestTrace } from "../../request-log.ts";

export interface GeminiRouteDeps {
  executor: Executor;
  /** Every model name the gateway routes, for the model list. */
  listedModels: () => string[];
  keepaliveMs: number;
  fakeStreamKeepaliveMs: number;
}

/** POST {model}:{method} under /v1beta/models/ and /v1/models/, served by app.ts's fast path. */
/** `{model}:{method}` as it follows `/v1beta/models/` in a path (a leading `models/` tolerated). */
export interface ModelCall {
  model: string;
  method: string;
}

export function parseModelCall(path: string): ModelCall {
  const decoded = decodePath(path);
  const colon = decoded.lastIndexOf(":");
  if (colon <= 0) throw new GatewayError({ status: 404, message: `Unknown method on models/${decoded}; expected models/{model}:{method}.` });
  return { model: decoded.slice(0, colon).replace(/^models\//, ""), method: decoded.slice(colon + 1) };
}

export function geminiMethodHandler(deps: GeminiRouteDeps): (call: ModelCall, body: unknown, alt: string | undefined, request: Request) => Promise<Response> {
  return (call, body, alt, request) => geminiCall(call, body, alt, request.signal, traceOf(request), deps);
}

export function geminiRoutes(deps: GeminiRouteDeps) {
  return new Elysia({ name: "routes.gemini" })
    .get("/v1beta/models", ({ request }) => ({ models: modelsFor(request, deps.listedModels()).map(modelInfo) }))
    .get("/v1beta/models/*", ({ params, request }) => {
      const name = decodePath(params["*"]);
      if (!modelsFor(request, deps.listedModels()).includes(name)) throw new GatewayError({ status: 404, message: `Model models/${name} is not served by this gateway.` });
      return modelInfo(name);
    });
}

async function geminiCall({ model, method }: ModelCall, body: unknown, alt: string | undefined, signal: AbortSignal, trace: RequestTrace | undefined, deps: GeminiRouteDeps): Promise<Response> {
  if (trace) trace.model = model;
  const input = (request: ReturnType<typeof geminiRequestToHub>) => ({ model, request, signal, unknownToDefault: true, observe: observerFor(trace) });

  switch (method) {
    case "generateContent": {
      const served = await deps.executor.generate(input(geminiRequestToHub(body)));
      recordServed(trace, served);
      recordUsage(trace, served.value.usageMetadata);
      return Response.json(withModel(served.value, model), { headers: fallbackHeader(served) });
    }
    case "streamGenerateContent": {
      const answer = await streamedAnswer(deps.executor, input(geminiRequestToHub(body)), deps, trace);
      const framing = alt === "sse" ? sseFraming<GenerateContentResponse>(googleError) : jsonArrayFraming<GenerateContentResponse>(googleError);
      return streamResponse(withModelStream(answer.chunks, model), framing, {
        keepaliveMs: answer.keepaliveMs, primeKeepalive: answer.primeKeepalive, headers: answer.headers, onEnd: streamEnded(trace),
      });
    }
    case "countTokens": {
      const served = await deps.executor.countTokens(input(geminiCountTokensToHub(body)));
      recordServed(trace, served);
      return Response.json(served.value, { headers: fallbackHeader(served) });
    }
    case "embedContent":
    case "batchEmbedContents":
      return geminiEmbed(deps.executor, model, method, body, signal, trace);
    default:
      throw new GatewayError({ status: 404, message: `Method ${method} is not supported (generateContent, streamGenerateContent, countTokens, embedContent, batchEmbedContents are).` });
  }
}

const googleError = (error: GatewayError) => toGoogleErrorBody(error);

/** A path with a bad %-escape is the client's mistake: 400, not 500. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw GatewayError.invalidRequest(`The path contains an invalid %-escape: ${JSON.stringify(path.slice(0, 80))}`);
  }
}

function modelInfo(name: string) {
  const { base } = parseModelName(name);
  return {
    name: `models/${name}`,
    version: "001",
    displayName: name,
    description: `${base}, served by jellycli`,
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 65_536,
    supportedGenerationMethods: /embedding/.test(base) ? ["embedContent", "batchEmbedContents"] : ["generateContent", "streamGenerateContent", "countTokens"],
  };
}

/** Clients see the model name they asked for, as the real API echoes it. */
function withModel(response: GenerateContentResponse, model: string): GenerateContentResponse {
  return { ...response, modelVersion: response.modelVersion ?? model };
}

async function* withModelStream(chunks: AsyncIterable<GenerateContentResponse>, model: string): AsyncGenerator<GenerateContentResponse> {
  for await (const chunk of chunks) yield withModel(chunk, model);
}
