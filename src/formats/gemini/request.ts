// Gemini REST bodies as clients send them → the hub request. Proto-JSON accepts snake_case too
// (`system_instruction`, `inline_data`, `thinking_budget` …; the Python SDK and hand-written REST
// use it), so keys are camel-cased — except inside values that belong to the user: function
// arguments, function responses and JSON schemas keep their keys exactly.
import { GatewayError, type GenerateContentRequest } from "../../hub.ts";

const OPAQUE = new Set(["args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema", "properties", "labels", "metadata"]);

export function geminiRequestToHub(body: unknown): GenerateContentRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw GatewayError.invalidRequest("The request body must be a JSON object (a GenerateContentRequest).");
  }
  const request = camelize(body) as GenerateContentRequest;
  if (!Array.isArray(request.contents)) throw GatewayError.invalidRequest("`contents` must be an array of Content objects", "contents");
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
    out[name] = OPAQUE.has(name) ? inner : camelize(inner);
  }
  return out;
}
