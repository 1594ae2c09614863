// Configuration: one typebox schema with the defaults inside, loaded file → environment → flags.
// Keys are snake_case everywhere (file, JELLYCLI_<KEY> environment variables, --key flags).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Type as t, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parse as parseToml, TomlError } from "smol-toml";
import { GEMINI_CLI_CLIENT_ID, GEMINI_CLI_CLIENT_SECRET } from "./pool/credential.ts";

export const DEFAULT_MODELS = [
  "gemini-2.5-pro",
  "gemini-2.5-flash",
  "gemini-2.5-flash-lite",
  "gemini-3-pro-preview",
  "gemini-3-flash-preview",
];

const secondsSchema = (defaultValue: number, minimum: number, description: string) => t.Number({ default: defaultValue, minimum, description });
const choice = <const T extends string>(values: readonly T[], defaultValue: NoInfer<T>, description: string) =>
  t.Union(values.map((value) => t.Literal(value)), { default: defaultValue, description });

/** Claude Code's main and small fast models onto Gemini's pro and flash (the longest matching pattern wins). */
export const DEFAULT_MODEL_ALIASES: Record<string, string> = {
  "claude-*": "gemini-2.5-pro",
  "claude-haiku-*": "gemini-2.5-flash",
  "claude-3-haiku-*": "gemini-2.5-flash",
  "claude-3-5-haiku-*": "gemini-2.5-flash",
};

