// The hub: Gemini generateContent JSON, the one shape every surface and upstream meets in,
// plus GatewayError, the one error type that crosses every layer (see docs/DESIGN.md).
// Types are open (index signatures) on purpose: a gateway must carry fields it does not know yet.

export interface InlineData { mimeType: string; data: string }
export interface FileData { mimeType?: string; fileUri: string }
export interface FunctionCall { name: string; args?: Record<string, unknown>; id?: string }
export interface FunctionResponse { name: string; response: Record<string, unknown>; id?: string }

export interface Part {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: InlineData;
  fileData?: FileData;
  functionCall?: FunctionCall;
  functionResponse?: FunctionResponse;
  [key: string]: unknown;
}

export interface Content { role?: "user" | "model" | string; parts: Part[] }

export interface ThinkingConfig {
  includeThoughts?: boolean;
  thinkingBudget?: number;
  thinkingLevel?: string;
}

export interface GenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  candidateCount?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseMimeType?: string;
  thinkingConfig?: ThinkingConfig;
  [key: string]: unknown;
}

export interface GenerateContentRequest {
  contents: Content[];
  systemInstruction?: Content;
  tools?: Record<string, unknown>[];
  toolConfig?: Record<string, unknown>;
  safetySettings?: Record<string, unknown>[];
  generationConfig?: GenerationConfig;
  [key: string]: unknown;
}

export interface UsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  toolUsePromptTokenCount?: number;
  [key: string]: unknown;
}

export interface Candidate {
  index?: number;
  content?: Content;
  finishReason?: string;
  finishMessage?: string;
  [key: string]: unknown;
}

export interface GenerateContentResponse {
  candidates?: Candidate[];
  promptFeedback?: { blockReason?: string; [key: string]: unknown };
  usageMetadata?: UsageMetadata;
  modelVersion?: string;
  responseId?: string;
  [key: string]: unknown;
}

export interface CountTokensResponse { totalTokens: number; [key: string]: unknown }

/** One text to embed, as batchEmbedContents takes it (the Gemini API's own shape). */
export interface EmbedContentRequest {
  model?: string;
  content: Content;
  taskType?: string;
  title?: string;
  outputDimensionality?: number;
  [key: string]: unknown;
}

export interface ContentEmbedding { values: number[]; [key: string]: unknown }

/**
 * What an error means for the credential that saw it — decided once, where the error is parsed
 * (upstreams/upstream-error.ts), and turned into a pool state change in one place
 * (pool/transitions.ts `outcomeOf` + `applyOutcome`):
 * - `request`: the client's input (400, unknown model …); the credential is fine, nothing is retried.
 * - `rate_limit`: this credential is throttled for this model for a short while (429 + RetryInfo).
 * - `quota`: this credential's quota for this model is gone until a reset time (429, long).
 * - `capacity`: the model is overloaded for everyone; nobody is penalised.
 * - `auth`: the upstream refuses this credential's token or key (401, invalid_grant).
 * - `needs_person`: only a person can fix the account (verification, ToS, licence, API disabled).
 * - `permission`: another 403; the credential rests for a while.
 * - `transient`: 5xx, network errors, timeouts, unreadable answers; try elsewhere.
 */
export type ErrorKind = "request" | "rate_limit" | "quota" | "capacity" | "auth" | "needs_person" | "permission" | "transient";

/** No upstream-named wait or reset time is believed beyond this (a bogus `1e300s` must not break the pool). */
export const MAX_DELAY_MS = 7 * 24 * 3_600_000;

export interface GatewayErrorInit {
  status: number;
  code?: string | null;
  message: string;
  /** Defaults to `transient` for 5xx, `request` otherwise. */
  kind?: ErrorKind;
  /** Upstream-named wait before trying again (429 RetryInfo, Retry-After). */
  retryAfterMs?: number;
  /** Request field the error is about (OpenAI `param`). */
  param?: string | null;
  /** The upstream's own status word (RESOURCE_EXHAUSTED, invalid_grant …), for messages and state. */
  reason?: string;
  /** When a quota comes back (epoch ms), if the upstream said so. */
  resetAt?: number;
  /** Where a person can fix the account (verification, API activation, appeal). */
  helpUrl?: string;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly kind: ErrorKind;
  readonly retryAfterMs?: number;
  readonly param: string | null;
  readonly reason?: string;
  readonly resetAt?: number;
  readonly helpUrl?: string;

  constructor(init: GatewayErrorInit) {
    super(init.message);
    this.name = "GatewayError";
    this.status = init.status;
    this.code = init.code ?? null;
    this.kind = init.kind ?? (init.status >= 500 ? "transient" : "request");
    this.retryAfterMs = init.retryAfterMs;
    this.param = init.param ?? null;
    this.reason = init.reason;
    this.resetAt = init.resetAt;
    this.helpUrl = init.helpUrl;
  }

  static invalidRequest(message: string, param: string | null = null): GatewayError {
    return new GatewayError({ status: 400, message, param, kind: "request" });
  }
}
