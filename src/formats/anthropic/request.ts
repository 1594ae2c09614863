// Anthropic Messages request → hub request. The history goes through formats/history.ts like the
// OpenAI one (pairing, merging, no model-first history); tools through the OpenAI tool converter
// (same schemas, same sanitising); thinking budgets through the per-model rules in
// formats/openai/thinking.ts. Fields that change nothing for Gemini (metadata, cache_control,
// output_config, context_management, defer_loading …) are accepted and dropped.
import { GatewayError, type GenerateContentRequest, type GenerationConfig, type Part } from "../../hub.ts";
import { pairAndMerge, SIGNATURE_SENTINEL, type Entry } from "../history.ts";
import { dataUrl, mimeFromName } from "../openai/messages.ts";
import type { SchemaProfile } from "../openai/schema.ts";
import { thinkingConfigFor, thinkingForBudget } from "../openai/thinking.ts";
import { ToolNames } from "../openai/tool-names.ts";
import { convertTools } from "../openai/tools.ts";
import type { ContentBlock, Json, MessagesRequest } from "./types.ts";

export interface AnthropicRequestOptions {
  /** The Gemini model that will serve (aliases resolved): thinking rules depend on it. */
  model: string;
  schemaProfile: SchemaProfile;
  /** The thought signature of a tool call we answered earlier, if still remembered. */
  signatureFor: (toolUseId: string) => string | undefined;
}

export interface AnthropicRequestResult {
  request: GenerateContentRequest;
  toolNames: ToolNames;
  warnings: string[];
}

/** Anthropic's server tools that Gemini has an equivalent of; other versioned client tools cannot be expressed. */
const SERVER_TOOLS: [RegExp, string][] = [[/^web_search_/, "web_search"], [/^code_execution_/, "code_execution"], [/^web_fetch_/, "url_context"]];

export function anthropicRequestToHub(body: MessagesRequest, options: AnthropicRequestOptions): AnthropicRequestResult {
  const names = new ToolNames();
  const warnings: string[] = [];
  const system: Part[] = systemParts(body.system, "system");
  const entries: Entry[] = [];
  body.messages.forEach((message, index) => {
    const where = `messages[${index}]`;
    if (typeof message !== "object" || message === null) throw GatewayError.invalidRequest(`${where} must be an object`, where);
    const blocks = blocksOf(message.content, where);
    switch (message.role) {
      case "user":
        userEntries(blocks, where, entries);
        break;
      case "assistant":
        entries.push(modelEntry(blocks, where, names, options));
        break;
      // Claude Code puts reminders in a system-role message between turns: they are instructions.
      case "system":
        system.push(...systemParts(message.content, where));
        break;
      default:
        throw GatewayError.invalidRequest(`${where}.role must be "user" or "assistant"`, `${where}.role`);
    }
  });

  const request: GenerateContentRequest = { contents: pairAndMerge(entries, names) };
  if (system.length > 0) request.systemInstruction = { role: "user", parts: system };
  const { tools, toolConfig } = convertTools(openAIShapedTools(body, warnings), names, options.schemaProfile, warnings);
  if (tools) request.tools = tools;
  if (toolConfig) request.toolConfig = toolConfig;
  const generationConfig = generationConfigOf(body, options.model);
  if (Object.keys(generationConfig).length > 0) request.generationConfig = generationConfig;
  return { request, toolNames: names, warnings };
}

function blocksOf(content: unknown, where: string): ContentBlock[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  if (!Array.isArray(content)) throw GatewayError.invalidRequest(`${where}.content must be a string or an array of content blocks`, `${where}.content`);
  content.forEach((block, index) => {
    if (typeof block !== "object" || block === null || typeof (block as ContentBlock).type !== "string") {
      throw GatewayError.invalidRequest(`${where}.content[${index}] must be a content block with a "type"`, `${where}.content[${index}]`);
    }
  });
  return content as ContentBlock[];
}

function systemParts(system: unknown, where: string): Part[] {
  if (system === undefined || system === null) return [];
  return blocksOf(system, where).flatMap((block, index) => {
    if (block.type !== "text" || typeof block.text !== "string") throw GatewayError.invalidRequest(`${where}[${index}] must be a text block`, `${where}[${index}]`);
    return block.text === "" ? [] : [{ text: block.text }];
  });
}

