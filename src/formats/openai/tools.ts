// OpenAI tools / functions / tool_choice → Gemini tools and toolConfig (translation.md §2.4).
import { GatewayError } from "../../hub.ts";
import { isEmptyObjectSchema, sanitizeSchema, schemaBudget, type SchemaBudget, type SchemaProfile } from "./schema.ts";
import type { ToolNames } from "./tool-names.ts";

type Json = Record<string, unknown>;

/** Gemini's built-in tools, by the spellings clients use for them. */
const BUILTIN_TOOLS: Record<string, string> = {
  googleSearch: "googleSearch", google_search: "googleSearch", web_search: "googleSearch",
  codeExecution: "codeExecution", code_execution: "codeExecution",
  urlContext: "urlContext", url_context: "urlContext",
  googleMaps: "googleMaps", google_maps: "googleMaps",
};
const MANY_TOOLS = 128;

export interface ToolsResult {
  tools?: Json[];
  toolConfig?: Json;
}

export function convertTools(body: Json, names: ToolNames, profile: SchemaProfile, warnings: string[]): ToolsResult {
  const declarations: Json[] = [];
  const builtins = new Set<string>();
  const seen = new Set<string>();
  const definitions = collectDefinitions(body);
  const budget = schemaBudget();

  definitions.forEach(({ tool, where }) => {
    const builtin = builtinOf(tool);
    if (builtin) {
      builtins.add(builtin);
      return;
    }
    if (tool.type === "custom") {
      throw GatewayError.invalidRequest(`${where}: custom (freeform) tools cannot be expressed for Gemini; declare a function tool instead`, `${where}.type`);
    }
    const fn = (tool.type === "function" ? tool.function : tool) as Json | undefined;
    if (typeof fn?.name !== "string" || fn.name === "") {
      throw GatewayError.invalidRequest(`${where}: a function tool needs a non-empty "name"`, `${where}.function.name`);
    }
    if (seen.has(fn.name)) {
      warnings.push(`tools: duplicate tool "${fn.name}" ignored`);
      return;
    }
    seen.add(fn.name);
    declarations.push(declaration(fn, names.toGemini(fn.name), profile, budget, `${where}.function.parameters`));
  });
  if (body.web_search_options !== undefined && body.web_search_options !== null) builtins.add("googleSearch");
  if (declarations.length > MANY_TOOLS) warnings.push(`tools: ${declarations.length} functions declared; Gemini's limit is not documented`);

  const tools: Json[] = [];
  if (declarations.length > 0) tools.push({ functionDeclarations: declarations });
  for (const builtin of builtins) tools.push({ [builtin]: {} });
  const toolConfig = declarations.length > 0 ? toolConfigOf(body, names) : undefined;
  return { tools: tools.length > 0 ? tools : undefined, toolConfig };
}

function collectDefinitions(body: Json): { tool: Json; where: string }[] {
  const found: { tool: Json; where: string }[] = [];
  for (const field of ["tools", "functions"] as const) {
    const list = body[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw GatewayError.invalidRequest(`\`${field}\` must be an array`, field);
    list.forEach((tool, index) => {
      if (typeof tool !== "object" || tool === null) throw GatewayError.invalidRequest(`${field}[${index}] must be an object`, `${field}[${index}]`);
      // Legacy `functions` entries are bare function definitions.
      found.push({ tool: field === "functions" ? { type: "function", function: tool } : (tool as Json), where: `${field}[${index}]` });
    });
  }
  return found;
}

function builtinOf(tool: Json): string | undefined {
  if (typeof tool.type === "string" && tool.type !== "function" && BUILTIN_TOOLS[tool.type]) return BUILTIN_TOOLS[tool.type];
  for (const key of Object.keys(tool)) if (key !== "type" && BUILTIN_TOOLS[key]) return BUILTIN_TOOLS[key];
  const fn = tool.function as Json | undefined;
  if (typeof fn?.name === "string" && BUILTIN_TOOLS[fn.name] && fn.parameters === undefined) return BUILTIN_TOOLS[fn.name];
  return undefined;
}

function declaration(fn: Json, name: string, profile: SchemaProfile, budget: SchemaBudget, param: string): Json {
  const out: Json = { name };
  if (typeof fn.description === "string" && fn.description !== "") out.description = fn.description;
  const schema = fn.parameters === undefined || fn.parameters === null ? undefined : sanitizeSchema(fn.parameters, { profile, budget, param });
  if (profile === "json_schema") out.parametersJsonSchema = schema && !isEmptyObjectSchema(schema) ? schema : { type: "object", properties: {} };
  // The strict proto rejects an object without properties: no-argument tools omit parameters.
  else if (schema && !isEmptyObjectSchema(schema)) out.parameters = schema;
  return out;
}

function toolConfigOf(body: Json, names: ToolNames): Json | undefined {
  const choice = body.tool_choice ?? body.function_call;
  const field = body.tool_choice !== undefined ? "tool_choice" : "function_call";
  if (choice === undefined || choice === null) return undefined;
  const mode = (value: string, allowed?: string[]) => ({ functionCallingConfig: { mode: value, ...(allowed ? { allowedFunctionNames: allowed } : {}) } });
  if (choice === "auto") return mode("AUTO");
  if (choice === "none") return mode("NONE");
  if (choice === "required" || choice === "any") return mode("ANY");
  if (typeof choice === "object") {
    const named = choice as Json;
    const fnName = (named.function as Json | undefined)?.name ?? named.name;
    if (typeof fnName === "string") return mode("ANY", [names.toGemini(fnName)]);
    if (named.type === "allowed_tools") {
      const allowed = named.allowed_tools as Json | undefined;
      const list = Array.isArray(allowed?.tools) ? allowed.tools : [];
      const allowedNames = list
        .map((tool) => ((tool as Json).function as Json | undefined)?.name ?? (tool as Json).name)
        .filter((entry): entry is string => typeof entry === "string")
        .map((entry) => names.toGemini(entry));
      return mode(allowed?.mode === "required" ? "ANY" : "VALIDATED", allowedNames);
    }
  }
  throw GatewayError.invalidRequest(`\`${field}\` must be "auto", "none", "required" or name a function`, field);
}
