// Hub (Gemini) request → OpenAI chat completion request, for OpenAI-compatible upstreams
// (translation.md §4). Profiles carry the quirks of specific servers (§4.4, §7).
import type { Content, GenerateContentRequest, Part } from "../../../hub.ts";
import { sanitizeOpenAIToolName, ToolNames } from "../tool-names.ts";
import { signatureToReasoning } from "./carrier.ts";

export type UpstreamProfile = "generic" | "deepseek" | "kimi" | "ollama";

export interface HubToOpenAIOptions {
  /** The model name the upstream knows. */
  model: string;
  profile: UpstreamProfile;
  stream: boolean;
}

export interface OpenAIRequestResult {
  body: Record<string, unknown>;
  /** OpenAI-side tool names → the Gemini client's names, for the response. */
  toolNames: ToolNames;
  warnings: string[];
}

type Message = Record<string, unknown>;
type Json = Record<string, any>;

/** Servers whose thinking mode needs each tool-calling turn's reasoning sent back. */
const REPLAYS_REASONING: ReadonlySet<UpstreamProfile> = new Set(["deepseek", "kimi"]);
/** Servers that fix sampling themselves (and may reject temperature/top_p). */
const FIXED_SAMPLING: ReadonlySet<UpstreamProfile> = new Set(["deepseek", "kimi"]);

export function hubRequestToOpenAI(request: GenerateContentRequest, options: HubToOpenAIOptions): OpenAIRequestResult {
  const warnings: string[] = [];
  const names = new ToolNames(sanitizeOpenAIToolName);
  const body: Record<string, unknown> = { model: options.model };
  const messages: Message[] = [];

  const systemText = (request.systemInstruction?.parts ?? []).filter((part) => typeof part.text === "string" && part.text !== "").map((part) => part.text).join("\n\n");
  if (systemText) messages.push({ role: "system", content: systemText });
  messages.push(...convertContents(request.contents ?? [], names, options.profile));
  body.messages = messages;

  const config = (request.generationConfig ?? {}) as Json;
  const thinking = config.thinkingConfig as Json | undefined;
  const effort = effortOf(thinking);
  if (!(FIXED_SAMPLING.has(options.profile))) {
    if (config.temperature !== undefined) body.temperature = config.temperature;
    if (config.topP !== undefined) body.top_p = config.topP;
  }
  if (config.topK !== undefined && options.profile === "ollama") body.top_k = config.topK;
  if (config.maxOutputTokens !== undefined) body[options.profile === "kimi" ? "max_completion_tokens" : "max_tokens"] = config.maxOutputTokens;
  if (Array.isArray(config.stopSequences) && config.stopSequences.length > 0) body.stop = config.stopSequences;
  if (typeof config.candidateCount === "number" && config.candidateCount > 1) body.n = config.candidateCount;
  for (const [from, to] of [["presencePenalty", "presence_penalty"], ["frequencyPenalty", "frequency_penalty"], ["seed", "seed"]] as const) {
    if (config[from] !== undefined) body[to] = config[from];
  }
  if (effort !== undefined) {
    if (options.profile === "deepseek") body.thinking = { type: effort === "none" ? "disabled" : "enabled" };
    else if (effort !== "none" || options.profile !== "kimi") body.reasoning_effort = effort;
  }

  applyJsonMode(config, body, messages, options.profile);
  applyTools(request, body, names, options.profile, effort, warnings);
  if (options.stream) {
    body.stream = true;
    // Gemini clients need promptTokenCount on the last chunk: always ask for usage.
    body.stream_options = { include_usage: true };
  }
  return { body, toolNames: names, warnings };
}

