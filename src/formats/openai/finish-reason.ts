import type { FinishReason } from "./types.ts";

const CONTENT_FILTER = new Set([
  "SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "LANGUAGE",
  "RECITATION", "IMAGE_RECITATION",
]);

/** Gemini finishReason → OpenAI finish_reason (translation.md §3.3). */
export function mapGeminiFinishReasonToOpenAI(finishReason: string | undefined, sawToolCall = false): FinishReason {
  // Gemini reports STOP on tool turns; OpenAI clients wait for "tool_calls" to run them.
  if (sawToolCall) return "tool_calls";
  if (finishReason === "MAX_TOKENS" || finishReason === "CONTINUATION") return "length";
  if (finishReason !== undefined && CONTENT_FILTER.has(finishReason)) return "content_filter";
  return "stop";
}