/** A user message: its text and media, and its tool results (each its own entry, to be paired). */
function userEntries(blocks: ContentBlock[], where: string, entries: Entry[]): void {
  const parts: Part[] = [];
  blocks.forEach((block, index) => {
    const at = `${where}.content[${index}]`;
    if (block.type === "tool_result") {
      const id = typeof block.tool_use_id === "string" ? block.tool_use_id : undefined;
      if (!id) throw GatewayError.invalidRequest(`${at}.tool_use_id must name the tool_use it answers`, `${at}.tool_use_id`);
      const texts: string[] = [];
      const media: Part[] = [];
      if (typeof block.content === "string") texts.push(block.content);
      else if (Array.isArray(block.content)) {
        blocksOf(block.content, `${at}.content`).forEach((inner, position) => {
          if (inner.type === "text" && typeof inner.text === "string") texts.push(inner.text);
          else media.push(...mediaParts(inner, `${at}.content[${position}]`));
        });
      }
      entries.push({ kind: "tool", id, output: texts.join("\n"), media, error: block.is_error === true });
    } else parts.push(...mediaParts(block, at));
  });
  if (parts.length > 0) entries.push({ kind: "user", parts });
}

/** Text, images and documents; anything else a user turn may hold is refused by name. */
function mediaParts(block: ContentBlock, where: string): Part[] {
  switch (block.type) {
    case "text":
      if (typeof block.text !== "string") throw GatewayError.invalidRequest(`${where}.text must be a string`, `${where}.text`);
      return block.text === "" ? [] : [{ text: block.text }];
    case "image":
    case "document":
      return [sourcePart(block, where)];
    // Earlier answers' own bookkeeping, replayed by clients: nothing Gemini needs.
    case "thinking":
    case "redacted_thinking":
    case "search_result":
    case "server_tool_use":
    case "web_search_tool_result":
      return [];
    default:
      throw GatewayError.invalidRequest(`${where}: content block type "${block.type}" is not supported here`, `${where}.type`);
  }
}