// Every key has a default and a one-line reason: `jellycli --help` and config.example.toml show them.
export const configSchema = t.Object({
  password: t.Optional(t.Union([t.String({ minLength: 1 }), t.Array(t.String({ minLength: 1 }), { minItems: 1 })], {
    description: "client password(s), sent as Authorization: Bearer; without one jellycli only binds to loopback",
  })),
  admin_password: t.Optional(t.String({ minLength: 8, description: "password of the admin API (/admin/api); without one it answers only on a loopback-bound gateway" })),
  metrics_token: t.Optional(t.String({ minLength: 16, description: "Bearer token for GET /metrics (scrapers); the admin password works too" })),
  bind_address: t.String({ default: "127.0.0.1:7878", pattern: "^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$", description: "host:port to listen on ([::1]:7878 for IPv6)" }),
  credentials_dir: t.String({ default: "./credentials", minLength: 1, description: "folder of OAuth credential files (*.json), watched for changes" }),
  state_file: t.String({ default: "./creds_state.toml", minLength: 1, description: "per-credential state: counters, cooldowns, reasons" }),
  database: t.String({ default: "./jellycli.db", minLength: 1, description: "the embedded SQLite database (client API keys), created on first start" }),
  code_assist_endpoint: t.String({ default: "https://cloudcode-pa.googleapis.com", pattern: "^https?://", description: "Google Code Assist base URL" }),
  oauth_token_url: t.String({ default: "https://oauth2.googleapis.com/token", pattern: "^https?://", description: "OAuth token endpoint used to refresh access tokens" }),
  oauth_auth_url: t.String({ default: "https://accounts.google.com/o/oauth2/v2/auth", pattern: "^https?://", description: "OAuth authorization page a login opens (jellycli login, the admin API)" }),
  oauth_userinfo_url: t.String({ default: "https://www.googleapis.com/oauth2/v2/userinfo", pattern: "^https?://", description: "where a login reads the account's e-mail" }),
  oauth_client_id: t.String({ default: GEMINI_CLI_CLIENT_ID, minLength: 1, description: "OAuth client of new logins (Gemini CLI's installed-app client by default)" }),
  oauth_client_secret: t.String({ default: GEMINI_CLI_CLIENT_SECRET, minLength: 1, description: "its secret (public by design for an installed app)" }),
  public_url: t.Optional(t.String({ pattern: "^https?://[^\\s]+$", description: "this gateway's address as a browser reaches it, when an OAuth redirect there is registered (else http://127.0.0.1:<port>)" })),
  redis_url: t.Optional(t.String({ pattern: "^(redis|rediss|valkey|valkeys)://", description: "Redis shared by several jellycli instances (cooldowns, keys, limits, usage, sessions); none: this instance alone" })),
  encryption_key: t.Optional(t.String({ minLength: 1, description: "encrypts credential files and stored API keys at rest (AES-256-GCM); `jellycli generate-key` makes one" })),
  calls_per_rotation: t.Integer({ default: 1, minimum: 1, description: "calls served by one credential before moving to the next" }),
  max_retries: t.Integer({ default: 3, minimum: 0, maximum: 20, description: "extra upstream calls (other credentials, other pools) after a failure, before the first byte" }),
  connect_timeout_s: secondsSchema(30, 0.1, "wait for a stream's first byte from the upstream"),
  idle_timeout_s: secondsSchema(300, 0.1, "longest upstream silence, also the wait for a non-streamed answer; there is no total timeout"),
  keepalive_s: secondsSchema(15, 0.1, "SSE keep-alive comment interval while a stream is silent"),
  fake_stream_keepalive_s: secondsSchema(3, 0.1, "keep-alive interval of -fake-stream answers (the first goes out within a second)"),
  max_body_bytes: t.Integer({ default: 20 * 1024 * 1024, minimum: 1024, description: "largest accepted request body (413 beyond)" }),
  log_level: choice(["debug", "info", "warn", "error"], "info", "debug also shows every retry decision"),
  models: t.Array(t.String({ minLength: 1 }), { default: DEFAULT_MODELS, minItems: 1, description: "base models /v1/models lists (each also as -fake-stream)" }),
  embedding_models: t.Array(t.String({ minLength: 1 }), { default: ["gemini-embedding-001"], description: "embedding models /v1/models lists (served by Gemini API keys)" }),
  state_flush_interval_s: secondsSchema(2, 0.05, "how often pending state is written (a kill -9 loses at most this much)"),
  responses_ttl_s: secondsSchema(3600, 1, "how long Responses API answers are kept in memory for previous_response_id and GET /v1/responses/{id}"),
  usage_flush_interval_s: secondsSchema(5, 0.05, "how often usage statistics are written to the database (a kill -9 loses at most this much)"),
  reasoning_field: choice(["reasoning_content", "reasoning", "think_tags", "hidden"], "reasoning_content", "where model thoughts go in OpenAI answers"),
  schema_profile: choice(["json_schema", "openapi"], "json_schema", "how tool and JSON schemas are sent to Gemini"),
  fetch_remote_images: t.Boolean({ default: true, description: "fetch http(s) image URLs and send them inline (false: pass them on as URLs)" }),
  remote_images_allow_private: t.Boolean({ default: false, description: "also fetch images from private, loopback and link-local addresses (images served from your LAN)" }),
  fallback_models: t.Record(t.String({ minLength: 1 }), t.String({ minLength: 1 }), {
    default: {}, description: "requested model → model served instead, only when no credential can serve the requested one",
  }),
  model_aliases: t.Record(t.String({ minLength: 1 }), t.String({ minLength: 1 }), {
    default: DEFAULT_MODEL_ALIASES, description: "client model name or prefix* → the model that serves it, on every surface (Claude Code asks for claude-… models)",
  }),
  health_check_interval_s: secondsSchema(300, 0, "idle health checks of suspected, cooling and invalid credentials; 0 turns them off"),
  gemini_api_keys: t.Array(t.String({ minLength: 1 }), { default: [], description: "Gemini API keys: a pool of their own" }),
  gemini_api_endpoint: t.String({ default: "https://generativelanguage.googleapis.com", pattern: "^https?://", description: "Gemini API base URL" }),
  gemini_upstream_order: t.Array(t.Union([t.Literal("codeassist"), t.Literal("gemini_api")]), {
    default: ["codeassist", "gemini_api"], minItems: 1, description: "which pool serves Gemini models first; the next serves when one cannot",
  }),
  openai_upstreams: t.Array(t.Object({
    name: t.String({ minLength: 1, pattern: "^[A-Za-z0-9_.-]+$", description: "a short name for logs, state and routing" }),
    base_url: t.String({ pattern: "^https?://", description: "the server's OpenAI base URL, ending in /v1" }),
    api_keys: t.Array(t.String(), { default: [], description: "keys rotated like credentials; none for a local server" }),
    models: t.Array(t.String({ minLength: 1 }), { minItems: 1, description: "names it serves: exact names, prefix* patterns, or *" }),
    model_mapping: t.Record(t.String(), t.String(), { default: {}, description: "client model name → upstream model name" }),
    profile: choice(["generic", "deepseek", "kimi", "ollama"], "generic", "server quirks to respect"),
  }), { default: [], description: "OpenAI-compatible servers ([[openai_upstreams]] tables)" }),
  default_model: t.Optional(t.String({ minLength: 1, description: "where a Gemini-native client's unknown model name goes (Gemini CLI's helper calls)" })),
  log_requests: choice(["off", "summary", "full"], "summary", "one access line per request, or full records in log_dir"),
  log_dir: t.String({ default: "./logs", minLength: 1, description: "where full request records go" }),
  credentials_poll_s: secondsSchema(3, 0.05, "how often credentials_dir is checked for added, removed or replaced files"),
  cors_origins: t.Union([t.Literal("*"), t.Array(t.String({ pattern: "^https?://[^/\\s]+$" }))], {
    default: [], description: "browser origins allowed to call jellycli (LobeChat, Open WebUI in browser mode), or \"*\" (needs a password)",
  }),
});