/** §4.2: model turns → assistant messages; user turns → tool results first, then the rest. */
function convertContents(contents: Content[], names: ToolNames, profile: UpstreamProfile): Message[] {
  const messages: Message[] = [];
  // Calls without an answer yet, by name, so responses without ids pair first-in first-out; a
  // queue with a moving head and an ordered set keep pairing linear in the history's length.
  const pending = new Map<string, { ids: string[]; head: number }>();
  const open = new Set<string>();
  contents.forEach((content, contentIndex) => {
    const parts = (content.parts ?? []).filter((part) => part.thought !== true);
    if (content.role === "model") {
      closeMissing(messages, open);
      const text = textOf(parts);
      const calls = parts.filter((part) => part.functionCall);
      const toolCalls = calls.map((part, callIndex) => {
        const call = part.functionCall!;
        const id = call.id || deterministicId(contentIndex, callIndex, call.name, call.args);
        const queue = pending.get(call.name);
        if (queue) queue.ids.push(id);
        else pending.set(call.name, { ids: [id], head: 0 });
        open.add(id);
        return { id, type: "function", function: { name: names.encode(call.name), arguments: JSON.stringify(call.args ?? {}) } };
      });
      if (!text && toolCalls.length === 0) return;
      const message: Message = { role: "assistant", content: text || null };
      if (toolCalls.length > 0) {
        message.tool_calls = toolCalls;
        if (REPLAYS_REASONING.has(profile)) message.reasoning_content = signatureToReasoning(calls[0]!.thoughtSignature) ?? "";
      }
      messages.push(message);
      return;
    }
    const rest: Part[] = [];
    for (const part of parts) {
      const response = part.functionResponse;
      if (!response) {
        rest.push(part);
        continue;
      }
      const queue = pending.get(response.name);
      while (queue && queue.head < queue.ids.length && !open.has(queue.ids[queue.head]!)) queue.head++;
      const id = response.id && open.has(response.id) ? response.id : queue?.ids[queue.head] ?? response.id ?? deterministicId(contentIndex, 0, response.name, response.response);
      open.delete(id);
      messages.push({ role: "tool", tool_call_id: id, content: toolOutput(response.response) });
      for (const attachment of (response as { parts?: Part[] }).parts ?? []) rest.push(attachment);
    }
    closeMissing(messages, open);
    const userContent = userContentOf(rest);
    if (userContent !== undefined) messages.push({ role: "user", content: userContent });
  });
  closeMissing(messages, open);
  return messages;
}

/** OpenAI servers reject an assistant tool_calls message not followed by every result. */
function closeMissing(messages: Message[], open: Set<string>): void {
  for (const id of open) messages.push({ role: "tool", tool_call_id: id, content: "Error: tool result missing" });
  open.clear();
}

function toolOutput(response: unknown): string {
  if (typeof response !== "object" || response === null) return JSON.stringify(response ?? {});
  const entries = Object.entries(response as Json);
  if (entries.length === 1) {
    const [key, value] = entries[0]!;
    if (key === "error") return `Error: ${typeof value === "string" ? value : JSON.stringify(value)}`;
    if (["output", "content", "result"].includes(key)) return typeof value === "string" ? value : JSON.stringify(value);
  }
  return JSON.stringify(response);
}

function userContentOf(parts: Part[]): string | Json[] | undefined {
  if (parts.length === 0) return undefined;
  if (parts.every((part) => typeof part.text === "string")) {
    const text = textOf(parts);
    return text === "" ? undefined : text;
  }
  return parts.flatMap((part): Json[] => {
    if (typeof part.text === "string") return part.text === "" ? [] : [{ type: "text", text: part.text }];
    const inline = part.inlineData;
    if (inline) {
      if (inline.mimeType.startsWith("image/")) return [{ type: "image_url", image_url: { url: `data:${inline.mimeType};base64,${inline.data}` } }];
      if (inline.mimeType.startsWith("audio/")) return [{ type: "input_audio", input_audio: { data: inline.data, format: inline.mimeType.includes("wav") ? "wav" : "mp3" } }];
      return [{ type: "file", file: { filename: `attachment.${inline.mimeType.split("/")[1] ?? "bin"}`, file_data: `data:${inline.mimeType};base64,${inline.data}` } }];
    }
    const file = part.fileData;
    if (file) {
      return (file.mimeType ?? "").startsWith("image/") ? [{ type: "image_url", image_url: { url: file.fileUri } }] : [{ type: "text", text: `[file: ${file.fileUri}]` }];
    }
    return [];
  });
}

/** §4.4: thinkingLevel as is; thinkingBudget by CLIProxyAPI's thresholds. */
function effortOf(thinking: Json | undefined): string | undefined {
  if (!thinking) return undefined;
  if (typeof thinking.thinkingLevel === "string" && thinking.thinkingLevel !== "THINKING_LEVEL_UNSPECIFIED") return thinking.thinkingLevel.toLowerCase();
  const budget = thinking.thinkingBudget;
  if (typeof budget !== "number" || budget < 0) return undefined;
  if (budget === 0) return "none";
  if (budget <= 512) return "minimal";
  if (budget <= 1024) return "low";
  if (budget <= 8192) return "medium";
  if (budget <= 24576) return "high";
  return "xhigh";
}

