import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { buildConfig, checkSafety, configSchema, ConfigError, DEFAULT_MODELS, loadConfig } from "../src/config.ts";
import { parseArguments } from "../src/main.ts";
import { makeWorkspace } from "./helpers.ts";

describe("loadConfig", () => {
  test("no file, no environment: the documented defaults", async () => {
    const { config, source, warnings } = await loadConfig({ cwd: makeWorkspace().dir, env: {} });
    expect(source).toBeNull();
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      bind_address: "127.0.0.1:7878", credentials_dir: "./credentials", state_file: "./creds_state.toml",
      code_assist_endpoint: "https://cloudcode-pa.googleapis.com", oauth_token_url: "https://oauth2.googleapis.com/token",
      calls_per_rotation: 1, max_retries: 3, connect_timeout_s: 30, idle_timeout_s: 300, max_body_bytes: 20 * 1024 * 1024,
      log_level: "info", models: DEFAULT_MODELS,
    });
    expect(config.password).toBeUndefined();
  });

  test("config.toml in the working directory is read; environment beats file; flags beat both", async () => {
    const { dir } = makeWorkspace();
    writeFileSync(join(dir, "config.toml"), 'calls_per_rotation = 5\nmax_retries = 1\npassword = ["a", "b"]\nmodels = ["x", "y"]\n');
    const { config, source } = await loadConfig({ cwd: dir, env: { JELLYCLI_MAX_RETRIES: "7", JELLYCLI_LOG_LEVEL: "debug" }, flags: { calls_per_rotation: "9" } });
    expect(source).toBe(join(dir, "config.toml"));
    expect(config).toMatchObject({ calls_per_rotation: 9, max_retries: 7, log_level: "debug", password: ["a", "b"], models: ["x", "y"] });
  });

  test("config.json works too, and --config names any file", async () => {
    const { dir } = makeWorkspace();
    writeFileSync(join(dir, "config.json"), JSON.stringify({ bind_address: "127.0.0.1:9000" }));
    expect((await loadConfig({ cwd: dir, env: {} })).config.bind_address).toBe("127.0.0.1:9000");
    writeFileSync(join(dir, "other.toml"), 'bind_address = "127.0.0.1:9001"');
    expect((await loadConfig({ cwd: dir, env: {}, configPath: "other.toml" })).config.bind_address).toBe("127.0.0.1:9001");
  });

  test("list keys from the environment: comma-separated or JSON", async () => {
    const { dir } = makeWorkspace();
    expect((await loadConfig({ cwd: dir, env: { JELLYCLI_MODELS: "a, b" } })).config.models).toEqual(["a", "b"]);
    expect((await loadConfig({ cwd: dir, env: { JELLYCLI_MODELS: '["c"]' } })).config.models).toEqual(["c"]);
    expect((await loadConfig({ cwd: dir, env: { JELLYCLI_PASSWORD: "secret" } })).config.password).toBe("secret");
  });

  test("a wrong type names the key and the file", async () => {
    const { dir } = makeWorkspace();
    writeFileSync(join(dir, "config.toml"), 'calls_per_rotation = "often"\n');
    const error = await loadConfig({ cwd: dir, env: {} }).catch((caught) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain("calls_per_rotation");
    expect(error.message).toContain("config.toml");
  });

  test("a wrong value names the key", async () => {
    const { dir } = makeWorkspace();
    for (const [key, value] of [["log_level", "loud"], ["max_retries", "-1"], ["bind_address", "nowhere"], ["code_assist_endpoint", "ftp://x"]]) {
      const error = await loadConfig({ cwd: dir, env: { [`JELLYCLI_${key!.toUpperCase()}`]: value } }).catch((caught) => caught);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toContain(key);
    }
  });

  test("TOML syntax errors carry the line", async () => {
    const { dir } = makeWorkspace();
    writeFileSync(join(dir, "config.toml"), "max_retries = 3\nthis is not toml\n");
    const error = await loadConfig({ cwd: dir, env: {} }).catch((caught) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain("config.toml:2");
  });

  test("an unknown key is a warning, not an error", async () => {
    const { dir } = makeWorkspace();
    writeFileSync(join(dir, "config.toml"), "calls_per_rotaton = 3\n");
    const { warnings, config } = await loadConfig({ cwd: dir, env: {} });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("calls_per_rotaton");
    expect(config.calls_per_rotation).toBe(1);
  });

  test("a missing --config file is an error", async () => {
    expect(loadConfig({ cwd: makeWorkspace().dir, env: {}, configPath: "nope.toml" })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("what a newcomer sees", () => {
  test("seconds are converted once: every *_s key also exists as *_ms", async () => {
    const { config } = await loadConfig({ cwd: makeWorkspace().dir, env: { JELLYCLI_KEEPALIVE_S: "1.5" } });
    expect(config).toMatchObject({ keepalive_ms: 1500, connect_timeout_ms: 30_000, idle_timeout_ms: 300_000, state_flush_interval_ms: 2000, credentials_poll_ms: 3000 });
  });

  test("a typo inside an [[openai_upstreams]] table is a warning naming it, with a suggestion", async () => {
    const { dir } = makeWorkspace();
    writeFileSync(join(dir, "config.toml"), '[[openai_upstreams]]\nname = "kimi"\nbase_url = "http://127.0.0.1:1/v1"\napi_key = ["sk-x"]\nmodels = ["kimi-k2"]\n');
    const { warnings, config } = await loadConfig({ cwd: dir, env: {} });
    expect(warnings).toEqual([expect.stringContaining('unknown key "openai_upstreams[0].api_key" ignored (did you mean "api_keys"?)')]);
    expect(config.openai_upstreams[0]!.api_keys).toEqual([]);
  });

  test("a wrong enum value lists the allowed values", async () => {
    const error = await loadConfig({ cwd: makeWorkspace().dir, env: { JELLYCLI_REASONING_FIELD: "thoughts" } }).catch((caught) => caught);
    expect(error.message).toContain("reasoning_field: must be one of: reasoning_content, reasoning, think_tags, hidden");
    expect(error.message).not.toContain("Expected union value");
  });

  test("a rejected secret is never echoed back", async () => {
    const { dir } = makeWorkspace();
    writeFileSync(join(dir, "config.toml"), 'gemini_api_keys = ["AIza-real-secret", ""]\n');
    const error = await loadConfig({ cwd: dir, env: {} }).catch((caught) => caught);
    expect(error.message).toContain("gemini_api_keys");
    expect(error.message).not.toContain("AIza-real-secret");
  });

  test("JELLYCLI_PASSWORD with a comma is one password; several only as a JSON list", async () => {
    const { dir } = makeWorkspace();
    expect((await loadConfig({ cwd: dir, env: { JELLYCLI_PASSWORD: "a,b" } })).config.password).toBe("a,b");
    expect((await loadConfig({ cwd: dir, env: { JELLYCLI_PASSWORD: '["a","b"]' } })).config.password).toEqual(["a", "b"]);
  });

  test("the origin names every source used", async () => {
    const { dir } = makeWorkspace();
    expect((await loadConfig({ cwd: dir, env: {} })).origin).toBe("defaults");
    expect((await loadConfig({ cwd: dir, env: {}, flags: { max_retries: "1" } })).origin).toBe("flags");
    writeFileSync(join(dir, "config.toml"), "max_retries = 2\n");
    expect((await loadConfig({ cwd: dir, env: { JELLYCLI_LOG_LEVEL: "warn" }, flags: { max_retries: "1" } })).origin).toBe(`${join(dir, "config.toml")} + environment + flags`);
  });

  test("config.example.toml names every key, and its values are the defaults", () => {
    const text = readFileSync(join(import.meta.dir, "..", "config.example.toml"), "utf8");
    for (const key of Object.keys(configSchema.properties)) expect(text).toMatch(new RegExp(`^# (\\[\\[)?${key}\\b`, "m"));
    // Uncomment the top-level assignments: the file must load as a valid configuration.
    const top = text.split("\n# [[openai_upstreams]]")[0]!.split("\n").filter((line) => /^# [a-z_]+ = /.test(line)).map((line) => line.slice(2).replace(/\s+# default: .*$/, ""));
    const values = parse(top.join("\n")) as Record<string, unknown>;
    const { config, warnings } = buildConfig(values);
    expect(warnings).toEqual([]);
    const defaults = buildConfig({}).config as Record<string, unknown>;
    const examples = ["password", "admin_password", "metrics_token", "fallback_models", "gemini_api_keys", "default_model", "public_url", "encryption_key", "redis_url"];
    for (const key of Object.keys(values).filter((name) => !examples.includes(name))) expect([key, (config as Record<string, unknown>)[key]]).toEqual([key, defaults[key]]);
  });
});

describe("checkSafety", () => {
  const base = async (env: Record<string, string>) => (await loadConfig({ cwd: makeWorkspace().dir, env })).config;
  test("loopback without a password is fine", async () => {
    const config = await base({});
    for (const bind of ["127.0.0.1:7878", "localhost:1", "[::1]:7878"]) expect(() => checkSafety({ ...config, bind_address: bind })).not.toThrow();
  });
  test("a non-loopback bind without a password is refused, with the reason", async () => {
    const config = await base({ JELLYCLI_BIND_ADDRESS: "0.0.0.0:7878" });
    expect(() => checkSafety(config)).toThrow(/without a password/);
    expect(() => checkSafety({ ...config, password: "pw" })).not.toThrow();
  });
});

describe("parseArguments", () => {
  test("serve is the default; flags become snake_case keys", () => {
    expect(parseArguments([])).toEqual({ command: "serve", flags: {} });
    expect(parseArguments(["serve", "--config", "c.toml", "--bind-address=0.0.0.0:1", "--max-retries", "2"])).toEqual({
      command: "serve", configPath: "c.toml", flags: { bind_address: "0.0.0.0:1", max_retries: "2" },
    });
    expect(parseArguments(["--version"]).command).toBe("version");
    expect(() => parseArguments(["--max-retries"])).toThrow(ConfigError);
    expect(() => parseArguments(["bogus"])).toThrow(ConfigError);
  });

  test("the subcommand may come after the flags", () => {
    expect(parseArguments(["--config", "f.toml", "check"])).toEqual({ command: "check", configPath: "f.toml", flags: {} });
    expect(parseArguments(["--max-retries", "1", "check"]).command).toBe("check");
  });
});
