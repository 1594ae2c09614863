// OpenAI Responses request → an OpenAI chat request, which formats/openai/request.ts then turns
// into the hub. The two APIs carry the same conversation in two shapes (items vs. messages), so one
// translator does the Gemini part for both: schemas, tools, JSON output, reasoning effort, images,
// files and thought signatures behave alike. What only Responses has is handled here: items
// (function_call / function_call_output / reasoning with our encrypted_content), instructions,
// custom (freeform) tools as one-string functions, namespaces flattened.
import { GatewayError } from "../../hub.ts";
import type { ChatCompletionRequest, ChatContentPart, ChatMessage } from "../openai/types.ts";

export type Json = Record<string, unknown>;
export type Item = Json & { type?: string; id?: string };

export interface ResponsesRequest {
  model: string;
  input?: string | Item[];
  instructions?: string | null;
  tools?: Json[];
  tool_choice?: unknown;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  reasoning?: { effort?: string | null; summary?: string | null } | null;
  text?: { format?: Json } | null;
  parallel_tool_calls?: boolean | null;
  store?: boolean | null;
  previous_response_id?: string | null;
  include?: string[] | null;
  stream?: boolean | null;
  user?: string;
  metadata?: Json | null;
  [key: string]: unknown;
}

/** What an earlier reasoning item's encrypted_content holds when it is ours: Gemini's thought signature. */
export const SIGNATURE_PREFIX = "gemini-thought-signature:";
/** A custom (freeform) tool becomes a function with this one string argument. */
export const CUSTOM_TOOL_ARGUMENT = "input";

export interface ChatConversion {
  chat: ChatCompletionRequest;
  /** The request's own input items, references resolved (what a stored response keeps). */
  inputItems: Item[];
  /** Custom tools by name: their calls go back out as custom_tool_call items. */
  customTools: Set<string>;
  warnings: string[];
}

