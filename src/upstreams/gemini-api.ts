// The Gemini API (generativelanguage.googleapis.com) with API keys. The hub is its own wire
// format, so requests are forwarded as they are; only the URL and the key header are ours.
import { GatewayError, type ContentEmbedding, type CountTokensResponse, type GenerateContentResponse } from "../hub.ts";
import { googleEventError } from "./upstream-error.ts";
import { sseJson } from "./sse-parse.ts";
import { Transport, type TransportOptions } from "./transport.ts";
import type { EmbedCall, Upstream, UpstreamAuth, UpstreamCall } from "./types.ts";

export interface GeminiApiOptions extends TransportOptions {
  endpoint: string;
}

export class GeminiApiUpstream implements Upstream {
  private readonly transport: Transport;
  private readonly base: string;

  constructor(options: GeminiApiOptions) {
    this.transport = new Transport(options);
    this.base = `${options.endpoint.replace(/\/+$/, "")}/v1beta/models`;
  }

  generate(call: UpstreamCall): Promise<GenerateContentResponse> {
    return this.transport.json<GenerateContentResponse>(this.url(call, "generateContent"), this.init(call, call.request), "Gemini API generateContent", { observe: call.observe });
  }

  async stream(call: UpstreamCall): Promise<AsyncIterable<GenerateContentResponse>> {
    const opened = await this.transport.open(`${this.url(call, "streamGenerateContent")}?alt=sse`, this.init(call, call.request), "Gemini API streamGenerateContent", { observe: call.observe });
    return sseJson(opened.body, googleEventError, (chunk) => chunk as GenerateContentResponse);
  }

  countTokens(call: UpstreamCall): Promise<CountTokensResponse> {
    const { contents, systemInstruction, tools, generationConfig } = call.request;
    // With anything beyond contents, the API wants the whole request wrapped (and a model name in it).
    const body = systemInstruction || tools
      ? { generateContentRequest: { model: `models/${call.model}`, contents, systemInstruction, tools, generationConfig } }
      : { contents };
    return this.transport.json<CountTokensResponse>(this.url(call, "countTokens"), this.init(call, body), "Gemini API countTokens", { observe: call.observe });
  }

  async embed(call: EmbedCall): Promise<ContentEmbedding[]> {
    const body = { requests: call.requests.map((request) => ({ ...request, model: `models/${call.model}` })) };
    const answer = await this.transport.json<{ embeddings?: ContentEmbedding[] }>(`${this.base}/${encodeURIComponent(call.model)}:batchEmbedContents`, {
      method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": call.auth.apiKey ?? "" }, body: JSON.stringify(body), signal: call.signal,
    }, "Gemini API batchEmbedContents", { observe: call.observe });
    if (!Array.isArray(answer.embeddings) || answer.embeddings.length !== call.requests.length) {
      throw new GatewayError({ status: 502, kind: "transient", message: `the Gemini API answered ${answer.embeddings?.length ?? 0} embeddings for ${call.requests.length} inputs` });
    }
    return answer.embeddings;
  }

  /** Listing one model costs nothing and fails exactly when the key does. */
  async probe(auth: UpstreamAuth, signal?: AbortSignal): Promise<void> {
    await this.transport.json(`${this.base}?pageSize=1`, { method: "GET", headers: { "x-goog-api-key": auth.apiKey ?? "" }, signal }, "Gemini API models");
  }

  private url(call: UpstreamCall, method: string): string {
    return `${this.base}/${encodeURIComponent(call.model)}:${method}`;
  }

  private init(call: UpstreamCall, body: unknown): RequestInit {
    return {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": call.auth.apiKey ?? "" },
      body: JSON.stringify(body),
      signal: call.signal,
    };
  }
}

