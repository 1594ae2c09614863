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

/**
 * Who is to blame, which decides what the executor does with the credential that saw it:
 * `request` — the client's input; the credential is fine. `credential` — this account (auth,
 * quota, permission). `transient` — the network or the upstream's health; try elsewhere.
 */
export type ErrorScope = "request" | "credential" | "transient";

export interface GatewayErrorInit {
  status: number;
  code?: string | null;
  message: string;
  scope?: ErrorScope;
  retryable?: boolean;
  /** Upstream-named wait before trying again (429 RetryInfo, Retry-After). */
  retryAfterMs?: number;
  /** Request field the error is about (OpenAI `param`). */
  param?: string | null;
  /** The upstream's own status word (RESOURCE_EXHAUSTED, invalid_grant …), for classification. */
  reason?: string;
  /** When a quota comes back (epoch ms), if the upstream said so. */
  resetAt?: number;
  /** Where a person can fix the account (verification, API activation, appeal). */
  helpUrl?: string;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly scope: ErrorScope;
  readonly retryable: boolean;
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
    this.scope = init.scope ?? (init.status >= 500 ? "transient" : "request");
    this.retryable = init.retryable ?? (init.status === 429 || init.status >= 500);
    this.retryAfterMs = init.retryAfterMs;
    this.param = init.param ?? null;
    this.reason = init.reason;
    this.resetAt = init.resetAt;
    this.helpUrl = init.helpUrl;
  }

  static invalidRequest(message: string, param: string | null = null): GatewayError {
    return new GatewayError({ status: 400, message, param, scope: "request", retryable: false });
  }
}
