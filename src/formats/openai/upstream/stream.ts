// OpenAI chat.completion.chunk stream (from an OpenAI-compatible upstream) → hub chunks
// (translation.md §5.2). Text and reasoning flow through as they come; tool-call fragments are
// accumulated and emitted once, whole, on the final chunk together with finishReason and usage.
import type { GenerateContentResponse, UsageMetadata } from "../../../hub.ts";
import { convertOpenAIUsage, functionCallParts, mapOpenAIFinishReason, type OpenAIToHubContext } from "./response.ts";

type Json = Record<string, any>;

interface PendingCall {
  id?: string;
  name: string;
  arguments: string;
}

export async function* openAIStreamToHub(chunks: AsyncIterable<Json>, context: OpenAIToHubContext): AsyncGenerator<GenerateContentResponse> {
  const calls: PendingCall[] = [];
  const byIndex = new Map<number, PendingCall>();
  const byId = new Map<string, PendingCall>();
  let reasoning = "";
  let finishReason: string | undefined;
  let usage: UsageMetadata | undefined;
  let responseId: string | undefined;
  // A leading <think>…</think> in content (R1 distills on Ollama, vLLM) is reasoning too.
  let thinkState: "unknown" | "inside" | "done" = "unknown";
  let held = "";

  const emit = (parts: Json[]): GenerateContentResponse => ({
    candidates: [{ content: { role: "model", parts }, index: 0 }],
    modelVersion: context.modelVersion,
    ...(responseId ? { responseId } : {}),
  });

  for await (const chunk of chunks) {
    responseId ??= typeof chunk.id === "string" ? chunk.id : undefined;
    const converted = convertOpenAIUsage(chunk.usage);
    if (converted) usage = converted;
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
    if (!choice) continue;
    const delta = (choice.delta ?? {}) as Json;
    const thought = typeof delta.reasoning_content === "string" ? delta.reasoning_content : typeof delta.reasoning === "string" ? delta.reasoning : "";
    if (thought) {
      reasoning += thought;
      yield emit([{ text: thought, thought: true }]);
    }
    if (typeof delta.content === "string" && delta.content !== "") {
      for (const piece of splitThink(delta.content)) {
        if (piece.thought) reasoning += piece.text;
        if (piece.text) yield emit([{ text: piece.text, ...(piece.thought ? { thought: true } : {}) }]);
      }
    }
    for (const fragment of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) accumulate(fragment);
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  if (held) yield emit([{ text: held, ...((thinkState as string) === "inside" ? { thought: true } : {}) }]);

  const parts = functionCallParts(calls, reasoning, context);
  const final: GenerateContentResponse = {
    candidates: [{ content: { role: "model", parts: parts.length > 0 ? parts : [{ text: "" }] }, finishReason: mapOpenAIFinishReason(finishReason), index: 0 }],
    modelVersion: context.modelVersion,
    ...(responseId ? { responseId } : {}),
  };
  if (usage) final.usageMetadata = usage;
  yield final;

  function accumulate(fragment: Json): void {
    const index = typeof fragment.index === "number" ? fragment.index : undefined;
    let call = index !== undefined ? byIndex.get(index) : typeof fragment.id === "string" && fragment.id ? byId.get(fragment.id) : calls.at(-1);
    // A new id on a known index is a new call (seen on buggy servers).
    if (call && fragment.id && call.id && fragment.id !== call.id) call = undefined;
    if (!call) {
      call = { id: fragment.id || undefined, name: "", arguments: "" };
      calls.push(call);
      if (index !== undefined) byIndex.set(index, call);
    }
    call.id ||= fragment.id || undefined;
    if (call.id) byId.set(call.id, call);
    const fn = (fragment.function ?? {}) as Json;
    if (typeof fn.name === "string" && !call.name.endsWith(fn.name)) call.name += fn.name;
    if (typeof fn.arguments === "string") call.arguments += fn.arguments;
    else if (fn.arguments && typeof fn.arguments === "object") call.arguments = JSON.stringify(fn.arguments);
  }

  function splitThink(text: string): { text: string; thought: boolean }[] {
    if (thinkState === "done") return [{ text, thought: false }];
    held += text;
    if (thinkState === "unknown") {
      const trimmed = held.trimStart();
      if ("<think>".startsWith(trimmed)) return []; // could still become <think>
      if (!trimmed.startsWith("<think>")) {
        thinkState = "done";
        const out = held;
        held = "";
        return [{ text: out, thought: false }];
      }
      thinkState = "inside";
      held = trimmed.slice("<think>".length);
    }
    const end = held.indexOf("</think>");
    if (end < 0) {
      // Keep back what might be the start of "</think>".
      const keep = Math.min(held.length, "</think>".length - 1);
      const out = held.slice(0, held.length - keep);
      held = held.slice(held.length - keep);
      return [{ text: out, thought: true }];
    }
    const inside = held.slice(0, end);
    const after = held.slice(end + "</think>".length).replace(/^\s+/, "");
    held = "";
    thinkState = "done";
    return [{ text: inside, thought: true }, { text: after, thought: false }];
  }
}
