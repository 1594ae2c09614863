// Model name → which backends may serve it (in order) and under which name. OpenAI-compatible
// upstreams claim names exactly or by `prefix*` pattern; everything else is a Gemini model, served
// by the Gemini pools in `gemini_upstream_order`.
import { GatewayError } from "./hub.ts";
import { parseModelName, type ModelVariant } from "./models.ts";

export interface Candidate {
  backend: string;
  /** The name this backend is asked for. */
  upstreamModel: string;
}

export interface Route extends ModelVariant {
  kind: "gemini" | "openai";
  candidates: Candidate[];
}

export interface RouterOptions {
  /** Gemini backends present, in the order they should serve. */
  geminiOrder: readonly string[];
  openAIUpstreams: readonly { name: string; models: readonly string[]; model_mapping: Readonly<Record<string, string>> }[];
  /** Gemini model names known to exist (the catalogue plus Gemini CLI's own names). */
  knownGeminiModels: ReadonlySet<string>;
  /** Where a Gemini-native client's unknown model goes, so Gemini CLI never sees a 404. */
  defaultModel?: string;
  /** Client name or `prefix*` → served model (model_aliases). */
  aliases?: Readonly<Record<string, string>>;
}

/**
 * model_aliases as a function: an exact name first, then the longest matching `prefix*`; a name
 * no alias claims is itself. One step only (an alias's target is not aliased again).
 */
export function aliasResolver(aliases: Readonly<Record<string, string>> = {}): (name: string) => string {
  const exact = new Map(Object.entries(aliases).filter(([pattern]) => !pattern.endsWith("*")));
  const prefixes = Object.entries(aliases).filter(([pattern]) => pattern.endsWith("*"))
    .map(([pattern, target]) => [pattern.slice(0, -1), target] as const).sort((a, b) => b[0].length - a[0].length);
  return (name) => exact.get(name) ?? prefixes.find(([prefix]) => name.startsWith(prefix))?.[1] ?? name;
}

export type Router = (requested: string, options?: { unknownToDefault?: boolean }) => Route;

export function createRouter(options: RouterOptions): Router {
  const claims = (patterns: readonly string[], name: string, exactOnly: boolean) => patterns.some((pattern) =>
    pattern === name || (!exactOnly && (pattern === "*" || (pattern.endsWith("*") && name.startsWith(pattern.slice(0, -1))))));
  const openAIFor = (name: string) =>
    options.openAIUpstreams.find((upstream) => claims([...upstream.models, ...Object.keys(upstream.model_mapping)], name, true))
    ?? options.openAIUpstreams.find((upstream) => claims(upstream.models, name, false));

  const alias = aliasResolver(options.aliases);
  const route: Router = (asked, { unknownToDefault = false } = {}) => {
    checkModelName(asked);
    const requested = alias(asked);
    const variant = parseModelName(requested);
    if (variant.base === "") throw GatewayError.invalidRequest("`model` must name a model", "model");
    const upstream = openAIFor(variant.base);
    if (upstream) {
      return { ...variant, kind: "openai", candidates: [{ backend: upstream.name, upstreamModel: upstream.model_mapping[variant.base] ?? variant.base }] };
    }
    if (unknownToDefault && options.defaultModel && options.defaultModel !== variant.base && !options.knownGeminiModels.has(variant.base)) {
      const fallback = route(options.defaultModel);
      return { ...variant, kind: fallback.kind, candidates: fallback.candidates };
    }
    return { ...variant, kind: "gemini", candidates: options.geminiOrder.map((backend) => ({ backend, upstreamModel: variant.base })) };
  };
  return route;
}

/**
 * Model names come from clients and end up in upstream URLs and state: letters, digits and
 * `. _ - : / @ +` only (Ollama's `qwen2.5:7b`, `deepseek/deepseek-chat`, the `-假流式` suffix),
 * no `..` path step, at most 200 characters.
 */
const MODEL_NAME = /^[\p{L}\p{N}][\p{L}\p{N}._:/@+-]{0,199}$/u;

export function checkModelName(name: string): void {
  if (typeof name !== "string" || !MODEL_NAME.test(name) || name.includes("..") || name.includes("//")) {
    throw GatewayError.invalidRequest(`\`model\` ${JSON.stringify(String(name).slice(0, 80))} is not a valid model name (letters, digits and . _ - : / @ + only)`, "model");
  }
}

/** Names Gemini CLI and Code Assist are known to use (docs/codeassist-protocol.md §11). */
export const GEMINI_CLI_MODELS = [
  "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3-pro-preview", "gemini-3.1-pro-preview",
  "gemini-3.1-pro-preview-customtools", "gemini-3-flash-preview", "gemini-3-flash", "gemini-3.5-flash", "gemini-3.8-flash",
  "gemini-3.1-flash-lite", "gemini-3.5-flash-lite", "gemini-3.1-flash-lite-preview",
];
