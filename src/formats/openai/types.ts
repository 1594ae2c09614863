// OpenAI Chat Completions wire types: only what the translators read or write. Requests stay
// open (unknown fields are allowed and ignored), because clients send many vendor extensions.

export interface ChatContentPart {
  type: string;
  text?: string;
  image_url?: { url: string; detail?: string } | string;
  [key: string]: unknown;
}

export interface ChatMessage {
  role: string;
  content?: string | ChatContentPart[] | null;
  name?: string;
  [key: string]: unknown;
}

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  [key: string]: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls";

export interface ChatCompletionMessage {
  role: "assistant";
  content: string | null;
  refusal: null;
  reasoning_content?: string;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: { index: number; message: ChatCompletionMessage; logprobs: null; finish_reason: FinishReason }[];
  usage?: Usage;
}

export interface ChatCompletionDelta {
  role?: "assistant";
  content?: string;
  reasoning_content?: string;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: { index: number; delta: ChatCompletionDelta; logprobs: null; finish_reason: FinishReason | null }[];
  usage?: Usage | null;
}

/** Everything a translator needs that is not in its input; injected so output is deterministic. */
export interface TranslateContext {
  /** The model string the client sent, echoed back as `model`. */
  readonly requestedModel: string;
  readonly responseId: string;
  readonly createdAtSeconds: number;
}
