import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkSafety, ConfigError, DEFAULT_MODELS, loadConfig } from "../src/config.ts";
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
});
