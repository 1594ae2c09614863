// Anthropic Messages API wire types (the subset jellycli reads and writes). Open on purpose:
// clients send fields we do not know (Claude Code's output_config, context_management …).

export type Json = Record<string, unknown>;

export interface MessagesRequest {
  model: string;
  max_tokens?: number;
  system?: string | ContentBlock[];
  messages: { role: string; content: string | ContentBlock[] }[];
  tools?: Json[];
  tool_choice?: { type: "auto" | "any" | "tool" | "none"; name?: string; disable_parallel_tool_use?: boolean };
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: string[];
  stream?: boolean;
  thinking?: { type: "enabled"; budget_tokens?: number } | { type: "disabled" } | { type: "adaptive" } | Json;
  metadata?: Json;
  [key: string]: unknown;
}

export interface ContentBlock {
  type: string;
  [key: string]: unknown;
}

export type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "refusal" | "pause_turn";

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export type ResponseBlock =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: Json };

export interface Message {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: ResponseBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: Usage;
}

/** One server-sent event of a streamed answer; its `type` is also the SSE `event:` name. */
export type StreamEvent =
  | { type: "message_start"; message: Message }
  | { type: "content_block_start"; index: number; content_block: Json }
  | { type: "content_block_delta"; index: number; delta: Json }
  | { type: "content_block_stop"; index: number }
  | { type: "message_delta"; delta: { stop_reason: StopReason | null; stop_sequence: string | null }; usage: Partial<Usage> }
  | { type: "message_stop" };

/** What the translators need besides the body: names and ids decided by the route. */
export interface AnthropicContext {
  requestedModel: string;
  messageId: string;
  makeToolUseId: () => string;
  /** Restores the client's tool names from Gemini's. */
  toolName: (geminiName: string) => string;
}