function applyJsonMode(config: Json, body: Json, messages: Message[], profile: UpstreamProfile): void {
  if (config.responseMimeType !== "application/json") return;
  const schema = config.responseJsonSchema ?? (config.responseSchema ? openAPIToJsonSchema(config.responseSchema) : undefined);
  if (schema && profile !== "deepseek") {
    body.response_format = { type: "json_schema", json_schema: { name: "response", schema: stripSchemaMeta(schema), strict: false } };
    return;
  }
  // DeepSeek knows only json_object, and wants the word "json" in the prompt.
  body.response_format = { type: "json_object" };
  const instruction = schema ? `Respond in json matching this JSON schema: ${JSON.stringify(stripSchemaMeta(schema))}` : "Respond in json.";
  const system = messages.find((message) => message.role === "system");
  if (system) system.content = `${system.content}\n\n${instruction}`;
  else messages.unshift({ role: "system", content: instruction });
}

function applyTools(request: GenerateContentRequest, body: Json, names: ToolNames, profile: UpstreamProfile, effort: string | undefined, warnings: string[]): void {
  const declarations: Json[] = [];
  for (const tool of request.tools ?? []) {
    const list = (tool as Json).functionDeclarations ?? (tool as Json).function_declarations;
    if (Array.isArray(list)) declarations.push(...list);
    else warnings.push(`tools: ${Object.keys(tool).join(", ")} has no OpenAI equivalent and was dropped`);
  }
  const config = (request.toolConfig as Json | undefined)?.functionCallingConfig as Json | undefined;
  const allowed: string[] | undefined = Array.isArray(config?.allowedFunctionNames) ? config.allowedFunctionNames : undefined;
  const offered = allowed && allowed.length > 0 ? declarations.filter((declaration) => allowed.includes(declaration.name)) : declarations;
  if (offered.length === 0) return;
  body.tools = offered.map((declaration) => ({
    type: "function",
    function: {
      name: names.encode(declaration.name),
      ...(declaration.description ? { description: declaration.description } : {}),
      parameters: declaration.parametersJsonSchema
        ? stripSchemaMeta(declaration.parametersJsonSchema)
        : declaration.parameters ? openAPIToJsonSchema(declaration.parameters) : { type: "object", properties: {} },
    },
  }));
  const mode = config?.mode;
  let choice: unknown;
  if (mode === "NONE") choice = "none";
  else if (mode === "ANY") choice = offered.length === 1 && allowed?.length === 1 ? { type: "function", function: { name: names.encode(offered[0]!.name) } } : "required";
  else if (mode === "AUTO" || mode === "VALIDATED") choice = "auto";
  // Kimi in thinking mode refuses forced tool choices: "auto" plus the filtered list is the closest.
  if (profile === "kimi" && effort !== "none" && choice !== undefined && choice !== "auto" && choice !== "none") choice = "auto";
  if (choice !== undefined) body.tool_choice = choice;
}

/** §4.3: the SDK's OpenAPI-style schema (upper-case types, nullable) → JSON Schema. */
export function openAPIToJsonSchema(schema: unknown): Json {
  if (typeof schema !== "object" || schema === null) return {};
  const input = schema as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(input)) {
    if (key === "nullable" || key === "propertyOrdering" || key === "example") continue;
    if (key === "format" && value === "enum") continue;
    if (key === "type" && typeof value === "string") out.type = value.toLowerCase();
    else if (key === "properties" && typeof value === "object" && value !== null) {
      out.properties = Object.fromEntries(Object.entries(value as Json).map(([name, child]) => [name, openAPIToJsonSchema(child)]));
    } else if (key === "items") out.items = openAPIToJsonSchema(value);
    else if (key === "anyOf" && Array.isArray(value)) out.anyOf = value.map(openAPIToJsonSchema);
    else out[key] = value;
  }
  if (input.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    else if (out.anyOf) out.anyOf.push({ type: "null" });
  }
  return out;
}

function stripSchemaMeta(schema: unknown): Json {
  if (typeof schema !== "object" || schema === null) return {};
  const { $schema: _schema, ...rest } = schema as Json;
  return rest;
}

function textOf(parts: readonly Part[]): string {
  return parts.filter((part) => typeof part.text === "string" && part.thought !== true).map((part) => part.text).join("");
}

/** A stable id for a call Gemini clients sent without one: the same history gives the same ids. */
function deterministicId(contentIndex: number, partIndex: number, name: string, args: unknown): string {
  let hash = 0x811c9dc5;
  for (const char of `${contentIndex}|${partIndex}|${name}|${JSON.stringify(args ?? {})}`) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `call_${hash.toString(16).padStart(8, "0")}${contentIndex.toString(36)}${partIndex.toString(36)}`;
}
