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

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
  /** Google's own OpenAI-compat spelling for carrying a thought signature with the call. */
  extra_content?: { google: { thought_signature: string } };
}

export interface UrlCitation {
  type: "url_citation";
  url_citation: { url: string; title: string; start_index: number; end_index: number };
}

export interface ChatLogprobs {
  content: { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number; bytes: number[] }[] }[];
}

export interface ChatCompletionMessage {
  role: "assistant";
  content: string | null;
  refusal: null;
  reasoning_content?: string;
  reasoning?: string;
  tool_calls?: ToolCall[];
  annotations?: UrlCitation[];
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: { index: number; message: ChatCompletionMessage; logprobs: ChatLogprobs | null; finish_reason: FinishReason; native_finish_reason?: string }[];
  usage?: Usage;
}

export interface ToolCallDelta extends ToolCall {
  index: number;
}

export interface ChatCompletionDelta {
  role?: "assistant";
  content?: string;
  reasoning_content?: string;
  reasoning?: string;
  tool_calls?: ToolCallDelta[];
  annotations?: UrlCitation[];
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: { index: number; delta: ChatCompletionDelta; logprobs: ChatLogprobs | null; finish_reason: FinishReason | null; native_finish_reason?: string }[];
  usage?: Usage | null;
}

/** Where reasoning text goes in the answer (translation.md §3.5). */
export type ReasoningField = "reasoning_content" | "reasoning" | "think_tags" | "hidden";

/** Everything a translator needs that is not in its input; injected so output is deterministic. */
export interface TranslateContext {
  /** The model string the client sent, echoed back as `model`. */
  readonly requestedModel: string;
  readonly responseId: string;
  readonly createdAtSeconds: number;
  /** For function calls Gemini sent without an id. */
  readonly makeToolCallId: () => string;
  /** Gemini tool names → the client's (from the request translation). */
  readonly toolNames?: { toOpenAI(name: string): string };
  readonly reasoningField?: ReasoningField;
  /** Told each tool call as it is made (the route remembers its thought signature). */
  readonly onToolCall?: (call: ToolCall) => void;
}
