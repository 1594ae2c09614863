// OpenAI chat completion request → hub request (translation.md §2). Validates what it reads and
// throws a GatewayError naming the field; fields it does not handle are ignored, not rejected.
import { GatewayError, type Content, type GenerateContentRequest, type GenerationConfig, type Part } from "../../hub.ts";
import type { ChatCompletionRequest, ChatContentPart, ChatMessage } from "./types.ts";

const MAX_STOP_SEQUENCES = 5;
const SYSTEM_ROLES = new Set(["system", "developer"]);
const CONTINUATION_SENTINEL = "[Continuing from previous turn]";

export interface HubRequestResult {
  request: GenerateContentRequest;
  warnings: string[];
}

export function openAIRequestToHub(body: ChatCompletionRequest): HubRequestResult {
  const warnings: string[] = [];
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw GatewayError.invalidRequest("`messages` must be a non-empty array", "messages");
  }
  const system: Part[] = [];
  const contents: Content[] = [];
  body.messages.forEach((message, index) => {
    const where = `messages[${index}]`;
    if (typeof message !== "object" || message === null || typeof message.role !== "string") {
      throw GatewayError.invalidRequest(`${where} must be an object with a string "role"`, `${where}.role`);
    }
    if (SYSTEM_ROLES.has(message.role)) {
      system.push(...messageParts(message, where));
      return;
    }
    if (message.role === "user") appendContent(contents, "user", messageParts(message, where));
    else if (message.role === "assistant") appendContent(contents, "model", messageParts(message, where));
    else throw GatewayError.invalidRequest(`${where}.role "${message.role}" is not supported`, `${where}.role`);
  });

  const request: GenerateContentRequest = { contents };
  if (contents.length === 0) {
    // Gemini rejects a request with no contents; a system-only prompt is the user's question.
    if (system.length === 0) throw GatewayError.invalidRequest("`messages` contains no text to send", "messages");
    contents.push({ role: "user", parts: system });
  } else {
    if (system.length > 0) request.systemInstruction = { role: "user", parts: system };
    if (contents[0]!.role === "model") contents.unshift({ role: "user", parts: [{ text: CONTINUATION_SENTINEL }] });
  }
  const generationConfig = generationConfigOf(body, warnings);
  if (Object.keys(generationConfig).length > 0) request.generationConfig = generationConfig;
  return { request, warnings };
}

/** Adjacent turns with one role become one content: Gemini expects turns to alternate. */
function appendContent(contents: Content[], role: "user" | "model", parts: Part[]): void {
  if (parts.length === 0) return;
  const last = contents[contents.length - 1];
  if (last && last.role === role) last.parts.push(...parts);
  else contents.push({ role, parts });
}

function messageParts(message: ChatMessage, where: string): Part[] {
  const { content } = message;
  if (content === undefined || content === null) return [];
  if (typeof content === "string") return content === "" ? [] : [{ text: content }];
  if (!Array.isArray(content)) throw GatewayError.invalidRequest(`${where}.content must be a string or an array of parts`, `${where}.content`);
  return content.flatMap((part, index) => contentPart(part, `${where}.content[${index}]`));
}

function contentPart(part: ChatContentPart, where: string): Part[] {
  if (typeof part !== "object" || part === null) throw GatewayError.invalidRequest(`${where} must be an object`, where);
  switch (part.type) {
    case "text":
      if (typeof part.text !== "string") throw GatewayError.invalidRequest(`${where}.text must be a string`, `${where}.text`);
      return part.text === "" ? [] : [{ text: part.text }];
    case "image_url":
      return [imagePart(part, where)];
    default:
      throw GatewayError.invalidRequest(`${where}: content part type "${String(part.type)}" is not supported`, `${where}.type`);
  }
}

function imagePart(part: ChatContentPart, where: string): Part {
  const url = typeof part.image_url === "string" ? part.image_url : part.image_url?.url;
  if (typeof url !== "string") throw GatewayError.invalidRequest(`${where}.image_url.url must be a string`, `${where}.image_url.url`);
  const match = /^data:([^;,]+)((?:;[^;,]+)*),(.*)$/s.exec(url);
  if (!match) throw GatewayError.invalidRequest(`${where}: only data: URLs are supported for images`, `${where}.image_url.url`);
  const [, mimeType, parameters, payload] = match;
  if (!parameters!.split(";").includes("base64")) {
    return { inlineData: { mimeType: mimeType!, data: Buffer.from(decodeURIComponent(payload!), "utf8").toString("base64") } };
  }
  return { inlineData: { mimeType: mimeType!, data: payload!.replace(/\s+/g, "") } };
}

function generationConfigOf(body: ChatCompletionRequest, warnings: string[]): GenerationConfig {
  const config: GenerationConfig = {};
  const temperature = optionalNumber(body, "temperature");
  if (temperature !== undefined) config.temperature = temperature;
  const topP = optionalNumber(body, "top_p");
  if (topP !== undefined) config.topP = topP;
  const topK = optionalNumber(body, "top_k");
  if (topK !== undefined) config.topK = topK;
  // max_completion_tokens is the newer name and wins when a client sends both.
  const maxTokens = optionalNumber(body, "max_completion_tokens") ?? optionalNumber(body, "max_tokens");
  if (maxTokens !== undefined) config.maxOutputTokens = maxTokens;
  const seed = optionalNumber(body, "seed");
  if (seed !== undefined) config.seed = seed;
  const n = optionalNumber(body, "n");
  if (n !== undefined && n > 1) config.candidateCount = n;
  // Gemini 2.5+ answers 400 to any non-zero penalty it does not support, and 0 is a no-op.
  for (const [field, target] of [["presence_penalty", "presencePenalty"], ["frequency_penalty", "frequencyPenalty"]] as const) {
    const value = optionalNumber(body, field);
    if (value) config[target] = value;
  }

  const stop = body.stop;
  if (stop !== undefined && stop !== null) {
    const list = typeof stop === "string" ? [stop] : stop;
    if (!Array.isArray(list) || list.some((item) => typeof item !== "string")) {
      throw GatewayError.invalidRequest("`stop` must be a string or an array of strings", "stop");
    }
    if (list.length > MAX_STOP_SEQUENCES) warnings.push(`stop: only the first ${MAX_STOP_SEQUENCES} sequences are sent`);
    if (list.length > 0) config.stopSequences = list.slice(0, MAX_STOP_SEQUENCES);
  }
  return config;
}

function optionalNumber(body: ChatCompletionRequest, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw GatewayError.invalidRequest(`\`${field}\` must be a number`, field);
  return value;
}
