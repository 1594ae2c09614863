// OpenAI `messages` → Gemini `contents` + system parts (translation.md §2.2–2.3). Each step
// guards against a 400 Gemini is known to answer: empty parts, unpaired function calls and
// responses, a history that starts with the model, unsigned function calls on Gemini 3.
import { GatewayError, type Content, type Part } from "../../hub.ts";
import { pairAndMerge, SIGNATURE_SENTINEL, type Entry } from "../history.ts";
import { parseToolArguments } from "./arguments.ts";
import type { ToolNames } from "./tool-names.ts";
import type { ChatContentPart, ChatMessage } from "./types.ts";

const AUDIO_TYPES: Record<string, string> = {
  wav: "audio/wav", mp3: "audio/mp3", flac: "audio/flac", ogg: "audio/ogg", opus: "audio/ogg", aac: "audio/aac",
  webm: "audio/webm", m4a: "audio/mp4", pcm16: "audio/pcm",
};
const FILE_TYPES: Record<string, string> = {
  pdf: "application/pdf", txt: "text/plain", md: "text/markdown", csv: "text/csv", html: "text/html", json: "application/json",
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", webp: "image/webp", gif: "image/gif",
};

export interface MessagesOptions {
  names: ToolNames;
  /** The thought signature we saw on a tool call we issued earlier, if still remembered. */
  signatureFor: (toolCallId: string) => string | undefined;
  /** Strip <think>…</think> from assistant history (when reasoning is surfaced as tags). */
  stripThinkTags: boolean;
  /** Gemini 3 takes a per-image resolution, which is what OpenAI's image `detail` means. */
  mediaResolution: boolean;
}

export interface MessagesResult {
  contents: Content[];
  system: Part[];
}

export function convertMessages(messages: ChatMessage[], options: MessagesOptions): MessagesResult {
  const system: Part[] = [];
  const entries: Entry[] = [];
  messages.forEach((message, index) => {
    const where = `messages[${index}]`;
    if (typeof message !== "object" || message === null || typeof message.role !== "string") {
      throw GatewayError.invalidRequest(`${where} must be an object with a string "role"`, `${where}.role`);
    }
    switch (message.role) {
      case "system":
      case "developer":
        system.push(...contentParts(message, where, options));
        break;
      case "user":
        entries.push({ kind: "user", parts: contentParts(message, where, options) });
        break;
      case "assistant":
        entries.push(modelEntry(message, where, options));
        break;
      case "tool":
      case "function":
        entries.push(toolEntry(message, where, options));
        break;
      default:
        throw GatewayError.invalidRequest(`${where}.role "${message.role}" is not supported`, `${where}.role`);
    }
  });
  return { contents: pairAndMerge(entries, options.names), system };
}

function modelEntry(message: ChatMessage, where: string, options: MessagesOptions): Entry {
  let parts = contentParts(message, where, options, true);
  if (options.stripThinkTags) {
    parts = parts.map((part) => ({ text: stripThinkBlocks(part.text!) })).filter((part) => part.text !== "");
  }
  const calls: { id: string; name: string }[] = [];
  const rawCalls = Array.isArray(message.tool_calls) ? (message.tool_calls as Record<string, any>[]) : [];
  if (message.function_call && rawCalls.length === 0) rawCalls.push({ id: `legacy_${where}`, type: "function", function: message.function_call });
  rawCalls.forEach((call, position) => {
    const fn = call?.function;
    if (typeof fn?.name !== "string") throw GatewayError.invalidRequest(`${where}.tool_calls[${position}].function.name must be a string`, `${where}.tool_calls[${position}].function.name`);
    const id = typeof call.id === "string" && call.id !== "" ? call.id : `call_${where}_${position}`;
    calls.push({ id, name: fn.name });
    const part: Part = { functionCall: { name: options.names.toGemini(fn.name), args: parseToolArguments(fn.arguments), id } };
    // Gemini 3 checks a signature on the first call of every model turn (§2.5.2).
    if (position === 0) {
      const echoed = call.extra_content?.google?.thought_signature;
      part.thoughtSignature = typeof echoed === "string" && echoed !== "" ? echoed : options.signatureFor(id) ?? SIGNATURE_SENTINEL;
    }
    parts.push(part);
  });
  return { kind: "model", parts, calls };
}

function toolEntry(message: ChatMessage, where: string, options: MessagesOptions): Entry {
  const id = typeof message.tool_call_id === "string" && message.tool_call_id !== "" ? message.tool_call_id : undefined;
  const name = typeof message.name === "string" ? message.name : undefined;
  const content = message.content;
  let output = "";
  const media: Part[] = [];
  if (typeof content === "string") output = content;
  else if (Array.isArray(content)) {
    const texts: string[] = [];
    content.forEach((part, position) => {
      if (part?.type === "text" && typeof part.text === "string") texts.push(part.text);
      else media.push(...contentPart(part, `${where}.content[${position}]`, options));
    });
    output = texts.join("\n");
  } else if (content !== null && content !== undefined) output = JSON.stringify(content);
  // Kept as a string even when it is JSON: objects with "$ref" keys are rejected inside `response`.
  return { kind: "tool", id, name, output, media };
}

