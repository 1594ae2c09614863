// Hub response chunks → OpenAI chat.completion.chunk objects (translation.md §3.2). One generator
// per request; its state lives in locals. Framing (data: …, [DONE]) is http/sse.ts's job.
import type { GenerateContentResponse, UsageMetadata } from "../../hub.ts";
import { mapGeminiFinishReasonToOpenAI } from "./finish-reason.ts";
import type { ChatCompletionChunk, ChatCompletionDelta, FinishReason, TranslateContext } from "./types.ts";
import { convertGeminiUsageToOpenAI } from "./usage.ts";

export interface StreamOptions {
  includeUsage: boolean;
}

interface ChoiceState {
  finishReason?: string;
  /** A high surrogate held back so a code point is never split between two deltas. */
  pending: { content: string; reasoning_content: string };
}

export async function* hubStreamToOpenAI(
  chunks: AsyncIterable<GenerateContentResponse>,
  context: TranslateContext,
  options: StreamOptions,
): AsyncGenerator<ChatCompletionChunk> {
  const choices = new Map<number, ChoiceState>();
  let usage: UsageMetadata | undefined;
  let blocked = false;
  const chunk = (index: number, delta: ChatCompletionDelta, finish: FinishReason | null = null): ChatCompletionChunk => ({
    id: `chatcmpl-${context.responseId}`,
    object: "chat.completion.chunk",
    created: context.createdAtSeconds,
    model: context.requestedModel,
    choices: [{ index, delta, logprobs: null, finish_reason: finish }],
  });

  for await (const response of chunks) {
    // Each chunk's usage is a running total: keep the last one.
    // Intermediate Code Assist chunks carry usageMetadata with no counts at all; skip those.
    if (hasCounts(response.usageMetadata)) usage = response.usageMetadata;
    if (response.promptFeedback?.blockReason) blocked = true;
    for (const [position, candidate] of (response.candidates ?? []).entries()) {
      const index = candidate.index ?? position;
      let state = choices.get(index);
      if (!state) {
        state = { pending: { content: "", reasoning_content: "" } };
        choices.set(index, state);
        yield chunk(index, { role: "assistant", content: "" });
      }
      for (const part of candidate.content?.parts ?? []) {
        if (typeof part.text !== "string" || part.text === "") continue;
        const field = part.thought === true ? "reasoning_content" : "content";
        const text = takeWhole(state.pending, field, part.text);
        if (text !== "") yield chunk(index, { [field]: text });
      }
      if (candidate.finishReason) state.finishReason = candidate.finishReason;
    }
  }

  if (choices.size === 0) {
    yield chunk(0, { role: "assistant", content: "" });
    yield chunk(0, {}, blocked ? "content_filter" : "stop");
  }
  for (const [index, state] of [...choices].sort(([a], [b]) => a - b)) {
    for (const field of ["reasoning_content", "content"] as const) {
      if (state.pending[field] !== "") yield chunk(index, { [field]: state.pending[field] });
    }
    yield chunk(index, {}, mapGeminiFinishReasonToOpenAI(state.finishReason));
  }
  if (options.includeUsage) {
    yield { ...chunk(0, {}), choices: [], usage: convertGeminiUsageToOpenAI(usage) };
  }
}

function hasCounts(metadata: UsageMetadata | undefined): metadata is UsageMetadata {
  return metadata !== undefined && Object.values(metadata).some((value) => typeof value === "number");
}

function takeWhole(pending: ChoiceState["pending"], field: keyof ChoiceState["pending"], text: string): string {
  const joined = pending[field] + text;
  const last = joined.charCodeAt(joined.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) {
    pending[field] = joined.slice(-1);
    return joined.slice(0, -1);
  }
  pending[field] = "";
  return joined;
}
