// What every upstream offers the executor: three calls over hub JSON, nothing more.
import type { CountTokensResponse, GenerateContentRequest, GenerateContentResponse } from "../hub.ts";

export interface UpstreamAuth {
  /** OAuth (Code Assist). */
  accessToken?: string;
  projectId?: string;
  /** API keys (Gemini API, OpenAI-compatible servers). */
  apiKey?: string;
}

export interface UpstreamCall {
  /** The model name the upstream knows (variants already resolved). */
  model: string;
  request: GenerateContentRequest;
  auth: UpstreamAuth;
  signal?: AbortSignal;
}

export interface Upstream {
  generate(call: UpstreamCall): Promise<GenerateContentResponse>;
  /** Rejects (on first iteration) with a GatewayError when the upstream refuses before streaming. */
  stream(call: UpstreamCall): AsyncIterable<GenerateContentResponse>;
  countTokens(call: UpstreamCall): Promise<CountTokensResponse>;
  /** A cheap call that succeeds when these credentials work (health checks); throws a GatewayError otherwise. */
  probe?(auth: UpstreamAuth, signal?: AbortSignal): Promise<void>;
}
