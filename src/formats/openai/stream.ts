// Hub response chunks → OpenAI chat.completion.chunk objects (translation.md §3.2). One generator
// per request; its state lives in locals. Framing (data: …, [DONE]) is http/sse.ts's job.
import type { GenerateContentResponse, UsageMetadata } from "../../hub.ts";
import { groundingToAnnotations } from "./annotations.ts";
import { mapGeminiFinishReasonToOpenAI } from "./finish-reason.ts";
import { convertGeminiLogprobs } from "./logprobs.ts";
import { toolCallOf } from "./response.ts";
import type { ChatCompletionChunk, ChatCompletionDelta, ChatLogprobs, FinishReason, TranslateContext } from "./types.ts";
import { convertGeminiUsageToOpenAI } from "./usage.ts";

export interface StreamOptions {
  includeUsage: boolean;
}

type TextField = "content" | "reasoning_content" | "reasoning";

interface ChoiceState {
  finishReason?: string;
  toolCalls: number;
  /** think_tags mode: a <think> was opened and not yet closed. */
  thinking: boolean;
  /** All visible text so far: grounding offsets refer to it. */
  text: string;
  grounding?: unknown;
  /** A high surrogate held back so a code point is never split between two deltas. */
  pending: Partial<Record<TextField, string>>;
}

export async function* hubStreamToOpenAI(
  chunks: AsyncIterable<GenerateContentResponse>,
  context: TranslateContext,
  options: StreamOptions,
): AsyncGenerator<ChatCompletionChunk> {
  const reasoningField = context.reasoningField ?? "reasoning_content";
  const choices = new Map<number, ChoiceState>();
  let usage: UsageMetadata | undefined;
  let blocked = false;
  const chunk = (index: number, delta: ChatCompletionDelta, finish: FinishReason | null = null, logprobs: ChatLogprobs | null = null): ChatCompletionChunk => ({
    id: `chatcmpl-${context.responseId}`,
    object: "chat.completion.chunk",
    created: context.createdAtSeconds,
    model: context.requestedModel,
    choices: [{ index, delta, logprobs, finish_reason: finish }],
  });
  // A plain function, not a generator: `yield*` of a sync generator costs an iterator per part.
  function text(index: number, state: ChoiceState, field: TextField, value: string, logprobs: ChatLogprobs | null = null): ChatCompletionChunk | undefined {
    const whole = takeWhole(state.pending, field, value);
    return whole !== "" ? chunk(index, { [field]: whole }, null, logprobs) : undefined;
  }

  for await (const response of chunks) {
    // Each chunk's usage is a running total: keep the last one that has counts.
    if (hasCounts(response.usageMetadata)) usage = response.usageMetadata;
    if (response.promptFeedback?.blockReason) blocked = true;
    const candidates = response.candidates ?? [];
    for (let position = 0; position < candidates.length; position++) {
      const candidate = candidates[position]!;
      const index = candidate.index ?? position;
      let state = choices.get(index);
      if (!state) {
        state = { toolCalls: 0, thinking: false, text: "", pending: {} };
        choices.set(index, state);
        yield chunk(index, { role: "assistant", content: "" });
      }
      const logprobs = candidate.logprobsResult === undefined ? null : convertGeminiLogprobs(candidate.logprobsResult);
      for (const part of candidate.content?.parts ?? []) {
        if (part.functionCall) {
          yield* flush(index, state);
          if (state.thinking) {
            state.thinking = false;
            yield chunk(index, { content: "</think>\n" });
          }
          // One whole call per chunk: Cline tracks only the latest id/name, the AI SDK wants all
          // of id, type and name on the first delta of an index (translation.md §6 rows 35–36).
          yield chunk(index, { tool_calls: [{ index: state.toolCalls++, ...toolCallOf(part, context) }] });
          continue;
        }
        if (typeof part.text !== "string" || part.text === "") continue;
        if (part.thought === true) {
          if (reasoningField === "hidden") continue;
          if (reasoningField === "think_tags") {
            const open = state.thinking ? "" : "<think>";
            state.thinking = true;
            const delta = text(index, state, "content", open + part.text);
            if (delta) yield delta;
          } else {
            const delta = text(index, state, reasoningField, part.text);
            if (delta) yield delta;
          }
          continue;
        }
        const close = state.thinking ? "</think>\n" : "";
        state.thinking = false;
        state.text += part.text;
        const delta = text(index, state, "content", close + part.text, logprobs);
        if (delta) yield delta;
      }
      if (candidate.groundingMetadata) state.grounding = candidate.groundingMetadata;
      if (candidate.finishReason) state.finishReason = candidate.finishReason;
    }
  }

  if (choices.size === 0) {
    yield chunk(0, { role: "assistant", content: "" });
    yield chunk(0, {}, blocked ? "content_filter" : "stop");
  }
  for (const [index, state] of [...choices].sort(([a], [b]) => a - b)) {
    yield* flush(index, state);
    if (state.thinking) yield chunk(index, { content: "</think>\n" });
    const annotations = groundingToAnnotations(state.grounding, state.text);
    if (annotations.length > 0) yield chunk(index, { annotations });
    const finish = chunk(index, {}, mapGeminiFinishReasonToOpenAI(state.finishReason, state.toolCalls > 0));
    if (state.finishReason) finish.choices[0]!.native_finish_reason = state.finishReason;
    yield finish;
  }
  if (options.includeUsage) {
    yield { ...chunk(0, {}), choices: [], usage: convertGeminiUsageToOpenAI(usage) };
  }

  function* flush(index: number, state: ChoiceState) {
    for (const [field, held] of Object.entries(state.pending) as [TextField, string][]) {
      if (held) yield chunk(index, { [field]: held });
    }
    state.pending = {};
  }
}

function hasCounts(metadata: UsageMetadata | undefined): metadata is UsageMetadata {
  if (metadata === undefined) return false;
  for (const key in metadata) if (typeof metadata[key] === "number") return true;
  return false;
}

function takeWhole(pending: ChoiceState["pending"], field: TextField, text: string): string {
  const joined = (pending[field] ?? "") + text;
  const last = joined.charCodeAt(joined.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) {
    pending[field] = joined.slice(-1);
    return joined.slice(0, -1);
  }
  pending[field] = "";
  return joined;
}
