// Hub response → OpenAI chat.completion (translation.md §3.1).
import type { Candidate, GenerateContentResponse, Part } from "../../hub.ts";
import { groundingToAnnotations } from "./annotations.ts";
import { mapGeminiFinishReasonToOpenAI } from "./finish-reason.ts";
import { convertGeminiLogprobs } from "./logprobs.ts";
import type { ChatCompletion, ChatCompletionMessage, ToolCall, TranslateContext } from "./types.ts";
import { convertGeminiUsageToOpenAI } from "./usage.ts";

export function hubResponseToOpenAI(response: GenerateContentResponse, context: TranslateContext): ChatCompletion {
  const candidates = response.candidates ?? [];
  const choices: ChatCompletion["choices"] = candidates.length > 0
    ? candidates.map((candidate, position) => {
        const message = messageOf(candidate, context);
        return {
          index: candidate.index ?? position,
          message,
          logprobs: convertGeminiLogprobs(candidate.logprobsResult),
          finish_reason: mapGeminiFinishReasonToOpenAI(candidate.finishReason, message.tool_calls !== undefined),
          ...(candidate.finishReason ? { native_finish_reason: candidate.finishReason } : {}),
        };
      })
    // No candidates: the prompt itself was blocked. Clients still expect one choice.
    : [{
        index: 0,
        message: { role: "assistant", content: "", refusal: null },
        logprobs: null,
        finish_reason: response.promptFeedback?.blockReason ? "content_filter" : "stop",
      }];
  return {
    id: `chatcmpl-${context.responseId}`,
    object: "chat.completion",
    created: context.createdAtSeconds,
    model: context.requestedModel,
    choices,
    usage: convertGeminiUsageToOpenAI(response.usageMetadata),
  };
}

function messageOf(candidate: Candidate, context: TranslateContext): ChatCompletionMessage {
  let content = "";
  let reasoning = "";
  const toolCalls: ToolCall[] = [];
  for (const part of candidate.content?.parts ?? []) {
    if (part.functionCall) toolCalls.push(toolCallOf(part, context));
    else if (typeof part.text === "string") {
      if (part.thought === true) reasoning += part.text;
      else content += part.text;
    }
  }
  const field = context.reasoningField ?? "reasoning_content";
  const text = field === "think_tags" && reasoning !== "" ? `<think>${reasoning}</think>\n${content}` : content;
  const message: ChatCompletionMessage = {
    role: "assistant",
    // OpenAI sends null content beside tool calls; "" otherwise keeps naive .trim() callers alive.
    content: text === "" && toolCalls.length > 0 ? null : text,
    refusal: null,
  };
  if (reasoning !== "" && (field === "reasoning_content" || field === "reasoning")) message[field] = reasoning;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const annotations = groundingToAnnotations(candidate.groundingMetadata, content);
  if (annotations.length > 0) message.annotations = annotations;
  return message;
}

/** One Gemini functionCall part → one OpenAI tool call; shared with the stream translator. */
export function toolCallOf(part: Part, context: TranslateContext): ToolCall {
  const call = part.functionCall!;
  const toolCall: ToolCall = {
    id: call.id || context.makeToolCallId(),
    type: "function",
    function: { name: context.toolNames?.toOpenAI(call.name) ?? call.name, arguments: JSON.stringify(call.args ?? {}) },
  };
  if (part.thoughtSignature) toolCall.extra_content = { google: { thought_signature: part.thoughtSignature } };
  context.onToolCall?.(toolCall);
  return toolCall;
}
