// Configuration: one typebox schema with the defaults inside, loaded file → environment → flags.
// Keys are snake_case everywhere (file, JELLYCLI_<KEY> environment variables, --key flags).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Type as t, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parse as parseToml, TomlError } from "smol-toml";

export const DEFAULT_MODELS = [
  "gemini-2.5-pro",
  "gemini-2.5-flash",
  "gemini-2.5-flash-lite",
  "gemini-3-pro-preview",
  "gemini-3-flash-preview",
];

const secondsSchema = (defaultValue: number, minimum = 0) => t.Number({ default: defaultValue, minimum });

export const configSchema = t.Object({
  password: t.Optional(t.Union([t.String({ minLength: 1 }), t.Array(t.String({ minLength: 1 }), { minItems: 1 })])),
  bind_address: t.String({ default: "127.0.0.1:7878", pattern: "^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$" }),
  credentials_dir: t.String({ default: "./credentials", minLength: 1 }),
  state_file: t.String({ default: "./creds_state.toml", minLength: 1 }),
  code_assist_endpoint: t.String({ default: "https://cloudcode-pa.googleapis.com", pattern: "^https?://" }),
  oauth_token_url: t.String({ default: "https://oauth2.googleapis.com/token", pattern: "^https?://" }),
  calls_per_rotation: t.Integer({ default: 1, minimum: 1 }),
  max_retries: t.Integer({ default: 3, minimum: 0, maximum: 20 }),
  connect_timeout_s: secondsSchema(30, 0.1),
  idle_timeout_s: secondsSchema(300, 0.1),
  keepalive_s: secondsSchema(15, 0.1),
  fake_stream_keepalive_s: secondsSchema(3, 0.1),
  max_body_bytes: t.Integer({ default: 20 * 1024 * 1024, minimum: 1024 }),
  log_level: t.Union([t.Literal("debug"), t.Literal("info"), t.Literal("warn"), t.Literal("error")], { default: "info" }),
  models: t.Array(t.String({ minLength: 1 }), { default: DEFAULT_MODELS, minItems: 1 }),
  state_flush_interval_s: secondsSchema(2, 0.05),
  reasoning_field: t.Union([t.Literal("reasoning_content"), t.Literal("reasoning"), t.Literal("think_tags"), t.Literal("hidden")], { default: "reasoning_content" }),
  schema_profile: t.Union([t.Literal("json_schema"), t.Literal("openapi")], { default: "json_schema" }),
  fetch_remote_images: t.Boolean({ default: true }),
  /** requested model → model served instead, only when no credential can serve the requested one. */
  fallback_models: t.Record(t.String({ minLength: 1 }), t.String({ minLength: 1 }), { default: {} }),
  health_check_interval_s: secondsSchema(300, 0),
  gemini_api_keys: t.Array(t.String({ minLength: 1 }), { default: [] }),
  gemini_api_endpoint: t.String({ default: "https://generativelanguage.googleapis.com", pattern: "^https?://" }),
  /** Which pool serves Gemini models first; the next serves when one has no usable credential. */
  gemini_upstream_order: t.Array(t.Union([t.Literal("codeassist"), t.Literal("gemini_api")]), { default: ["codeassist", "gemini_api"], minItems: 1 }),
  openai_upstreams: t.Array(t.Object({
    name: t.String({ minLength: 1, pattern: "^[A-Za-z0-9_.-]+$" }),
    base_url: t.String({ pattern: "^https?://" }),
    api_keys: t.Array(t.String(), { default: [] }),
    /** Names it serves: exact names, `prefix*` patterns, or "*". */
    models: t.Array(t.String({ minLength: 1 }), { minItems: 1 }),
    model_mapping: t.Record(t.String(), t.String(), { default: {} }),
    profile: t.Union([t.Literal("generic"), t.Literal("deepseek"), t.Literal("kimi"), t.Literal("ollama")], { default: "generic" }),
  }), { default: [] }),
  /** A Gemini-native client asking for a model nobody serves gets this one (never a 404). */
  default_model: t.Optional(t.String({ minLength: 1 })),
  log_requests: t.Union([t.Literal("off"), t.Literal("summary"), t.Literal("full")], { default: "summary" }),
  log_dir: t.String({ default: "./logs", minLength: 1 }),
  credentials_poll_s: secondsSchema(3, 0.05),
});

export type Config = Static<typeof configSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface ConfigSources {
  /** --config FILE; when absent, ./config.toml or ./config.json if present. */
  configPath?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** --key value pairs from the command line, keys already snake_case. */
  flags?: Record<string, string>;
}

export interface LoadedConfig {
  config: Config;
  source: string | null;
  warnings: string[];
}

const keys = Object.keys(configSchema.properties) as (keyof Config)[];