/** A message's content as parts; the model's own turns keep only their text. */
function contentParts(message: ChatMessage, where: string, options: MessagesOptions, modelTurn = false): Part[] {
  const { content } = message;
  if (content === undefined || content === null) return [];
  if (typeof content === "string") return content === "" ? [] : [{ text: content }];
  if (!Array.isArray(content)) throw GatewayError.invalidRequest(`${where}.content must be a string or an array of parts`, `${where}.content`);
  return content.flatMap((part, index) => {
    if (part?.type === "refusal" || (modelTurn && part?.type !== "text")) return [];
    return contentPart(part, `${where}.content[${index}]`, options);
  });
}

function contentPart(part: ChatContentPart, where: string, options: MessagesOptions): Part[] {
  if (typeof part !== "object" || part === null) throw GatewayError.invalidRequest(`${where} must be an object`, where);
  switch (part.type) {
    case "text":
      if (typeof part.text !== "string") throw GatewayError.invalidRequest(`${where}.text must be a string`, `${where}.text`);
      return part.text === "" ? [] : [{ text: part.text }];
    case "image_url": {
      const image = imagePart(part, where);
      const detail = typeof part.image_url === "object" ? part.image_url?.detail : undefined;
      if (options.mediaResolution && (detail === "low" || detail === "high")) image.mediaResolution = { level: `MEDIA_RESOLUTION_${detail.toUpperCase()}` };
      return [image];
    }
    case "input_audio": {
      const audio = part.input_audio as { data?: unknown; format?: unknown } | undefined;
      if (typeof audio?.data !== "string") throw GatewayError.invalidRequest(`${where}.input_audio.data must be base64 text`, `${where}.input_audio.data`);
      const format = typeof audio.format === "string" ? audio.format.toLowerCase() : "wav";
      return [{ inlineData: { mimeType: AUDIO_TYPES[format] ?? `audio/${format}`, data: audio.data.replace(/\s+/g, "") } }];
    }
    case "file":
      return [filePart(part, where)];
    default:
      throw GatewayError.invalidRequest(`${where}: content part type "${String(part.type)}" is not supported`, `${where}.type`);
  }
}

function imagePart(part: ChatContentPart, where: string): Part {
  const url = typeof part.image_url === "string" ? part.image_url : part.image_url?.url;
  if (typeof url !== "string") throw GatewayError.invalidRequest(`${where}.image_url.url must be a string`, `${where}.image_url.url`);
  const inline = dataUrl(url);
  if (inline) return { inlineData: inline };
  if (/^(https?|gs):\/\//i.test(url)) return { fileData: { fileUri: url, mimeType: mimeFromName(url) ?? "image/jpeg" } };
  throw GatewayError.invalidRequest(`${where}.image_url.url must be a data: URL or an http(s) URL`, `${where}.image_url.url`);
}

function filePart(part: ChatContentPart, where: string): Part {
  const file = part.file as { file_data?: unknown; filename?: unknown; file_id?: unknown } | undefined;
  if (typeof file?.file_data !== "string") {
    throw GatewayError.invalidRequest(`${where}: only inline files (file.file_data) are supported; uploaded file ids are not`, `${where}.file`);
  }
  const inline = dataUrl(file.file_data);
  if (inline) return { inlineData: inline };
  const mimeType = (typeof file.filename === "string" ? mimeFromName(file.filename) : undefined) ?? "application/pdf";
  return { inlineData: { mimeType, data: file.file_data.replace(/\s+/g, "") } };
}

export function dataUrl(url: string): { mimeType: string; data: string } | undefined {
  const match = /^data:([^;,]*)((?:;[^;,]+)*),(.*)$/s.exec(url);
  if (!match) return undefined;
  const [, mimeType, parameters, payload] = match;
  let data: string;
  if (parameters!.split(";").includes("base64")) data = payload!.replace(/\s+/g, "");
  else {
    try {
      data = Buffer.from(decodeURIComponent(payload!), "utf8").toString("base64");
    } catch {
      return undefined; // a bad %-escape: not a data URL we can read (the caller says which part)
    }
  }
  return { mimeType: mimeType || "application/octet-stream", data };
}

export function mimeFromName(name: string): string | undefined {
  const extension = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(name)?.[1]?.toLowerCase();
  return extension ? FILE_TYPES[extension] : undefined;
}

/** `<think>…</think>` blocks (and the white space after each) removed, in one pass. */
function stripThinkBlocks(text: string): string {
  let out = "";
  let from = 0;
  for (;;) {
    const open = text.indexOf("<think>", from);
    const close = open < 0 ? -1 : text.indexOf("</think>", open + 7);
    if (close < 0) return out + text.slice(from);
    out += text.slice(from, open);
    from = close + 8;
    while (from < text.length && /\s/.test(text[from]!)) from++;
  }
}
