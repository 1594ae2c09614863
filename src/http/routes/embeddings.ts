// Embeddings on both surfaces: POST /v1/embeddings (OpenAI) and {model}:embedContent /
// :batchEmbedContents (Gemini). Served by the Gemini API key pool in batches of 100, in parallel,
// order kept; a model an OpenAI-compatible server claims is forwarded to its /embeddings as is.
import type { Executor } from "../../executor.ts";
import { embedBatches, geminiEmbedToHub, hubEmbeddingsToOpenAI, openAIEmbeddingsToHub, type EmbeddingsRequest } from "../../formats/openai/embeddings.ts";
import { estimateTokens } from "../../formats/token-estimate.ts";
import { GatewayError, type ContentEmbedding, type EmbedContentRequest } from "../../hub.ts";
import { observerFor, recordServed, recordUsage, traceOf, type RequestTrace } from "../../request-log.ts";
import { toOpenAIErrorBody } from "../errors.ts";
import { rawSSEFraming, streamResponse } from "../stream-response.ts";

export interface EmbeddingsDeps {
  executor: Executor;
}

/** POST /v1/embeddings. */
export function embeddingsHandler(deps: EmbeddingsDeps): (body: unknown, request: Request) => Promise<Response> {
  return async (body, request) => {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw GatewayError.invalidRequest("The request body must be a JSON object.");
    const checked = body as EmbeddingsRequest;
    if (typeof checked.model !== "string" || checked.model === "") throw GatewayError.invalidRequest("Invalid `model`: expected a non-empty string naming the model", "model");
    const trace = traceOf(request);
    const forwarded = deps.executor.passthrough({ model: checked.model, body: checked, endpoint: "embeddings", signal: request.signal, observe: observerFor(trace) });
    if (forwarded) {
      const served = await forwarded;
      recordServed(trace, served);
      return streamResponse(served.value.body, rawSSEFraming((error) => toOpenAIErrorBody(error), served.value.contentType), { headers: { "cache-control": "no-store" } });
    }
    const { requests, base64 } = openAIEmbeddingsToHub(checked);
    const embeddings = await embedAll(deps.executor, checked.model, requests, request.signal, trace);
    // The embedding API reports no token counts: the same local estimate as for countTokens.
    const promptTokens = estimateTokens({ contents: requests.map((entry) => entry.content) });
    recordUsage(trace, { promptTokenCount: promptTokens, totalTokenCount: promptTokens });
    return Response.json(hubEmbeddingsToOpenAI(embeddings, { model: checked.model, base64, promptTokens }));
  };
}

/** :embedContent (one) and :batchEmbedContents (many), in the Gemini API's own shapes. */
export async function geminiEmbed(executor: Executor, model: string, method: "embedContent" | "batchEmbedContents", body: unknown, signal: AbortSignal, trace: RequestTrace | undefined): Promise<Response> {
  const requests = geminiEmbedToHub(body, method === "batchEmbedContents");
  const embeddings = await embedAll(executor, model, requests, signal, trace);
  return Response.json(method === "embedContent" ? { embedding: embeddings[0] } : { embeddings });
}

async function embedAll(executor: Executor, model: string, requests: EmbedContentRequest[], signal: AbortSignal, trace: RequestTrace | undefined): Promise<ContentEmbedding[]> {
  const served = await Promise.all(embedBatches(requests).map((batch) => executor.embed({ model, requests: batch, signal, observe: observerFor(trace) })));
  recordServed(trace, served[0]!);
  return served.flatMap((entry) => entry.value);
}