type RawConfig = Static<typeof configSchema>;
type SecondsKey = Extract<keyof RawConfig, `${string}_s`>;
/** Every `<name>_s` key also as `<name>_ms`, converted once when the config is loaded. */
type Milliseconds = { readonly [K in SecondsKey as K extends `${infer Base}_s` ? `${Base}_ms` : never]: number };

export type Config = Readonly<RawConfig> & Milliseconds;

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
  /** The config file read, if any. */
  source: string | null;
  /** Where the values came from, for the start line: "defaults", "config.toml + flags" … */
  origin: string;
  warnings: string[];
}

const keys = Object.keys(configSchema.properties) as (keyof RawConfig)[];
/** Never echoed back in an error message, masked in the admin API's view of the configuration. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(["password", "admin_password", "metrics_token", "gemini_api_keys", "api_keys", "encryption_key", "oauth_client_secret", "redis_url"]);

export async function loadConfig(sources: ConfigSources = {}): Promise<LoadedConfig> {
  const cwd = sources.cwd ?? process.cwd();
  const path = findConfigFile(sources.configPath, cwd);
  const raw: Record<string, unknown> = path ? await readConfigFile(path) : {};
  const merged: Record<string, unknown> = { ...raw };
  const origins = path ? [path] : [];
  let fromEnv = false;
  for (const key of keys) {
    const value = sources.env?.[`JELLYCLI_${key.toUpperCase()}`];
    if (value === undefined || value === "") continue;
    merged[key] = coerce(key, value);
    fromEnv = true;
  }
  if (fromEnv) origins.push("environment");
  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (!keys.includes(key as keyof RawConfig)) throw new ConfigError(`unknown option --${key.replaceAll("_", "-")} (see --help for every key)`);
    merged[key] = coerce(key as keyof RawConfig, value);
  }
  if (Object.keys(sources.flags ?? {}).length > 0) origins.push("flags");
  const { config, warnings } = buildConfig(merged, path ?? "configuration", describeOrigin(path));
  return { config, source: path, origin: origins.length > 0 ? origins.join(" + ") : "defaults", warnings };
}

/**
 * Validates a merged set of values, fills in the defaults and derives the `_ms` keys. The one way a
 * Config is made — by loadConfig, and by tests, so an invalid override fails as it would for a user.
 */
