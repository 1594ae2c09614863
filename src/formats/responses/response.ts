// Hub response → OpenAI Responses object. Output items follow Gemini's parts in order: thoughts as
// a reasoning item (its summary; Gemini's thought signature in encrypted_content, so it comes back
// with the next request), text as a message item, calls as function_call items (custom_tool_call
// for freeform tools). The stream translator builds the same object for response.completed.
import type { GenerateContentResponse, Part, UsageMetadata } from "../../hub.ts";
import { groundingToAnnotations } from "../openai/annotations.ts";
import { CUSTOM_TOOL_ARGUMENT, SIGNATURE_PREFIX, type Item, type Json } from "./request.ts";

export interface ResponsesContext {
  responseId: string;
  createdAtSeconds: number;
  requestedModel: string;
  makeId: (prefix: "msg" | "fc" | "rs" | "call" | "ctc") => string;
  toolName: (geminiName: string) => string;
  customTools: ReadonlySet<string>;
  /** The request's settings, echoed in the response object as OpenAI does. */
  echo: Json;
}

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export function usageOf(metadata: UsageMetadata | undefined): ResponsesUsage {
  const input = metadata?.promptTokenCount ?? 0;
  const reasoning = metadata?.thoughtsTokenCount ?? 0;
  const output = (metadata?.candidatesTokenCount ?? 0) + reasoning;
  return {
    input_tokens: input, input_tokens_details: { cached_tokens: metadata?.cachedContentTokenCount ?? 0 },
    output_tokens: output, output_tokens_details: { reasoning_tokens: reasoning }, total_tokens: input + output,
  };
}

const CONTENT_FILTERS = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"]);

/** completed, or incomplete with why (the output limit, a content filter). */
export function statusOf(finishReason: string | undefined, blocked: boolean): { status: "completed" | "incomplete"; incomplete_details: { reason: string } | null } {
  if (finishReason === "MAX_TOKENS") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (blocked || (finishReason && CONTENT_FILTERS.has(finishReason))) return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/** A function call part as its output item (a custom tool's call gives back its one string). */
export function callItem(part: Part, context: ResponsesContext): Item {
  const call = part.functionCall!;
  const name = context.toolName(call.name);
  const callId = call.id || context.makeId("call");
  if (context.customTools.has(name)) {
    return { type: "custom_tool_call", id: context.makeId("ctc"), call_id: callId, name, input: String((call.args ?? {})[CUSTOM_TOOL_ARGUMENT] ?? ""), status: "completed" };
  }
  return { type: "function_call", id: context.makeId("fc"), call_id: callId, name, arguments: JSON.stringify(call.args ?? {}), status: "completed" };
}

export function reasoningItem(id: string, summary: string, signature: string | undefined): Item {
  return {
    type: "reasoning", id, summary: summary === "" ? [] : [{ type: "summary_text", text: summary }],
    ...(signature ? { encrypted_content: `${SIGNATURE_PREFIX}${signature}` } : {}),
  };
}

export function messageItem(id: string, text: string, status = "completed", grounding?: unknown): Item {
  return { type: "message", id, status, role: "assistant", content: [{ type: "output_text", text, annotations: annotationsOf(grounding, text), logprobs: [] }] };
}

/** Google Search grounding as Responses' url_citation annotations (flat, unlike chat's). */
export function annotationsOf(grounding: unknown, text: string): Json[] {
  return groundingToAnnotations(grounding, text).map(({ url_citation: citation }) => ({ type: "url_citation", ...citation }));
}

export function responseObject(context: ResponsesContext, fields: { status: string; output: Item[]; usage: ResponsesUsage | null; incomplete_details?: { reason: string } | null; error?: Json | null }): Json {
  return {
    id: `resp_${context.responseId}`, object: "response", created_at: context.createdAtSeconds, status: fields.status,
    error: fields.error ?? null, incomplete_details: fields.incomplete_details ?? null, model: context.requestedModel,
    output: fields.output, usage: fields.usage, ...context.echo,
  };
}

export function hubResponseToResponses(response: GenerateContentResponse, context: ResponsesContext): Json {
  const candidate = response.candidates?.[0];
  const parts = candidate?.content?.parts ?? [];
  const output: Item[] = [];
  const signature = parts.find((part) => part.thoughtSignature)?.thoughtSignature;
  const thoughts = parts.filter((part) => part.thought === true && typeof part.text === "string").map((part) => part.text).join("");
  if (thoughts !== "" || signature) output.push(reasoningItem(context.makeId("rs"), thoughts, signature));
  let text = "";
  const flushText = () => {
    if (text !== "") output.push(messageItem(context.makeId("msg"), text, "completed", candidate?.groundingMetadata));
    text = "";
  };
  for (const part of parts) {
    if (part.functionCall) {
      flushText();
      output.push(callItem(part, context));
    } else if (typeof part.text === "string" && part.thought !== true) text += part.text;
  }
  flushText();
  const { status, incomplete_details } = statusOf(candidate?.finishReason, !candidate && response.promptFeedback?.blockReason !== undefined);
  return responseObject(context, { status, output, usage: usageOf(response.usageMetadata), incomplete_details });
}
