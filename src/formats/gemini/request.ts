// Gemini REST bodies as clients send them → the hub request. Proto-JSON accepts snake_case too
// (`system_instruction`, `inline_data`, `thinking_budget` …; the Python SDK and hand-written REST
// use it), so keys are camel-cased — except inside values that belong to the user: function
// arguments, function responses and JSON schemas keep their keys exactly.
//
// The body is then checked against the shape Gemini documents (open: unknown fields pass), so a
// null part or a number where a string belongs is a 400 naming the field here — not a 500 in a
// translator, nor a request the upstream must refuse.
import { Type as t, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { GatewayError, type GenerateContentRequest } from "../../hub.ts";

const OPAQUE = new Set(["args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema", "properties", "labels", "metadata"]);

export function geminiRequestToHub(body: unknown): GenerateContentRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw GatewayError.invalidRequest("The request body must be a JSON object (a GenerateContentRequest).");
  }
  const request = camelize(body) as GenerateContentRequest;
  if (!Array.isArray(request.contents)) throw GatewayError.invalidRequest("`contents` must be an array of Content objects", "contents");
  const check = (compiled ??= TypeCompiler.Compile(REQUEST));
  const problem = check.Check(request) ? undefined : check.Errors(request).First();
  if (problem) {
    const field = problem.path.replace(/^\//, "").split("/").map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`)).join("").replace(/^\./, "");
    throw GatewayError.invalidRequest(`Invalid \`${field || "body"}\`: ${problem.message}`, field || null);
  }
  return request;
}

/** countTokens takes `{contents}` or `{generateContentRequest: {…}}`. */
export function geminiCountTokensToHub(body: unknown): GenerateContentRequest {
  const camel = camelize(body ?? {}) as { generateContentRequest?: unknown };
  return geminiRequestToHub(camel.generateContentRequest ?? camel);
}

function camelize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelize);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const name = key.includes("_") ? key.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase()) : key;
    // defineProperty: a key named "__proto__" stays a plain field instead of replacing the prototype.
    Object.defineProperty(out, name, { value: OPAQUE.has(name) ? inner : camelize(inner), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

// The documented GenerateContentRequest shape, open to fields this gateway does not know yet.
const open = <T extends Record<string, TSchema>>(properties: T) => t.Object(properties, { additionalProperties: true });
const maybe = <T extends TSchema>(schema: T) => t.Optional(schema);
const PART = open({
  text: maybe(t.String()),
  thought: maybe(t.Boolean()),
  thoughtSignature: maybe(t.String()),
  inlineData: maybe(open({ mimeType: t.String(), data: t.String() })),
  fileData: maybe(open({ fileUri: t.String(), mimeType: maybe(t.String()) })),
  functionCall: maybe(open({ name: t.String(), args: maybe(t.Record(t.String(), t.Unknown())), id: maybe(t.String()) })),
  functionResponse: maybe(open({ name: t.String(), response: t.Record(t.String(), t.Unknown()), id: maybe(t.String()) })),
});
const CONTENT = open({ role: maybe(t.String()), parts: t.Array(PART) });
const REQUEST = open({
  contents: t.Array(CONTENT),
  systemInstruction: maybe(open({ role: maybe(t.String()), parts: t.Array(PART) })),
  tools: maybe(t.Array(open({
    functionDeclarations: maybe(t.Array(open({
      name: t.String(),
      description: maybe(t.String()),
      parameters: maybe(t.Record(t.String(), t.Unknown())),
      parametersJsonSchema: maybe(t.Unknown()),
    }))),
  }))),
  toolConfig: maybe(open({
    functionCallingConfig: maybe(open({ mode: maybe(t.String()), allowedFunctionNames: maybe(t.Array(t.String())) })),
  })),
  safetySettings: maybe(t.Array(open({ category: maybe(t.String()), threshold: maybe(t.String()) }))),
  generationConfig: maybe(open({
    temperature: maybe(t.Number()),
    topP: maybe(t.Number()),
    topK: maybe(t.Number()),
    candidateCount: maybe(t.Integer()),
    maxOutputTokens: maybe(t.Integer()),
    stopSequences: maybe(t.Array(t.String())),
    seed: maybe(t.Integer()),
    presencePenalty: maybe(t.Number()),
    frequencyPenalty: maybe(t.Number()),
    responseMimeType: maybe(t.String()),
    responseSchema: maybe(t.Record(t.String(), t.Unknown())),
    thinkingConfig: maybe(open({ includeThoughts: maybe(t.Boolean()), thinkingBudget: maybe(t.Integer()), thinkingLevel: maybe(t.String()) })),
  })),
  cachedContent: maybe(t.String()),
});

/** Compiled once, on first use: a valid body costs one generated check, errors are walked only on failure. */
let compiled: ReturnType<typeof TypeCompiler.Compile<typeof REQUEST>> | undefined;

