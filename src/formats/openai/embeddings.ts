// OpenAI embeddings ⇄ Gemini batchEmbedContents. The input is one string or a list of strings
// (token-id arrays have no Gemini meaning); `dimensions` is Gemini's outputDimensionality;
// base64 is the vector as little-endian float32, which OpenAI's SDKs decode by default.
import { GatewayError, type ContentEmbedding, type EmbedContentRequest } from "../../hub.ts";

/** Gemini takes at most this many texts in one batchEmbedContents call. */
export const EMBED_BATCH = 100;
const MAX_INPUTS = 2048;

export interface EmbeddingsRequest {
  model: string;
  input: unknown;
  dimensions?: unknown;
  encoding_format?: unknown;
  [key: string]: unknown;
}

export function openAIEmbeddingsToHub(body: EmbeddingsRequest): { requests: EmbedContentRequest[]; base64: boolean } {
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  if (!Array.isArray(inputs) || inputs.length === 0) throw GatewayError.invalidRequest("`input` must be a string or a non-empty list of strings", "input");
  if (inputs.length > MAX_INPUTS) throw GatewayError.invalidRequest(`\`input\` may hold at most ${MAX_INPUTS} strings`, "input");
  inputs.forEach((text, index) => {
    if (typeof text === "number" || Array.isArray(text)) throw GatewayError.invalidRequest("`input` as token ids is not supported: Gemini embeds text; send strings", "input");
    if (typeof text !== "string" || text === "") throw GatewayError.invalidRequest(`\`input[${index}]\` must be a non-empty string`, "input");
  });
  let outputDimensionality: number | undefined;
  if (body.dimensions !== undefined && body.dimensions !== null) {
    if (typeof body.dimensions !== "number" || !Number.isInteger(body.dimensions) || body.dimensions < 1) throw GatewayError.invalidRequest("`dimensions` must be a positive integer", "dimensions");
    outputDimensionality = body.dimensions;
  }
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") throw GatewayError.invalidRequest("`encoding_format` must be \"float\" or \"base64\"", "encoding_format");
  const requests = (inputs as string[]).map((text) => ({ content: { parts: [{ text }] }, ...(outputDimensionality ? { outputDimensionality } : {}) }));
  return { requests, base64: format === "base64" };
}

export function hubEmbeddingsToOpenAI(embeddings: ContentEmbedding[], options: { model: string; base64: boolean; promptTokens: number }) {
  return {
    object: "list",
    data: embeddings.map((embedding, index) => ({ object: "embedding", index, embedding: options.base64 ? float32Base64(embedding.values) : embedding.values })),
    model: options.model,
    usage: { prompt_tokens: options.promptTokens, total_tokens: options.promptTokens },
  };
}

function float32Base64(values: number[]): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((value, index) => view.setFloat32(index * 4, value, true));
  return Buffer.from(view.buffer).toString("base64");
}

/** The Gemini API's own embed bodies, checked: one content, or `requests` for a batch. */
export function geminiEmbedToHub(body: unknown, batch: boolean): EmbedContentRequest[] {
  const requests = batch ? (body as { requests?: unknown } | null)?.requests : [body];
  if (!Array.isArray(requests) || requests.length === 0) throw GatewayError.invalidRequest("`requests` must be a non-empty list of embed requests", "requests");
  return requests.map((request, index) => {
    const content = (request as { content?: { parts?: unknown } } | null)?.content;
    if (!Array.isArray(content?.parts) || content.parts.length === 0) throw GatewayError.invalidRequest(`${batch ? `requests[${index}].` : ""}content.parts must not be empty`, "content");
    return request as EmbedContentRequest;
  });
}

/** Batches of at most EMBED_BATCH, in order. */
export function embedBatches<T>(items: T[]): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += EMBED_BATCH) batches.push(items.slice(start, start + EMBED_BATCH));
  return batches;
}
