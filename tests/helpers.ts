// Test scaffolding: a temporary workspace (credentials dir + state file), credential files in
// both formats, and a real jellycli gateway on 127.0.0.1:0 wired to the mock Google.
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "bun:test";
import { buildConfig, type Config } from "../src/config.ts";
import { createGateway, type Gateway, type GatewayOptions } from "../src/gateway.ts";
import { silentLogger, type Logger } from "../src/log.ts";
import { MockGoogle } from "./mock/google.ts";

export interface Workspace {
  dir: string;
  credentialsDir: string;
  stateFile: string;
}

export function makeWorkspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), "jellycli-test-"));
  const credentialsDir = join(dir, "credentials");
  mkdirSync(credentialsDir);
  return { dir, credentialsDir, stateFile: join(dir, "creds_state.toml") };
}

/** jellycli's own format. `project_id` omitted means "discover it". */
export function writeJellycliCredential(workspace: Workspace, file: string, fields: {
  refreshToken: string; accessToken?: string; expiresAt?: number; projectId?: string; clientId?: string; clientSecret?: string;
}): string {
  const path = join(workspace.credentialsDir, file);
  writeFileSync(path, JSON.stringify({
    access_token: fields.accessToken ?? "",
    refresh_token: fields.refreshToken,
    client_id: fields.clientId ?? "test-client.apps.googleusercontent.com",
    client_secret: fields.clientSecret ?? "test-secret",
    ...(fields.projectId ? { project_id: fields.projectId } : {}),
    ...(fields.expiresAt !== undefined ? { expiry: new Date(fields.expiresAt).toISOString() } : {}),
  }, null, 2));
  return path;
}

/** Gemini CLI's ~/.gemini/oauth_creds.json format. */
export function writeGeminiCliCredential(workspace: Workspace, file: string, fields: { refreshToken: string; accessToken?: string; expiresAt?: number }): string {
  const path = join(workspace.credentialsDir, file);
  writeFileSync(path, JSON.stringify({
    access_token: fields.accessToken ?? "ya29.stale",
    refresh_token: fields.refreshToken,
    scope: "openid https://www.googleapis.com/auth/cloud-platform",
    token_type: "Bearer",
    id_token: "eyJ.old.sig",
    expiry_date: fields.expiresAt ?? Date.now() - 1000,
  }, null, 2));
  return path;
}

/** A mock account plus a matching jellycli credential file holding a valid access token. */
export function addReadyAccount(mock: MockGoogle, workspace: Workspace, name: string, options: { projectId?: string; fileProject?: boolean } = {}) {
  const project = options.projectId ?? `project-${name}`;
  mock.addAccount({ name, refreshToken: `1//refresh-${name}`, project, clientId: "test-client.apps.googleusercontent.com", clientSecret: "test-secret" });
  const accessToken = mock.issueToken(name);
  writeJellycliCredential(workspace, `${name}.json`, {
    refreshToken: `1//refresh-${name}`, accessToken, expiresAt: Date.now() + 3600_000,
    projectId: options.fileProject === false ? undefined : project,
  });
  return { accessToken, project };
}

/** Built by the same code as a user's config: an invalid override fails here as it would for them. */
export function testConfig(mock: MockGoogle, workspace: Workspace, overrides: Partial<Config> = {}): Config {
  return buildConfig({
    bind_address: "127.0.0.1:0",
    credentials_dir: workspace.credentialsDir,
    state_file: workspace.stateFile,
    database: join(workspace.dir, "jellycli.db"),
    code_assist_endpoint: mock.url,
    oauth_token_url: mock.tokenUrl,
    oauth_auth_url: mock.authUrl,
    oauth_userinfo_url: mock.userinfoUrl,
    state_flush_interval_s: 0.05,
    ...overrides,
  }).config;
}

export interface Running {
  url: string;
  gateway: Gateway;
  stop(): Promise<void>;
}

export async function startGateway(config: Config, log: Logger = silentLogger, options: GatewayOptions = {}): Promise<Running> {
  const gateway = await createGateway(config, { log, onboardPollMs: 20, ...options });
  const url = gateway.listen();
  return { url, gateway, stop: () => gateway.stop() };
}

export function chat(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export interface SpawnedGateway {
  url: string;
  process: ReturnType<typeof Bun.spawn>;
  output: () => string;
}

/** Starts jellycli as its own process (source or compiled binary) and waits for its listen line. */
export async function spawnJellycli(command: string[], env: Record<string, string>, cwd: string): Promise<SpawnedGateway> {
  const child = Bun.spawn(command, { cwd, env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env }, stdout: "pipe", stderr: "pipe" });
  let output = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  const deadline = Date.now() + 15_000;
  while (!/listening on (http:\/\/\S+)/.test(output)) {
    if (Date.now() > deadline) throw new Error(`jellycli did not start:\n${output}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`jellycli exited early (${await child.exited}):\n${output}`);
    output += decoder.decode(value, { stream: true });
  }
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      output += decoder.decode(value, { stream: true });
    }
  })();
  return { url: /listening on (http:\/\/\S+)/.exec(output)![1]!, process: child, output: () => output };
}

/** The environment that points a jellycli process at the mock and the workspace. */
export function processEnv(mock: MockGoogle, workspace: Workspace): Record<string, string> {
  return {
    JELLYCLI_BIND_ADDRESS: "127.0.0.1:0",
    JELLYCLI_CREDENTIALS_DIR: workspace.credentialsDir,
    JELLYCLI_STATE_FILE: workspace.stateFile,
    JELLYCLI_DATABASE: join(workspace.dir, "jellycli.db"),
    JELLYCLI_CODE_ASSIST_ENDPOINT: mock.url,
    JELLYCLI_OAUTH_TOKEN_URL: mock.tokenUrl,
    JELLYCLI_OAUTH_AUTH_URL: mock.authUrl,
    JELLYCLI_OAUTH_USERINFO_URL: mock.userinfoUrl,
    JELLYCLI_STATE_FLUSH_INTERVAL_S: "60",
  };
}

/** A response body as JSON, typed loosely: tests assert on its shape. */
export const readJson = (response: Response): Promise<any> => response.json();

/**
 * A fresh mock Google and workspace for every test in the calling file, and gateways on them that
 * are stopped after each test. Read `mock` / `workspace` inside tests (they change per test).
 */
export function perTestGateways(defaults: Partial<Config> = {}) {
  const harness = {
    mock: undefined as unknown as MockGoogle,
    workspace: undefined as unknown as Workspace,
    running: [] as Running[],
    async start(overrides: Partial<Config> = {}): Promise<Running> {
      const gateway = await startGateway(testConfig(harness.mock, harness.workspace, { ...defaults, ...overrides }));
      harness.running.push(gateway);
      return gateway;
    },
  };
  beforeEach(() => {
    harness.mock = new MockGoogle();
    harness.workspace = makeWorkspace();
  });
  afterEach(async () => {
    for (const gateway of harness.running.splice(0)) await gateway.stop();
    harness.mock.stop();
  });
  return harness;
}
