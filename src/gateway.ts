// Wiring: config → credentials, state, pool, upstream, executor, HTTP app; start and stop.
// Shared by main.ts and the end-to-end tests, so both run exactly the same gateway.
import { ConfigError, isLoopback, passwords, splitBindAddress, type Config } from "./config.ts";
import { Executor } from "./executor.ts";
import { createApp, surfaceOf } from "./http/app.ts";
import { Metrics } from "./metrics.ts";
import { LogTail } from "./log-tail.ts";
import { createLogger, registerSecrets, type Logger } from "./log.ts";
import { apiKeyCredentials, CredentialWatcher, loadCredentials, removedFiles, sealInPlace, type Credential } from "./pool/credential.ts";
import { join } from "node:path";
import { ApiKeyBackend, CodeAssistBackend, type Backend } from "./backends.ts";
import { aliasResolver, createRouter, GEMINI_CLI_MODELS } from "./router.ts";
import { listedModelNames } from "./models.ts";
import { GeminiApiUpstream } from "./upstreams/gemini-api.ts";
import { OpenAICompatUpstream } from "./upstreams/openai-compat.ts";
import { HealthChecker, probeCredential } from "./health-check.ts";
import { TokenSource } from "./pool/oauth.ts";
import { LoginService } from "./pool/login.ts";
import { Pool } from "./pool/pool.ts";
import { isBlocked, type CredentialState } from "./pool/transitions.ts";
import { StateStore } from "./pool/state.ts";
import { openDatabase } from "./store/database.ts";
import { KeyRing, lockedUpstreamKeys, resealUpstreamKeys, upstreamKeys } from "./store/keys.ts";
import { SealError, Sealer } from "./sealing.ts";
import { localUsage, UsageRecorder } from "./store/usage.ts";
import { CodeAssistUpstream } from "./upstreams/codeassist.ts";
import { VERSION } from "./version.ts";
import { withRequestLog, type RequestTrace } from "./request-log.ts";
import { ResponseStore } from "./http/response-store.ts";
import { SharedBus } from "./shared/bus.ts";
import { CredentialSync } from "./shared/credentials.ts";
import { KeySync } from "./shared/keys.ts";
import { SharedTokens } from "./shared/tokens.ts";
import { SharedUsage } from "./shared/usage.ts";
import { RuntimeCredentialSync } from "./shared/runtime-credentials.ts";
import { CredentialOperations } from "./operations.ts";
import { shareAdminSessions } from "./shared/sessions.ts";
import { sharedResponses } from "./shared/responses.ts";
import { sharedLogins } from "./shared/logins.ts";
import { AdminAuth } from "./http/routes/admin.ts";
import { startHeapHygiene } from "./heap.ts";

export interface GatewayOptions {
  fetch?: typeof fetch;
  log?: Logger;
  now?: () => number;
  /** Gemini CLI waits 5 s between onboarding polls; tests need less. */
  onboardPollMs?: number;
  /** Read the state file but never write it (`jellycli check` beside a running server). */
  readOnlyState?: boolean;
  /** How long a request body may take to arrive (30 s; tests need less). */
  bodyReadTimeoutMs?: number;
}

export interface Gateway {
  store: StateStore;
  /** Every upstream with its pool: `jellycli check` probes them all. */
  backends: readonly Backend[];
  /** Listens on config.bind_address (port 0 picks a free port); returns the base URL. */
  listen(): string;
  /** Stops accepting requests and writes pending state. */
  stop(): Promise<void>;
}

/** What /v1/models and /v1beta/models list: the Gemini catalogue (plus fake-stream variants) and every OpenAI upstream's named models. */
export function routableModels(config: Config): string[] {
  const openAI = config.openai_upstreams.flatMap((upstream) => [...upstream.models, ...Object.keys(upstream.model_mapping)]).filter((name) => !name.includes("*"));
  return [...new Set([...listedModelNames(config.models), ...config.embedding_models, ...openAI])];
}