function sourcePart(block: ContentBlock, where: string): Part {
  const source = block.source as Json | undefined;
  if (typeof source !== "object" || source === null) throw GatewayError.invalidRequest(`${where}.source must be an object`, `${where}.source`);
  const fallbackType = block.type === "image" ? "image/jpeg" : "application/pdf";
  switch (source.type) {
    case "base64":
      if (typeof source.data !== "string") throw GatewayError.invalidRequest(`${where}.source.data must be base64 text`, `${where}.source.data`);
      return { inlineData: { mimeType: typeof source.media_type === "string" ? source.media_type : fallbackType, data: source.data.replace(/\s+/g, "") } };
    case "text":
      if (typeof source.data !== "string") throw GatewayError.invalidRequest(`${where}.source.data must be text`, `${where}.source.data`);
      return { text: typeof block.title === "string" ? `${block.title}\n\n${source.data}` : source.data };
    case "url": {
      if (typeof source.url !== "string") throw GatewayError.invalidRequest(`${where}.source.url must be a string`, `${where}.source.url`);
      const inline = dataUrl(source.url);
      if (inline) return { inlineData: inline };
      if (!/^(https?|gs):\/\//i.test(source.url)) throw GatewayError.invalidRequest(`${where}.source.url must be an http(s) URL`, `${where}.source.url`);
      return { fileData: { fileUri: source.url, mimeType: mimeFromName(source.url) ?? fallbackType } };
    }
    case "content":
      return { text: blocksOf(source.content, `${where}.source.content`).map((inner) => (typeof inner.text === "string" ? inner.text : "")).join("\n") };
    default:
      throw GatewayError.invalidRequest(`${where}.source.type "${String(source.type)}" is not supported (base64, url, text)`, `${where}.source.type`);
  }
}

/**
 * An assistant turn: its text and tool calls. A thinking block's signature is Gemini's thought
 * signature: it goes back on the part that follows it (the first call, usually); Gemini 3 needs
 * one on the first call of every turn, so a call without one gets the remembered or the sentinel.
 */
function modelEntry(blocks: ContentBlock[], where: string, names: ToolNames, options: AnthropicRequestOptions): Entry {
  const parts: Part[] = [];
  const calls: { id: string; name: string }[] = [];
  let signature: string | undefined;
  blocks.forEach((block, index) => {
    const at = `${where}.content[${index}]`;
    switch (block.type) {
      case "thinking":
        if (typeof block.signature === "string" && block.signature !== "") signature = block.signature;
        return;
      case "redacted_thinking":
        return;
      case "text":
        if (typeof block.text === "string" && block.text !== "") parts.push({ text: block.text });
        return;
      case "tool_use": {
        if (typeof block.name !== "string" || block.name === "") throw GatewayError.invalidRequest(`${at}.name must be the tool's name`, `${at}.name`);
        const id = typeof block.id === "string" && block.id !== "" ? block.id : `toolu_${where}_${index}`;
        const input = typeof block.input === "object" && block.input !== null && !Array.isArray(block.input) ? (block.input as Json) : {};
        const part: Part = { functionCall: { name: names.toGemini(block.name), args: input, id } };
        if (calls.length === 0) part.thoughtSignature = options.signatureFor(id) ?? SIGNATURE_SENTINEL;
        calls.push({ id, name: block.name });
        parts.push(part);
        return;
      }
      case "server_tool_use":
      case "web_search_tool_result":
        return;
      default:
        throw GatewayError.invalidRequest(`${at}: content block type "${block.type}" is not supported in an assistant turn`, `${at}.type`);
    }
  });
  // The signature goes back where Gemini validates it: the turn's first call, else its first text.
  if (signature) {
    const target = parts.find((part) => part.functionCall) ?? parts.find((part) => part.text !== undefined);
    if (target) target.thoughtSignature = signature;
  }
  return { kind: "model", parts, calls };
}

/** Anthropic tools as the OpenAI converter reads them: one schema sanitiser, one naming rule. */
function openAIShapedTools(body: MessagesRequest, warnings: string[]): Json {
  if (body.tools !== undefined && !Array.isArray(body.tools)) throw GatewayError.invalidRequest("`tools` must be an array", "tools");
  const tools = (body.tools ?? []).flatMap((tool, index): Json[] => {
    if (typeof tool !== "object" || tool === null) throw GatewayError.invalidRequest(`tools[${index}] must be an object`, `tools[${index}]`);
    const type = typeof tool.type === "string" ? tool.type : "custom";
    const builtin = SERVER_TOOLS.find(([pattern]) => pattern.test(type))?.[1];
    if (builtin) return [{ type: builtin }];
    if (type === "custom" || tool.input_schema !== undefined) {
      return [{ type: "function", function: { name: tool.name, description: tool.description, parameters: tool.input_schema ?? { type: "object", properties: {} } } }];
    }
    warnings.push(`tools[${index}]: Anthropic's built-in tool "${type}" has no Gemini equivalent; declare it with an input_schema`);
    return [];
  });
  const choice = body.tool_choice;
  let toolChoice: unknown;
  if (choice !== undefined && choice !== null) {
    if (typeof choice !== "object") throw GatewayError.invalidRequest("`tool_choice` must be an object with a type", "tool_choice");
    if (choice.type === "tool") {
      if (typeof choice.name !== "string") throw GatewayError.invalidRequest("`tool_choice.name` must name a tool", "tool_choice.name");
      toolChoice = { type: "function", function: { name: choice.name } };
    } else if (choice.type === "any") toolChoice = "required";
    else if (choice.type === "auto" || choice.type === "none") toolChoice = choice.type;
    else throw GatewayError.invalidRequest("`tool_choice.type` must be auto, any, tool or none", "tool_choice.type");
  }
  return { tools, ...(toolChoice !== undefined && tools.length > 0 ? { tool_choice: toolChoice } : {}) };
}

function generationConfigOf(body: MessagesRequest, model: string): GenerationConfig {
  const config: GenerationConfig = {};
  const number = (field: "max_tokens" | "temperature" | "top_p" | "top_k") => {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw GatewayError.invalidRequest(`\`${field}\` must be a non-negative number`, field);
    return value;
  };
  const maxTokens = number("max_tokens");
  if (maxTokens !== undefined) config.maxOutputTokens = Math.max(1, Math.floor(maxTokens));
  const temperature = number("temperature");
  if (temperature !== undefined) config.temperature = temperature;
  const topP = number("top_p");
  if (topP !== undefined) config.topP = topP;
  const topK = number("top_k");
  if (topK !== undefined) config.topK = Math.floor(topK);
  if (body.stop_sequences !== undefined && body.stop_sequences !== null) {
    if (!Array.isArray(body.stop_sequences) || !body.stop_sequences.every((entry) => typeof entry === "string")) {
      throw GatewayError.invalidRequest("`stop_sequences` must be a list of strings", "stop_sequences");
    }
    const sequences = body.stop_sequences.filter((entry) => entry !== "");
    if (sequences.length > 0) config.stopSequences = sequences.slice(0, 5);
  }
  const thinking = body.thinking as Json | undefined;
  let thinkingConfig;
  if (thinking?.type === "enabled") {
    const budget = typeof thinking.budget_tokens === "number" ? thinking.budget_tokens : 8192;
    thinkingConfig = thinkingForBudget(model, budget, true);
  } else if (thinking?.type === "adaptive") thinkingConfig = thinkingConfigFor(model, undefined, true);
  else if (thinking?.type === "disabled") thinkingConfig = thinkingConfigFor(model, "none", false);
  if (thinkingConfig) config.thinkingConfig = thinkingConfig;
  return config;
}
