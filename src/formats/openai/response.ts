// Hub response → OpenAI chat.completion (translation.md §3.1).
import type { Candidate, GenerateContentResponse } from "../../hub.ts";
import { mapGeminiFinishReasonToOpenAI } from "./finish-reason.ts";
import type { ChatCompletion, ChatCompletionMessage, TranslateContext } from "./types.ts";
import { convertGeminiUsageToOpenAI } from "./usage.ts";

export function hubResponseToOpenAI(response: GenerateContentResponse, context: TranslateContext): ChatCompletion {
  const candidates = response.candidates ?? [];
  const choices = candidates.length > 0
    ? candidates.map((candidate, position) => ({
        index: candidate.index ?? position,
        message: messageOf(candidate),
        logprobs: null,
        finish_reason: mapGeminiFinishReasonToOpenAI(candidate.finishReason),
      }))
    // No candidates: the prompt itself was blocked. Clients still expect one choice.
    : [{
        index: 0,
        message: { role: "assistant" as const, content: "", refusal: null },
        logprobs: null,
        finish_reason: response.promptFeedback?.blockReason ? ("content_filter" as const) : ("stop" as const),
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

function messageOf(candidate: Candidate): ChatCompletionMessage {
  let content = "";
  let reasoning = "";
  for (const part of candidate.content?.parts ?? []) {
    if (typeof part.text !== "string") continue;
    if (part.thought === true) reasoning += part.text;
    else content += part.text;
  }
  const message: ChatCompletionMessage = { role: "assistant", content, refusal: null };
  if (reasoning !== "") message.reasoning_content = reasoning;
  return message;
}
