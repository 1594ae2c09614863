// Hub response → Anthropic message, and the small mappers the stream translator shares.
import type { GenerateContentResponse, Part, UsageMetadata } from "../../hub.ts";
import type { AnthropicContext, Message, ResponseBlock, StopReason, Usage } from "./types.ts";

const REFUSALS = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"]);

export function stopReasonOf(finishReason: string | undefined, sawToolUse: boolean, blocked = false): StopReason {
  if (blocked || (finishReason !== undefined && REFUSALS.has(finishReason))) return "refusal";
  if (finishReason === "MAX_TOKENS") return "max_tokens";
  return sawToolUse ? "tool_use" : "end_turn";
}

/** Gemini counts cached tokens inside the prompt; Anthropic counts them apart. Output includes thinking. */
export function usageOf(metadata: UsageMetadata | undefined): Usage {
  const cached = metadata?.cachedContentTokenCount ?? 0;
  return {
    input_tokens: Math.max(0, (metadata?.promptTokenCount ?? 0) - cached),
    output_tokens: (metadata?.candidatesTokenCount ?? 0) + (metadata?.thoughtsTokenCount ?? 0),
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: 0,
  };
}

export function toolUseOf(part: Part, context: AnthropicContext): Extract<ResponseBlock, { type: "tool_use" }> {
  const call = part.functionCall!;
  return { type: "tool_use", id: call.id || context.makeToolUseId(), name: context.toolName(call.name), input: call.args ?? {} };
}

export function hubResponseToAnthropic(response: GenerateContentResponse, context: AnthropicContext): Message {
  const candidate = response.candidates?.[0];
  const content: ResponseBlock[] = [];
  let signature: string | undefined;
  for (const part of candidate?.content?.parts ?? []) {
    if (part.thoughtSignature && signature === undefined) signature = part.thoughtSignature;
    const last = content[content.length - 1];
    if (part.functionCall) content.push(toolUseOf(part, context));
    else if (typeof part.text === "string" && part.thought === true) {
      if (last?.type === "thinking") last.thinking += part.text;
      else content.push({ type: "thinking", thinking: part.text, signature: "" });
    } else if (typeof part.text === "string" && part.text !== "") {
      if (last?.type === "text") last.text += part.text;
      else content.push({ type: "text", text: part.text });
    }
  }
  // Gemini's thought signature rides on the thinking block, which clients send back unchanged.
  for (const block of content) if (block.type === "thinking") block.signature = signature ?? "";
  const sawToolUse = content.some((block) => block.type === "tool_use");
  return {
    id: `msg_${context.messageId}`,
    type: "message",
    role: "assistant",
    model: context.requestedModel,
    content,
    stop_reason: stopReasonOf(candidate?.finishReason, sawToolUse, !candidate && response.promptFeedback?.blockReason !== undefined),
    stop_sequence: null,
    usage: usageOf(response.usageMetadata),
  };
}
