// OpenAI chat completion (from an OpenAI-compatible upstream) → hub response (translation.md §5.1, §5.3).
import type { Candidate, GenerateContentResponse, Part, UsageMetadata } from "../../../hub.ts";
import { parseToolArguments } from "../arguments.ts";
import { SIGNATURE_SENTINEL } from "../../history.ts";
import { reasoningToSignature } from "./carrier.ts";

export interface OpenAIToHubContext {
  /** OpenAI-side tool names → the Gemini client's. */
  toolNames: { decode(name: string): string };
  /** The model name to report (what the client asked for). */
  modelVersion: string;
}

type Json = Record<string, any>;

export function openAIResponseToHub(response: Json, context: OpenAIToHubContext): GenerateContentResponse {
  const choices: Json[] = Array.isArray(response.choices) ? response.choices : [];
  const candidates: Candidate[] = choices.map((choice, position) => {
    const message = (choice.message ?? {}) as Json;
    const { reasoning, text } = splitReasoning(message);
    const parts: Part[] = [];
    if (reasoning) parts.push({ text: reasoning, thought: true });
    if (text) parts.push({ text });
    const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
    parts.push(...functionCallParts(calls.map((call: Json) => ({ id: call.id, name: call.function?.name, arguments: call.function?.arguments })), reasoning, context));
    return { index: choice.index ?? position, content: { role: "model", parts: parts.length > 0 ? parts : [{ text: "" }] }, finishReason: mapOpenAIFinishReason(choice.finish_reason) };
  });
  const out: GenerateContentResponse = { candidates, modelVersion: context.modelVersion };
  const usage = convertOpenAIUsage(response.usage);
  if (usage) out.usageMetadata = usage;
  if (typeof response.id === "string") out.responseId = response.id;
  return out;
}

/** Accumulated tool calls → functionCall parts; the first carries the turn's reasoning home. */
export function functionCallParts(calls: { id?: string; name?: string; arguments?: unknown }[], reasoning: string, context: OpenAIToHubContext): Part[] {
  return calls.filter((call) => call.name).map((call, index) => {
    const part: Part = { functionCall: { name: context.toolNames.decode(call.name!), args: parseToolArguments(call.arguments), ...(call.id ? { id: call.id } : {}) } };
    if (index === 0) part.thoughtSignature = reasoning ? reasoningToSignature(reasoning) : SIGNATURE_SENTINEL;
    return part;
  });
}

/** reasoning_content (DeepSeek, Kimi), reasoning (OpenRouter, Ollama), or a leading <think> block. */
function splitReasoning(message: Json): { reasoning: string; text: string } {
  let reasoning = typeof message.reasoning_content === "string" ? message.reasoning_content
    : typeof message.reasoning === "string" ? message.reasoning
    : Array.isArray(message.reasoning_details) ? message.reasoning_details.map((detail: Json) => detail.text ?? "").join("") : "";
  let text = typeof message.content === "string" ? message.content : "";
  const think = /^\s*<think>([\s\S]*?)<\/think>\s*/.exec(text);
  if (think) {
    reasoning += think[1];
    text = text.slice(think[0].length);
  }
  return { reasoning, text };
}

export function mapOpenAIFinishReason(reason: unknown): string {
  switch (reason) {
    case "length":
      return "MAX_TOKENS";
    case "content_filter":
      return "SAFETY";
    case "insufficient_system_resource":
      return "OTHER";
    default:
      return "STOP";
  }
}

/** §5.3: reasoning tokens move out of candidates into thoughts. */
export function convertOpenAIUsage(usage: Json | undefined | null): UsageMetadata | undefined {
  if (!usage || typeof usage !== "object") return undefined;
  const prompt = Number(usage.prompt_tokens ?? 0);
  const completion = Number(usage.completion_tokens ?? 0);
  const reasoning = Number(usage.completion_tokens_details?.reasoning_tokens ?? 0);
  const cached = usage.prompt_tokens_details?.cached_tokens ?? usage.prompt_cache_hit_tokens ?? usage.cached_tokens;
  const metadata: UsageMetadata = {
    promptTokenCount: prompt,
    candidatesTokenCount: Math.max(0, completion - reasoning),
    totalTokenCount: Number(usage.total_tokens ?? prompt + completion),
  };
  if (reasoning > 0) metadata.thoughtsTokenCount = reasoning;
  if (typeof cached === "number") metadata.cachedContentTokenCount = cached;
  return metadata;
}