/** The configured encryption key as a Sealer (none: plaintext); a malformed key is a config error. */
export function sealerFor(config: Pick<Config, "encryption_key">): Sealer {
  try {
    return new Sealer(config.encryption_key);
  } catch (error) {
    if (error instanceof SealError) throw new ConfigError(error.message);
    throw error;
  }
}

export async function createGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? createLogger(config.log_level);
  // Every secret the configuration names is masked in anything jellycli writes or answers.
  registerSecrets([...passwords(config), config.admin_password, config.metrics_token, config.encryption_key, ...config.gemini_api_keys, ...config.openai_upstreams.flatMap((upstream) => upstream.api_keys)]);
  // A Redis URL may carry a password (redis://:secret@host): that part is a secret like the others.
  if (config.redis_url) registerSecrets([decodeURIComponent(URL.parse(config.redis_url)?.password ?? "")].filter(Boolean));
  const now = options.now ?? Date.now;
  const fetchImpl = options.fetch ?? globalThis.fetch;

  const sealer = sealerFor(config);
  const { credentials, problems, locked, plaintext } = await loadCredentials(config.credentials_dir, sealer);
  const db = openDatabase(config.database);
  // Encrypted secrets no key given opens: refuse to start before anything is rewritten or marked.
  const lockedKeys = lockedUpstreamKeys(db, sealer);
  if (locked.length > 0 || lockedKeys.length > 0) {
    db.close();
    throw new ConfigError([
      "cannot start: encrypted secrets that the encryption_key given does not open (nothing was changed):",
      ...locked.map(({ file, problem }) => `  ${join(config.credentials_dir, file)}: ${problem}`),
      ...lockedKeys.map((id) => `  ${config.database}: stored API key ${id}`),
      "Start with the key they were encrypted with, or re-encrypt them with `jellycli rekey --from OLD --to NEW`.",
    ].join("\n"));
  }
  if (sealer.enabled && !options.readOnlyState) {
    // Credentials moved aside earlier are still someone's secrets.
    await sealInPlace(config.credentials_dir, [...plaintext, ...await removedFiles(config.credentials_dir)], sealer);
    const resealed = resealUpstreamKeys(db, sealer);
    if (plaintext.length + resealed > 0) log.info("encrypted secrets at rest", { files: plaintext.length, stored_keys: resealed });
  }
  registerSecrets(credentials.map((credential) => credential.clientSecret));
  for (const { file, problem } of problems) log.warn("skipping credential file", { file, problem });
  const store = new StateStore(config.state_file, {
    flushIntervalMs: config.state_flush_interval_ms,
    readOnly: options.readOnlyState,
    onError: (error) => log.error("could not write the state file", { path: config.state_file, error: error.message }),
    onWarning: (message) => log.warn(message),
  });
  const states = await store.load();
  // Several instances: Redis shares what must agree (shared/*); without it nothing changes.
  const bus = config.redis_url ? new SharedBus(config.redis_url, log) : undefined;
  const credentialSync = bus ? new CredentialSync(bus, now) : undefined;
  const poolOptions = {
    callsPerRotation: config.calls_per_rotation,
    onChange: () => store.markDirty(),
    onStatusChange: (id: string, before: CredentialState, after: CredentialState) => {
      // A credential that needs a person is the operator's business: WARN, with the reason and the fix.
      const fields = { credential: id, from: before.status, to: after.status, reason: after.disabled_reason, url: after.disabled_url };
      if (isBlocked(after)) log.warn("credential set aside", fields);
      else log.info("credential status changed", fields);
    },
  };
  // Every pool shares one state map, so one creds_state.toml holds them all (ids never collide:
  // file names for OAuth, `<pool>:<fingerprint>` for keys).
  const sharedHooks = (name: string) => credentialSync?.hooks(name) ?? {};
  const pool = new Pool<Credential>(credentials, states, { ...poolOptions, ...sharedHooks("codeassist") });
  store.attach(() => states);
  log.info("credentials loaded", { dir: config.credentials_dir, count: credentials.length, skipped: problems.length });

  const tokens = new TokenSource({
    tokenUrl: config.oauth_token_url,
    fetch: fetchImpl,
    now,
    timeoutMs: config.connect_timeout_ms,
    sealer,
    coordinator: bus ? new SharedTokens(bus, sealer, now) : undefined,
    onWriteError: (credential, error) => log.error("could not write the refreshed token back", { credential: credential.id, error: error.message }),
  });
  const transport = { fetch: fetchImpl, connectTimeoutMs: config.connect_timeout_ms, idleTimeoutMs: config.idle_timeout_ms };
  const codeAssist = new CodeAssistUpstream({ ...transport, endpoint: config.code_assist_endpoint, onboardPollMs: options.onboardPollMs });

  // API keys added through the admin API join the configured ones (a key in both counts once).
  const addedKeys = upstreamKeys(db, sealer);
  const configuredKeys = new Map<string, readonly string[]>([["gemini_api", config.gemini_api_keys], ...config.openai_upstreams.map((upstream) => [upstream.name, upstream.api_keys] as const)]);
  registerSecrets([...addedKeys.values()].flat());
  const backends = new Map<string, Backend>();
  backends.set("codeassist", new CodeAssistBackend(pool, codeAssist, tokens, log));
  const geminiKeys = [...config.gemini_api_keys, ...(addedKeys.get("gemini_api") ?? [])];
  if (geminiKeys.length > 0) {
    const keys = new Pool(apiKeyCredentials("gemini-api", geminiKeys), states, { ...poolOptions, ...sharedHooks("gemini_api") });
    backends.set("gemini_api", new ApiKeyBackend("gemini_api", keys, new GeminiApiUpstream({ ...transport, endpoint: config.gemini_api_endpoint })));
  }
  for (const upstream of config.openai_upstreams) {
    // A local server without keys (Ollama) still needs one pool member to rotate.
    const upstreamKeyList = [...upstream.api_keys, ...(addedKeys.get(upstream.name) ?? [])];
    const members = upstreamKeyList.length > 0 ? apiKeyCredentials(upstream.name, upstreamKeyList) : [{ id: `${upstream.name}:no-key`, apiKey: "" }];
    const keys = new Pool(members, states, { ...poolOptions, ...sharedHooks(upstream.name) });
    const client = new OpenAICompatUpstream({ ...transport, name: upstream.name, baseURL: upstream.base_url, profile: upstream.profile });
    backends.set(upstream.name, new ApiKeyBackend(upstream.name, keys, client));
  }
  for (const backend of backends.values()) credentialSync?.attach(backend.name, backend.pool);
  if (credentials.length === 0 && backends.size === 1) log.warn(`no credentials: put OAuth credential files (*.json) in ${config.credentials_dir}, or configure gemini_api_keys / openai_upstreams`);

  const keys = new KeyRing(db);
  const keySync = bus ? new KeySync(bus, db, keys) : undefined;
  const usage = new UsageRecorder(db, now());
  const usageSource = bus ? new SharedUsage(bus, localUsage(db), usage, keys, now) : localUsage(db);
  const anonymousUser = passwords(config).length > 0 ? "password" : "-";
  // Requests that reached a model (refusals before the body was read are not usage).
  const metrics = new Metrics();
  const tail = new LogTail();
  const countUsage = (trace: RequestTrace, status: number) => {
    // The admin page's own polling would drown what it shows.
    if (trace.path !== "/admin" && !trace.path.startsWith("/admin/")) tail.push({
      at: Date.now(), method: trace.method, path: trace.path, status, model: trace.model, upstream: trace.backend,
      credential: trace.credential, ms: Math.round(performance.now() - trace.started), tokens: trace.tokens,
    });
    if (trace.model === undefined) return;
    metrics.request(surfaceOf(trace.path), trace.model, status, (performance.now() - trace.started) / 1000,
      trace.ttftMs === undefined ? undefined : trace.ttftMs / 1000, trace.usage, trace.keyId);
    usage.record({
      at: now(), keyId: trace.keyId ?? anonymousUser, credential: trace.credential ?? "-", model: trace.model, status,
      input: trace.usage?.input ?? 0, output: trace.usage?.output ?? 0, cached: trace.usage?.cached ?? 0,
    });
  };
  const credentialGauge = () => [...backends.values()].flatMap((backend) => {
    const summary = backend.pool.summary(now());
    return (["active", "suspected", "cooling", "disabled", "invalid"] as const).map((state) => ({ pool: backend.name, state, count: summary[state] }));
  });
  const router = createRouter({
    geminiOrder: config.gemini_upstream_order.filter((name) => backends.has(name)),
    openAIUpstreams: config.openai_upstreams,
    knownGeminiModels: new Set([...GEMINI_CLI_MODELS, ...config.models, ...config.embedding_models]),
    defaultModel: config.default_model,
    aliases: config.model_aliases,
  });
  const executor = new Executor({
    backends, router, maxRetries: config.max_retries, log, now, fallbackModels: config.fallback_models,
    onUpstream: (pool, outcome) => metrics.upstreamOutcome(pool, outcome),
  });
  const healthChecker = new HealthChecker({ backends: [...backends.values()], intervalMs: config.health_check_interval_ms, busy: () => executor.busy, log, now });
  const watcher = new CredentialWatcher(config.credentials_dir, ({ credentials: next, problems: bad }) => {
    for (const { file, problem } of bad) log.warn("skipping credential file", { file, problem });
    registerSecrets(next.map((credential) => credential.clientSecret));
    pool.replaceCredentials(next);
    log.info("credentials reloaded", { count: next.length, skipped: bad.length });
  }, sealer);
  await watcher.prime(credentials);
  const operations = new CredentialOperations({ credentialsDir: config.credentials_dir, backends, oauthPool: pool, watcher, db, sealer, configuredKeys, log });
  if (bus) {
    operations.shared = new RuntimeCredentialSync(bus, {
      writeFile: (name, content) => operations.applyFile(name, content),
      removeFile: (name) => operations.applyFileRemoval(name),
      addKey: (pool, sealed) => operations.applyKey(pool, sealed),
      removeKey: (pool, fingerprint) => operations.applyKeyRemoval(pool, fingerprint),
    });
  }
  const logins = new LoginService({
    client: {
      authUrl: config.oauth_auth_url, tokenUrl: config.oauth_token_url, userinfoUrl: config.oauth_userinfo_url,
      clientId: config.oauth_client_id, clientSecret: config.oauth_client_secret, fetch: fetchImpl, timeoutMs: config.connect_timeout_ms,
    },
    codeAssist, credentialsDir: config.credentials_dir, sealer, now,
    // Google accepts any port on a loopback address for this client; public_url where another address is registered.
    redirectUri: () => `${config.public_url?.replace(/\/+$/, "") ?? `http://${splitBindAddress(config.bind_address).hostname === "::1" ? "[::1]" : "127.0.0.1"}:${server?.port}`}/oauth2/callback`,
    onAdded: (file) => operations.fileWritten(file),
  });
  if (bus) logins.shared = sharedLogins(bus, sealer, now);
  const adminOpen = !config.admin_password && isLoopback(splitBindAddress(config.bind_address).hostname);
  const adminAuth = new AdminAuth({ adminPassword: config.admin_password, adminOpen, now });
  if (bus) shareAdminSessions(bus, adminAuth, now);
  const responses = new ResponseStore(config.responses_ttl_ms, now);
  if (bus) responses.shared = sharedResponses(bus);
  const app = createApp({
    adminAuth,
    executor, log, now,
    pools: [...backends.values()].map((backend) => ({ name: backend.name, pool: backend.pool })),
    passwords: passwords(config),
    keys,
    spentTokens: (keyId, period) => usage.spentBy(keyId, period, now()),
    db,
    adminPassword: config.admin_password,
    adminOpen,
    config: config as unknown as Record<string, unknown>,
    clientAddress: (request) => server?.requestIP(request)?.address ?? "unknown",
    usage: usageSource,
    onKeysChanged: (id) => {
      keys.reload();
      if (id) keySync?.changed(id);
    },
    throttle: keySync ? (key, at) => keySync.throttle(key, at) : undefined,
    addCredentialFile: (fileName, content) => operations.addFile(fileName, content),
    probeCredential: async (id) => {
      for (const backend of backends.values()) {
        const member = backend.pool.all().find((candidate) => candidate.id === id);
        if (member) await probeCredential(backend, member, now);
      }
    },
    addApiKey: (poolName, apiKey) => operations.addKey(poolName, apiKey),
    removeCredential: (id) => operations.remove(id),
    metricsToken: config.metrics_token,
    logins,
    openStreams: () => metrics.openStreams,
    startedAt: now(),
    tail,
    metrics: () => metrics.render(credentialGauge(), process.memoryUsage().rss, bus ? bus.up : undefined),
    redisUp: bus ? () => bus.up : undefined,
    corsOrigins: config.cors_origins,
    bodyReadTimeoutMs: options.bodyReadTimeoutMs,
    listedModels: () => routableModels(config),
    resolveModel: aliasResolver(config.model_aliases),
    responses,
    maxBodyBytes: config.max_body_bytes,
    keepaliveMs: config.keepalive_ms,
    fakeStreamKeepaliveMs: config.fake_stream_keepalive_ms,
    reasoningField: config.reasoning_field,
    schemaProfile: config.schema_profile,
    remoteImages: config.fetch_remote_images
      ? { fetch: fetchImpl, maxBytes: config.max_body_bytes, timeoutMs: config.connect_timeout_ms, allowPrivate: config.remote_images_allow_private }
      : null,
    version: VERSION,
  });

  // Connects and takes the shared state before the first request (a Redis that is down costs at most its connect timeout).
  await bus?.start();

  let server: ReturnType<typeof Bun.serve> | undefined;
  let heap: { stop(): void } | undefined;
  return {
    store,
    backends: [...backends.values()],
    listen() {
      watcher.start(config.credentials_poll_ms);
      healthChecker.start();
      keys.start();
      usage.start(config.usage_flush_interval_ms);
      heap = startHeapHygiene({
        openStreams: () => metrics.openStreams,
        onCollect: (pauseMs, streams) => log.debug("full collection while many streams are open", { ms: Math.round(pauseMs), streams }),
      });
      const { hostname, port } = splitBindAddress(config.bind_address);
      try {
        server = Bun.serve({
          hostname,
          port,
          fetch: withRequestLog(app.fetch, { mode: config.log_requests, dir: config.log_dir, log, onDone: countUsage, onStream: (open) => { metrics.openStreams += open ? 1 : -1; } }),
          // Streams and long non-streamed answers must not be cut by Bun's 10 s default; the
          // upstream idle timeout and SSE keep-alives bound silence instead.
          idleTimeout: 0,
          // A backstop well above our own limit, so our check answers 413 in the client's format.
          maxRequestBodySize: config.max_body_bytes * 2 + 65536,
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const why = code === "EADDRINUSE" ? "the address is already in use" : code === "EACCES" ? "permission denied" : (error as Error).message;
        throw new ConfigError(`cannot listen on ${config.bind_address}: ${why} (set bind_address, e.g. --bind-address 127.0.0.1:7879)`);
      }
      return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}`;
    },
    async stop() {
      watcher.stop();
      healthChecker.stop();
      keys.stop();
      heap?.stop();
      await server?.stop(true);
      usage.stop();
      await store.flush();
      bus?.stop();
      db.close();
    },
  };
}