export async function loadConfig(sources: ConfigSources = {}): Promise<LoadedConfig> {
  const cwd = sources.cwd ?? process.cwd();
  const warnings: string[] = [];
  const path = findConfigFile(sources.configPath, cwd);
  const raw: Record<string, unknown> = path ? await readConfigFile(path) : {};
  const label = path ?? "configuration";

  for (const key of Object.keys(raw)) {
    if (!keys.includes(key as keyof Config)) warnings.push(`${label}: unknown key "${key}" ignored`);
  }
  const merged: Record<string, unknown> = Object.fromEntries(Object.entries(raw).filter(([key]) => keys.includes(key as keyof Config)));

  for (const key of keys) {
    const fromEnv = sources.env?.[`JELLYCLI_${key.toUpperCase()}`];
    if (fromEnv !== undefined && fromEnv !== "") merged[key] = coerce(key, fromEnv);
  }
  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (!keys.includes(key as keyof Config)) throw new ConfigError(`unknown option --${key.replaceAll("_", "-")}`);
    merged[key] = coerce(key as keyof Config, value);
  }

  const withDefaults = Value.Default(configSchema, Value.Clone(merged)) as Record<string, unknown>;
  const problems = [...Value.Errors(configSchema, withDefaults)];
  if (problems.length > 0) {
    const lines = problems.slice(0, 10).map((problem) => {
      const key = problem.path.replace(/^\//, "").replaceAll("/", ".") || "(root)";
      return `  ${key}: ${problem.message} (got ${JSON.stringify(problem.value)})`;
    });
    throw new ConfigError(`invalid configuration in ${describeOrigin(path)}:\n${lines.join("\n")}`);
  }
  return { config: Object.freeze(withDefaults as Config), source: path, warnings };
}

function describeOrigin(path: string | null): string {
  return path ? `${path} (or its JELLYCLI_* / --flag overrides)` : "JELLYCLI_* environment / --flags";
}

function findConfigFile(explicit: string | undefined, cwd: string): string | null {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new ConfigError(`config file not found: ${path}`);
    return path;
  }
  for (const name of ["config.toml", "config.json"]) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  const text = await readFile(path, "utf8");
  try {
    const value: unknown = path.endsWith(".json") ? JSON.parse(text) : parseToml(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new ConfigError(`${path}: the top level must be a table of keys`);
    }
    return value as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (error instanceof TomlError) throw new ConfigError(`${path}:${error.line}:${error.column}: ${error.message}`);
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
}

/** Environment and flags are strings; turn them into what the schema of `key` expects. */
function coerce(key: keyof Config, text: string): unknown {
  const schema = configSchema.properties[key] as TSchema;
  const accepts = (type: string) => schema.type === type || (schema.anyOf as TSchema[] | undefined)?.some((s) => s.type === type);
  if (accepts("array")) {
    const trimmed = text.trim();
    if (trimmed.startsWith("[")) {
      try {
        return JSON.parse(trimmed);
      } catch {
        return text;
      }
    }
    const items = trimmed.split(",").map((item) => item.trim()).filter(Boolean);
    return schema.type === "array" || items.length > 1 ? items : text;
  }
  if (accepts("object")) {
    // Tables come from the environment as JSON: JELLYCLI_FALLBACK_MODELS='{"a":"b"}'.
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  if (accepts("boolean")) {
    if (/^(true|1|yes|on)$/i.test(text.trim())) return true;
    if (/^(false|0|no|off)$/i.test(text.trim())) return false;
    return text;
  }
  if (accepts("integer") || accepts("number")) {
    const number = Number(text);
    return text.trim() !== "" && Number.isFinite(number) ? number : text;
  }
  return text;
}

export function passwords(config: Config): string[] {
  if (config.password === undefined) return [];
  return Array.isArray(config.password) ? config.password : [config.password];
}

export function splitBindAddress(bind: string): { hostname: string; port: number } {
  const index = bind.lastIndexOf(":");
  const host = bind.slice(0, index).replace(/^\[(.*)\]$/, "$1");
  return { hostname: host, port: Number(bind.slice(index + 1)) };
}

export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Refuses what would expose an unauthenticated gateway to the network. */
export function checkSafety(config: Config): void {
  const { hostname, port } = splitBindAddress(config.bind_address);
  if (port > 65535) throw new ConfigError(`bind_address: port ${port} is out of range`);
  if (!isLoopback(hostname) && passwords(config).length === 0) {
    throw new ConfigError(
      `refusing to listen on ${config.bind_address} without a password: anyone on the network could use your accounts. ` +
        `Set "password" in the config file (or JELLYCLI_PASSWORD), or bind to 127.0.0.1.`,
    );
  }
}
