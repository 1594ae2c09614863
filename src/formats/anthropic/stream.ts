// Hub response chunks → Anthropic stream events: message_start, then per block
// content_block_start / _delta / _stop, then message_delta (stop reason, usage) and message_stop.
// One generator per request, state in locals. A thinking block ends with a signature_delta
// carrying Gemini's thought signature (which may arrive on the part after the thoughts).
import type { GenerateContentResponse, UsageMetadata } from "../../hub.ts";
import { stopReasonOf, toolUseOf, usageOf } from "./response.ts";
import type { AnthropicContext, StreamEvent } from "./types.ts";

type OpenBlock = { kind: "text" | "thinking" | "tool_use"; index: number };

export async function* hubStreamToAnthropic(chunks: AsyncIterable<GenerateContentResponse>, context: AnthropicContext): AsyncGenerator<StreamEvent> {
  let started = false;
  let open: OpenBlock | undefined;
  let next = 0;
  let signature: string | undefined;
  let signed = false;
  let usage: UsageMetadata | undefined;
  let finishReason: string | undefined;
  let sawToolUse = false;
  let blocked = false;
  const events: StreamEvent[] = [];
  const close = () => {
    if (!open) return;
    if (open.kind === "thinking" && signature && !signed) {
      events.push({ type: "content_block_delta", index: open.index, delta: { type: "signature_delta", signature } });
      signed = true;
    }
    events.push({ type: "content_block_stop", index: open.index });
    open = undefined;
  };
  const start = (kind: OpenBlock["kind"], block: Record<string, unknown>) => {
    close();
    open = { kind, index: next++ };
    events.push({ type: "content_block_start", index: open.index, content_block: block });
    return open.index;
  };

  for await (const response of chunks) {
    if (response.usageMetadata && (response.usageMetadata.promptTokenCount !== undefined || response.usageMetadata.candidatesTokenCount !== undefined)) usage = response.usageMetadata;
    if (response.promptFeedback?.blockReason) blocked = true;
    if (!started) {
      started = true;
      yield {
        type: "message_start",
        message: {
          id: `msg_${context.messageId}`, type: "message", role: "assistant", model: context.requestedModel, content: [],
          stop_reason: null, stop_sequence: null, usage: { ...usageOf(usage), output_tokens: 0 },
        },
      };
    }
    const candidate = response.candidates?.[0];
    if (candidate?.finishReason) finishReason = candidate.finishReason;
    for (const part of candidate?.content?.parts ?? []) {
      if (part.thoughtSignature && signature === undefined) signature = part.thoughtSignature;
      if (part.functionCall) {
        sawToolUse = true;
        const block = toolUseOf(part, context);
        const index = start("tool_use", { type: "tool_use", id: block.id, name: block.name, input: {} });
        events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) } });
        close();
      } else if (typeof part.text === "string" && part.thought === true) {
        if (open?.kind !== "thinking") start("thinking", { type: "thinking", thinking: "", signature: "" });
        if (part.text !== "") events.push({ type: "content_block_delta", index: open!.index, delta: { type: "thinking_delta", thinking: part.text } });
      } else if (typeof part.text === "string" && part.text !== "") {
        if (open?.kind !== "text") start("text", { type: "text", text: "" });
        events.push({ type: "content_block_delta", index: open!.index, delta: { type: "text_delta", text: part.text } });
      }
    }
    for (const event of events) yield event;
    events.length = 0;
  }
  close();
  for (const event of events) yield event;
  if (!started) {
    yield { type: "message_start", message: { id: `msg_${context.messageId}`, type: "message", role: "assistant", model: context.requestedModel, content: [], stop_reason: null, stop_sequence: null, usage: usageOf(undefined) } };
  }
  const final = usageOf(usage);
  yield {
    type: "message_delta",
    delta: { stop_reason: stopReasonOf(finishReason, sawToolUse, blocked && !finishReason), stop_sequence: null },
    usage: { input_tokens: final.input_tokens, output_tokens: final.output_tokens, cache_read_input_tokens: final.cache_read_input_tokens },
  };
  yield { type: "message_stop" };
}