/** Item types other tools' answers leave in a history; nothing Gemini needs. */
const SKIPPED_ITEMS = new Set(["web_search_call", "file_search_call", "image_generation_call", "code_interpreter_call", "computer_call", "computer_call_output", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response", "compaction"]);

export function responsesRequestToChat(body: ResponsesRequest, prior: Item[], resolve: (id: string) => Item | undefined): ChatConversion {
  const warnings: string[] = [];
  const inputItems = inputItemsOf(body.input).map((item, index) => {
    if (item.type !== "item_reference") return item;
    const found = typeof item.id === "string" ? resolve(item.id) : undefined;
    if (!found) throw GatewayError.invalidRequest(`input[${index}]: no stored item ${JSON.stringify(item.id)} (items are kept for responses_ttl_s)`, `input[${index}].id`);
    return found;
  });
  const { tools, customTools } = toolsOf(body.tools, warnings);
  const messages: ChatMessage[] = [];
  if (typeof body.instructions === "string" && body.instructions !== "") messages.push({ role: "system", content: body.instructions });
  messages.push(...itemsToMessages([...prior, ...inputItems]));

  const chat: ChatCompletionRequest = { model: body.model, messages };
  if (tools.length > 0) {
    chat.tools = tools as ChatCompletionRequest["tools"];
    const choice = toolChoiceOf(body.tool_choice);
    if (choice !== undefined) chat.tool_choice = choice as ChatCompletionRequest["tool_choice"];
  }
  if (typeof body.max_output_tokens === "number") chat.max_completion_tokens = body.max_output_tokens;
  if (typeof body.temperature === "number") chat.temperature = body.temperature;
  if (typeof body.top_p === "number") chat.top_p = body.top_p;
  if (typeof body.reasoning?.effort === "string") chat.reasoning_effort = body.reasoning.effort as ChatCompletionRequest["reasoning_effort"];
  const format = body.text?.format;
  if (format && typeof format === "object") {
    if (format.type === "json_schema") chat.response_format = { type: "json_schema", json_schema: { name: format.name, schema: format.schema, strict: format.strict } } as ChatCompletionRequest["response_format"];
    else if (format.type === "json_object") chat.response_format = { type: "json_object" } as ChatCompletionRequest["response_format"];
  }
  return { chat, inputItems, customTools, warnings };
}

function inputItemsOf(input: ResponsesRequest["input"]): Item[] {
  if (input === undefined || input === null) return [];
  if (typeof input === "string") return [{ type: "message", role: "user", content: input }];
  if (!Array.isArray(input)) throw GatewayError.invalidRequest("`input` must be a string or a list of items", "input");
  return input.map((item, index) => {
    if (typeof item !== "object" || item === null) throw GatewayError.invalidRequest(`input[${index}] must be an object`, `input[${index}]`);
    // An easy input message: {role, content} without a type.
    return item.type === undefined && typeof item.role === "string" ? { ...item, type: "message" } : item;
  });
}

function itemsToMessages(items: Item[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  let assistant: ChatMessage | undefined;
  let signature: string | undefined;
  const flush = () => {
    if (!assistant) return;
    messages.push(assistant);
    assistant = undefined;
    signature = undefined;
  };
  const openAssistant = () => (assistant ??= { role: "assistant", content: null, tool_calls: [] });
  items.forEach((item, index) => {
    const where = `input[${index}]`;
    switch (item.type) {
      case "message": {
        const role = item.role;
        if (role === "assistant") {
          const text = contentParts(item.content, where, true).map((part) => (part as { text?: string }).text ?? "").join("");
          const open = openAssistant();
          open.content = `${open.content ?? ""}${text}`;
          return;
        }
        flush();
        if (role !== "user" && role !== "system" && role !== "developer") throw GatewayError.invalidRequest(`${where}.role must be user, assistant, system or developer`, `${where}.role`);
        messages.push({ role, content: contentParts(item.content, where, false) });
        return;
      }
      case "function_call":
      case "custom_tool_call": {
        const name = item.name;
        if (typeof name !== "string" || name === "") throw GatewayError.invalidRequest(`${where}.name must name the tool`, `${where}.name`);
        const callId = typeof item.call_id === "string" && item.call_id !== "" ? item.call_id : `call_${where}`;
        const args = item.type === "custom_tool_call" ? JSON.stringify({ [CUSTOM_TOOL_ARGUMENT]: String(item.input ?? "") }) : typeof item.arguments === "string" ? item.arguments : JSON.stringify(item.arguments ?? {});
        const calls = openAssistant().tool_calls as Json[];
        const call: Json = { id: callId, type: "function", function: { name, arguments: args } };
        if (calls.length === 0 && signature) call.extra_content = { google: { thought_signature: signature } };
        calls.push(call);
        return;
      }
      case "function_call_output":
      case "custom_tool_call_output": {
        flush();
        const callId = typeof item.call_id === "string" ? item.call_id : undefined;
        if (!callId) throw GatewayError.invalidRequest(`${where}.call_id must name the call it answers`, `${where}.call_id`);
        const output = item.output;
        messages.push({ role: "tool", tool_call_id: callId, content: typeof output === "string" ? output : Array.isArray(output) ? contentParts(output, `${where}.output`, false) : JSON.stringify(output ?? "") });
        return;
      }
      case "reasoning": {
        // Ours carries Gemini's thought signature; another provider's is meaningless to Gemini.
        flush();
        const encrypted = item.encrypted_content;
        signature = typeof encrypted === "string" && encrypted.startsWith(SIGNATURE_PREFIX) ? encrypted.slice(SIGNATURE_PREFIX.length) : undefined;
        return;
      }
      default:
        if (typeof item.type === "string" && SKIPPED_ITEMS.has(item.type)) return;
        throw GatewayError.invalidRequest(`${where}: item type ${JSON.stringify(item.type)} is not supported`, `${where}.type`);
    }
  });
  flush();
  for (const message of messages) if (message.role === "assistant" && Array.isArray(message.tool_calls) && message.tool_calls.length === 0) delete message.tool_calls;
  return messages;
}

/** Responses content parts as chat content parts (input_text → text, input_image → image_url, input_file → file). */
function contentParts(content: unknown, where: string, assistant: boolean): ChatContentPart[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  if (!Array.isArray(content)) throw GatewayError.invalidRequest(`${where}.content must be a string or a list of content parts`, `${where}.content`);
  return content.flatMap((part, index): ChatContentPart[] => {
    const at = `${where}.content[${index}]`;
    if (typeof part !== "object" || part === null) throw GatewayError.invalidRequest(`${at} must be an object`, at);
    switch (part.type) {
      case "input_text":
      case "output_text":
      case "text":
        return typeof part.text === "string" && part.text !== "" ? [{ type: "text", text: part.text }] : [];
      case "refusal":
      case "reasoning_text":
      case "summary_text":
        return [];
      case "input_image":
        if (assistant) return [];
        if (typeof part.image_url !== "string") throw GatewayError.invalidRequest(`${at}: only image_url images are supported (uploaded file ids are not)`, `${at}.image_url`);
        return [{ type: "image_url", image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) } }];
      case "input_file":
        if (assistant) return [];
        if (typeof part.file_data === "string") return [{ type: "file", file: { file_data: part.file_data, filename: part.filename } }];
        if (typeof part.file_url === "string") return [{ type: "image_url", image_url: { url: part.file_url } }];
        throw GatewayError.invalidRequest(`${at}: only inline files (file_data) or file_url are supported`, at);
      default:
        throw GatewayError.invalidRequest(`${at}: content part type ${JSON.stringify(part.type)} is not supported`, `${at}.type`);
    }
  }) as ChatContentPart[];
}

function toolsOf(list: Json[] | undefined, warnings: string[]): { tools: Json[]; customTools: Set<string> } {
  const customTools = new Set<string>();
  if (list === undefined || list === null) return { tools: [], customTools };
  if (!Array.isArray(list)) throw GatewayError.invalidRequest("`tools` must be a list", "tools");
  const tools: Json[] = [];
  const add = (tool: Json, where: string) => {
    switch (tool.type) {
      case "function":
        tools.push({ type: "function", function: { name: tool.name, description: tool.description, parameters: tool.parameters ?? { type: "object", properties: {} } } });
        return;
      case "custom":
        // A freeform tool (Codex's apply_patch): one string argument, the text it would have received.
        customTools.add(String(tool.name));
        tools.push({ type: "function", function: { name: tool.name, description: tool.description, parameters: { type: "object", properties: { [CUSTOM_TOOL_ARGUMENT]: { type: "string", description: "The tool's whole input, as free text." } }, required: [CUSTOM_TOOL_ARGUMENT] } } });
        return;
      case "web_search":
      case "web_search_preview":
      case "web_search_2025_08_26":
        if (tool.external_web_access === false) warnings.push(`${where}: web_search without external web access has no Gemini equivalent; left out`);
        else tools.push({ type: "web_search" });
        return;
      case "namespace":
        if (Array.isArray(tool.tools)) (tool.tools as Json[]).forEach((inner, index) => add(inner, `${where}.tools[${index}]`));
        return;
      default:
        warnings.push(`${where}: tool type ${JSON.stringify(tool.type)} has no Gemini equivalent; left out`);
    }
  };
  list.forEach((tool, index) => {
    if (typeof tool !== "object" || tool === null) throw GatewayError.invalidRequest(`tools[${index}] must be an object`, `tools[${index}]`);
    add(tool, `tools[${index}]`);
  });
  return { tools, customTools };
}

function toolChoiceOf(choice: unknown): unknown {
  if (choice === undefined || choice === null) return undefined;
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (typeof choice === "object") {
    const named = choice as Json;
    if ((named.type === "function" || named.type === "custom") && typeof named.name === "string") return { type: "function", function: { name: named.name } };
    if (named.type === "allowed_tools") return { type: "allowed_tools", allowed_tools: { mode: named.mode, tools: named.tools } };
  }
  throw GatewayError.invalidRequest("`tool_choice` must be auto, none, required or name a function", "tool_choice");
}
