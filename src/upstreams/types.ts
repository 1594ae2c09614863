// What every upstream offers the executor: three calls over hub JSON, plus — for OpenAI-compatible
// servers — forwarding an OpenAI request untouched.
import type { ContentEmbedding, CountTokensResponse, EmbedContentRequest, GenerateContentRequest, GenerateContentResponse } from "../hub.ts";

export interface UpstreamAuth {
  /** OAuth (Code Assist). */
  accessToken?: string;
  projectId?: string;
  /** API keys (Gemini API, OpenAI-compatible servers). */
  apiKey?: string;
}

/** Hooks a caller may give to see the upstream exchange (full request logs). */
export interface CallObserver {
  request?(body: string): void;
  /** The whole upstream answer (or error body), once it has ended. */
  response?(text: string): void;
}

export interface UpstreamCall {
  /** The model name the upstream knows (variants already resolved). */
  model: string;
  request: GenerateContentRequest;
  auth: UpstreamAuth;
  signal?: AbortSignal;
  observe?: CallObserver;
}

/** At most 100 texts (batchEmbedContents' limit), embedded in order. */
export interface EmbedCall {
  model: string;
  requests: EmbedContentRequest[];
  auth: UpstreamAuth;
  signal?: AbortSignal;
  observe?: CallObserver;
}

/** An OpenAI request forwarded as it is; only `model` is replaced. */
export interface PassthroughCall {
  /** Under the server's base URL: "chat/completions" (the default) or "embeddings". */
  endpoint?: "chat/completions" | "embeddings";
  body: object;
  model: string;
  auth: UpstreamAuth;
  signal?: AbortSignal;
  observe?: CallObserver;
}

/** The upstream's own answer, bytes untouched: framing it for the client is http/'s business. */
export interface RawAnswer {
  contentType: string;
  /** Streamed (SSE) answers are piped; unary ones are read whole before they are returned. */
  streamed: boolean;
  body: AsyncIterable<Uint8Array>;
}

export interface Upstream {
  generate(call: UpstreamCall): Promise<GenerateContentResponse>;
  /**
   * Resolves once the upstream accepted the call (rejects with a GatewayError when it refuses);
   * leaving the iteration early hangs up on the upstream.
   */
  stream(call: UpstreamCall): Promise<AsyncIterable<GenerateContentResponse>>;
  countTokens(call: UpstreamCall): Promise<CountTokensResponse>;
  /** A cheap call that succeeds when these credentials work (health checks); throws a GatewayError otherwise. */
  probe?(auth: UpstreamAuth, signal?: AbortSignal): Promise<void>;
  /** Only OpenAI-compatible servers: an OpenAI request forwarded untouched. */
  passthrough?(call: PassthroughCall): Promise<RawAnswer>;
  /** Only the Gemini API: embeddings (Code Assist has none). */
  embed?(call: EmbedCall): Promise<ContentEmbedding[]>;
}
