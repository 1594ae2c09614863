// OpenAI chat completion request → hub request (translation.md §2). Validates what it reads and
// throws a GatewayError naming the field; fields without a Gemini meaning are ignored, not rejected.
import { GatewayError, type Content, type GenerateContentRequest, type GenerationConfig } from "../../hub.ts";
import { convertMessages } from "./messages.ts";
import { sanitizeSchema, type SchemaProfile } from "./schema.ts";
import { modelKind, parseReasoningEffort, thinkingConfigFor, type ReasoningEffort } from "./thinking.ts";
import { ToolNames } from "./tool-names.ts";
import { convertTools } from "./tools.ts";
import type { ChatCompletionRequest, ReasoningField } from "./types.ts";

const MAX_STOP_SEQUENCES = 5;

export interface RequestOptions {
  /** The upstream model (variants resolved): thinking and JSON rules depend on it. */
  model: string;
  schemaProfile?: SchemaProfile;
  reasoningField?: ReasoningField;
  /** Signatures remembered from earlier responses, by the tool-call id we issued. */
  signatureFor?: (toolCallId: string) => string | undefined;
}

export interface HubRequestResult {
  request: GenerateContentRequest;
  warnings: string[];
  /** Needed to give the client its own tool names back in the response. */
  toolNames: ToolNames;
}

export function openAIRequestToHub(body: ChatCompletionRequest, options: RequestOptions): HubRequestResult {
  const warnings: string[] = [];
  const toolNames = new ToolNames();
  const profile = options.schemaProfile ?? "json_schema";
  const reasoningField = options.reasoningField ?? "reasoning_content";
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw GatewayError.invalidRequest("`messages` must be a non-empty array", "messages");
  }

  // Tools first, so declared names get their sanitised spelling before history refers to them.
  const { tools, toolConfig } = convertTools(body, toolNames, profile, warnings);
  const { contents, system } = convertMessages(body.messages, {
    names: toolNames,
    signatureFor: options.signatureFor ?? (() => undefined),
    stripThinkTags: reasoningField === "think_tags",
    mediaResolution: modelKind(options.model).generation === "3",
  });

  const request: GenerateContentRequest = { contents };
  const generationConfig = samplingOf(body, warnings);
  const callingMode = (toolConfig?.functionCallingConfig as { mode?: string } | undefined)?.mode;
  const functionsActive = tools?.some((tool) => "functionDeclarations" in tool) === true && callingMode !== "NONE";
  const jsonInstruction = applyResponseFormat(body, generationConfig, options.model, profile, functionsActive);
  if (jsonInstruction) system.push({ text: jsonInstruction });

  if (contents.length === 0) {
    // Gemini rejects a request with no contents; a system-only prompt is the user's question.
    if (system.length === 0) throw GatewayError.invalidRequest("`messages` contains no content to send", "messages");
    contents.push({ role: "user", parts: system });
  } else if (system.length > 0) {
    request.systemInstruction = { role: "user", parts: system } satisfies Content;
  }

  const allTools = [...(tools ?? [])];
  if (allTools.length > 0) request.tools = allTools;
  if (toolConfig) request.toolConfig = toolConfig;

  // Model variants (-nothinking, -maxthinking, -search) are applied later, by formats/variant.ts.
  const effort: ReasoningEffort | undefined = parseReasoningEffort(body.reasoning_effort);
  const thinkingConfig = thinkingConfigFor(options.model, effort, reasoningField !== "hidden");
  if (thinkingConfig) generationConfig.thinkingConfig = thinkingConfig;
  if (Object.keys(generationConfig).length > 0) request.generationConfig = generationConfig;
  return { request, warnings, toolNames };
}

function samplingOf(body: ChatCompletionRequest, warnings: string[]): GenerationConfig {
  const config: GenerationConfig = {};
  const copy = (field: string, target: keyof GenerationConfig) => {
    const value = optionalNumber(body, field);
    if (value !== undefined) config[target] = value;
  };
  copy("temperature", "temperature");
  copy("top_p", "topP");
  copy("top_k", "topK");
  copy("seed", "seed");
  // max_completion_tokens is the newer name and wins when a client sends both.
  const maxTokens = optionalNumber(body, "max_completion_tokens") ?? optionalNumber(body, "max_tokens");
  if (maxTokens !== undefined) config.maxOutputTokens = maxTokens;
  const n = optionalNumber(body, "n");
  if (n !== undefined && n > 1) config.candidateCount = n;
  // Gemini 2.5+ answers 400 to a non-zero penalty it does not support, and 0 is a no-op anyway.
  for (const [field, target] of [["presence_penalty", "presencePenalty"], ["frequency_penalty", "frequencyPenalty"]] as const) {
    const value = optionalNumber(body, field);
    if (value) config[target] = value;
  }
  if (body.logprobs === true) {
    config.responseLogprobs = true;
    const top = optionalNumber(body, "top_logprobs");
    if (top !== undefined && top > 0) config.logprobs = top;
  }
  if (Array.isArray(body.modalities)) config.responseModalities = body.modalities.map((modality) => String(modality).toUpperCase());

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

/**
 * response_format → responseMimeType + schema (§2.6). Gemini 2.x answers 400 to JSON output
 * combined with function calling, so there the schema travels as an instruction instead.
 * Returns that instruction, if one is needed.
 */
function applyResponseFormat(body: ChatCompletionRequest, config: GenerationConfig, model: string, profile: SchemaProfile, toolsActive: boolean): string | undefined {
  const format = body.response_format as { type?: unknown; json_schema?: { schema?: unknown; name?: unknown } } | null | undefined;
  if (format === undefined || format === null || format.type === "text") return undefined;
  if (format.type !== "json_object" && format.type !== "json_schema") {
    throw GatewayError.invalidRequest('`response_format.type` must be "text", "json_object" or "json_schema"', "response_format.type");
  }
  const schema = format.type === "json_schema" ? format.json_schema?.schema : undefined;
  if (format.type === "json_schema" && (typeof schema !== "object" || schema === null)) {
    throw GatewayError.invalidRequest("`response_format.json_schema.schema` must be a JSON Schema object", "response_format.json_schema.schema");
  }
  if (toolsActive && modelKind(model).generation !== "3") {
    return schema ? `Respond only with JSON matching this schema: ${JSON.stringify(schema)}` : "Respond only with a valid JSON object.";
  }
  config.responseMimeType = "application/json";
  if (schema) {
    const sanitized = sanitizeSchema(schema, { profile, ordered: true, param: "response_format.json_schema.schema" });
    if (profile === "json_schema") config.responseJsonSchema = sanitized;
    else config.responseSchema = sanitized;
  }
  return undefined;
}

function optionalNumber(body: ChatCompletionRequest, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw GatewayError.invalidRequest(`\`${field}\` must be a number`, field);
  return value;
}
