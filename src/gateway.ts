// Wiring: config → credentials, state, pool, upstream, executor, HTTP app; start and stop.
// Shared by main.ts and the end-to-end tests, so both run exactly the same gateway.
import { passwords, splitBindAddress, type Config } from "./config.ts";
import { Executor } from "./executor.ts";
import { createApp, type App } from "./http/app.ts";
import { createLogger, type Logger } from "./log.ts";
import { CredentialWatcher, loadCredentials } from "./pool/credential.ts";
import { HealthChecker } from "./health-check.ts";
import { TokenSource } from "./pool/oauth.ts";
import { Pool } from "./pool/pool.ts";
import { StateStore } from "./pool/state.ts";
import { CodeAssistUpstream } from "./upstreams/codeassist.ts";
import type { ProbeDeps } from "./health-check.ts";
import { VERSION } from "./version.ts";

export interface GatewayOptions {
  fetch?: typeof fetch;
  log?: Logger;
  now?: () => number;
  /** Gemini CLI waits 5 s between onboarding polls; tests need less. */
  onboardPollMs?: number;
}

export interface Gateway {
  app: App;
  pool: Pool;
  store: StateStore;
  /** What `jellycli check` and the health checker need to probe credentials. */
  probeDeps: ProbeDeps;
  healthChecker: HealthChecker;
  watcher: CredentialWatcher;
  /** Listens on config.bind_address (port 0 picks a free port); returns the base URL. */
  listen(): string;
  /** Stops accepting requests and writes pending state. */
  stop(): Promise<void>;
}

export async function createGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? createLogger(config.log_level);
  const now = options.now ?? Date.now;
  const fetchImpl = options.fetch ?? globalThis.fetch;

  const { credentials, problems } = await loadCredentials(config.credentials_dir);
  for (const { file, problem } of problems) log.warn("skipping credential file", { file, problem });
  const store = new StateStore(config.state_file, {
    flushIntervalMs: config.state_flush_interval_s * 1000,
    onError: (error) => log.error("could not write the state file", { path: config.state_file, error: error.message }),
    onWarning: (message) => log.warn(message),
  });
  const pool = new Pool(credentials, await store.load(), { callsPerRotation: config.calls_per_rotation, onChange: () => store.markDirty() });
  store.attach(() => pool.snapshot());
  log.info("credentials loaded", { dir: config.credentials_dir, count: credentials.length, skipped: problems.length });
  if (credentials.length === 0) log.warn(`no credentials: put OAuth credential files (*.json) in ${config.credentials_dir}`);

  const tokens = new TokenSource({
    tokenUrl: config.oauth_token_url,
    fetch: fetchImpl,
    now,
    timeoutMs: config.connect_timeout_s * 1000,
    onWriteError: (credential, error) => log.error("could not write the refreshed token back", { credential: credential.id, error: error.message }),
  });
  const codeAssist = new CodeAssistUpstream({
    endpoint: config.code_assist_endpoint,
    fetch: fetchImpl,
    connectTimeoutMs: config.connect_timeout_s * 1000,
    idleTimeoutMs: config.idle_timeout_s * 1000,
    onboardPollMs: options.onboardPollMs,
  });
  const executor = new Executor({ pool, tokens, codeAssist, maxRetries: config.max_retries, log, now, fallbackModels: config.fallback_models });
  const probeDeps: ProbeDeps = { pool, tokens, codeAssist, now };
  const healthChecker = new HealthChecker({ ...probeDeps, intervalMs: config.health_check_interval_s * 1000, busy: () => executor.busy, log });
  const watcher = new CredentialWatcher(config.credentials_dir, ({ credentials: next, problems: bad }) => {
    for (const { file, problem } of bad) log.warn("skipping credential file", { file, problem });
    pool.replaceCredentials(next);
    log.info("credentials reloaded", { count: next.length, skipped: bad.length });
  });
  await watcher.prime(credentials);
  const app = createApp({
    executor, pool, log, now,
    passwords: passwords(config),
    models: config.models,
    maxBodyBytes: config.max_body_bytes,
    keepaliveMs: config.keepalive_s * 1000,
    fakeStreamKeepaliveMs: config.fake_stream_keepalive_s * 1000,
    reasoningField: config.reasoning_field,
    schemaProfile: config.schema_profile,
    remoteImages: config.fetch_remote_images
      ? { fetch: fetchImpl, maxBytes: config.max_body_bytes, timeoutMs: config.connect_timeout_s * 1000 }
      : null,
    version: VERSION,
  });

  let server: ReturnType<typeof Bun.serve> | undefined;
  return {
    app, pool, store, probeDeps, healthChecker, watcher,
    listen() {
      watcher.start(config.credentials_poll_s * 1000);
      healthChecker.start();
      const { hostname, port } = splitBindAddress(config.bind_address);
      server = Bun.serve({
        hostname,
        port,
        fetch: app.fetch,
        // Streams and long non-streamed answers must not be cut by Bun's 10 s default; the
        // upstream idle timeout and SSE keep-alives bound silence instead.
        idleTimeout: 0,
        // A backstop well above our own limit, so our check answers 413 in the client's format.
        maxRequestBodySize: config.max_body_bytes * 2 + 65536,
      });
      return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}`;
    },
    async stop() {
      watcher.stop();
      healthChecker.stop();
      await server?.stop(true);
      await store.flush();
    },
  };
}