export function buildConfig(values: Record<string, unknown>, label = "configuration", origin = label): { config: Config; warnings: string[] } {
  const warnings = unknownKeys(configSchema, values, "").map((key) => `${label}: unknown key "${key}" ignored${suggestion(key)}`);
  const known = Object.fromEntries(Object.entries(values).filter(([key]) => keys.includes(key as keyof RawConfig)));
  const withDefaults = Value.Default(configSchema, Value.Clone(known)) as Record<string, unknown>;
  const problems = [...Value.Errors(configSchema, withDefaults)];
  if (problems.length > 0) {
    const lines = problems.slice(0, 10).map((problem) => {
      const key = problem.path.replace(/^\//, "").replaceAll("/", ".") || "(root)";
      const secret = problem.path.split("/").some((part) => SECRET_KEYS.has(part));
      const allowed = (problem.schema.anyOf as { const?: unknown }[] | undefined)?.map((option) => option.const);
      const message = allowed?.every((value) => typeof value === "string") ? `must be one of: ${allowed.join(", ")}` : problem.message;
      return `  ${key}: ${message}${secret ? "" : ` (got ${JSON.stringify(problem.value)})`}`;
    });
    throw new ConfigError(`invalid configuration in ${origin}:\n${lines.join("\n")}`);
  }
  const milliseconds = Object.fromEntries(Object.entries(withDefaults).filter(([key]) => key.endsWith("_s")).map(([key, value]) => [`${key.slice(0, -2)}_ms`, Math.round((value as number) * 1000)]));
  return { config: Object.freeze({ ...withDefaults, ...milliseconds }) as Config, warnings };
}

/** Keys the schema does not know, at any depth (a typo inside an [[openai_upstreams]] table too). */
function unknownKeys(schema: TSchema, value: unknown, path: string): string[] {
  if (schema.type === "array" && Array.isArray(value) && schema.items) {
    return value.flatMap((item, index) => unknownKeys(schema.items as TSchema, item, `${path}[${index}]`));
  }
  if (schema.type !== "object" || !schema.properties || typeof value !== "object" || value === null) return [];
  const properties = schema.properties as Record<string, TSchema>;
  return Object.entries(value).flatMap(([key, inner]) => {
    const where = path ? `${path}.${key}` : key;
    return properties[key] ? unknownKeys(properties[key]!, inner, where) : [where];
  });
}

/** ` (did you mean "api_keys"?)` when a known key is a typo away. */
function suggestion(path: string): string {
  const name = path.split(/[.\]]/).at(-1)!.replace(/^\[\d+$/, "");
  const candidates = [...keys, ...Object.keys((configSchema.properties.openai_upstreams.items as TSchema).properties as object)];
  const best = candidates.map((candidate) => [candidate, editDistance(name, candidate)] as const).sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= 2 ? ` (did you mean "${best[0]}"?)` : "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** Every key with its default and reason: `jellycli --help`. */
export function describeKeys(): string {
  return keys.map((key) => {
    const schema = configSchema.properties[key] as TSchema;
    const fallback = schema.default === undefined ? "(none)" : JSON.stringify(schema.default);
    return `  --${key.replaceAll("_", "-")} (${key}, default ${fallback})\n      ${schema.description ?? ""}`;
  }).join("\n");
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
function coerce(key: keyof RawConfig, text: string): unknown {
  const schema = configSchema.properties[key] as TSchema;
  const accepts = (type: string) => schema.type === type || (schema.anyOf as TSchema[] | undefined)?.some((s) => s.type === type);
  if (accepts("array")) {
    const trimmed = text.trim();
    // A password may contain a comma: several passwords only as a JSON list.
    if (key === "password" && !trimmed.startsWith("[")) return text;
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
  if (config.cors_origins === "*" && passwords(config).length === 0) {
    throw new ConfigError(`cors_origins = "*" without a password would let any web page you visit use your accounts. Set "password", or list the origins you use.`);
  }
  if (!isLoopback(hostname) && passwords(config).length === 0) {
    throw new ConfigError(
      `refusing to listen on ${config.bind_address} without a password: anyone on the network could use your accounts. ` +
        `Set "password" in the config file (or JELLYCLI_PASSWORD), or bind to 127.0.0.1.`,
    );
  }
}
