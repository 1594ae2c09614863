// The retry/failover loop: route the model, pick a credential, make sure it has a token and a
// project, call the upstream, report the outcome. Retries and failover happen only before the
// first byte reaches the client; a stream is returned already primed with its first chunk.
import { GatewayError, type CountTokensResponse, type GenerateContentRequest, type GenerateContentResponse } from "./hub.ts";
import type { Logger } from "./log.ts";
import type { Credential } from "./pool/credential.ts";
import type { TokenSource } from "./pool/oauth.ts";
import type { Pool } from "./pool/pool.ts";
import { routeModel, type Route } from "./router.ts";
import type { CodeAssistUpstream } from "./upstreams/codeassist.ts";
import type { UpstreamAuth, UpstreamCall } from "./upstreams/types.ts";

export interface ExecutorDeps {
  pool: Pool;
  tokens: TokenSource;
  codeAssist: CodeAssistUpstream;
  maxRetries: number;
  log: Logger;
  now?: () => number;
  /** requested model → model to serve instead when nothing can serve the requested one. */
  fallbackModels?: Readonly<Record<string, string>>;
  /** Waits between attempts when a model is out of capacity for everyone (ms, by attempt). */
  capacityBackoffMs?: (attempt: number) => number;
}

export interface ExecuteRequest {
  model: string;
  request: GenerateContentRequest;
  signal?: AbortSignal;
}

export interface Served<T> {
  value: T;
  /** Set when `fallback_models` chose another model than the one asked for. */
  fallbackModel?: string;
}

interface Attempted<T> extends Served<T> {
  credential: Credential;
  route: Route;
}

const defaultCapacityBackoff = (attempt: number) => Math.min(4000, 500 * 2 ** attempt);

export class Executor {
  private readonly now: () => number;
  private readonly discovering = new Map<string, Promise<string>>();
  private active = 0;
  private lastActivity = 0;

  constructor(private readonly deps: ExecutorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Requests (and open streams) in progress, and when the last one started or ended. */
  get busy(): { inFlight: number; lastActivity: number } {
    return { inFlight: this.active, lastActivity: this.lastActivity };
  }

  async generate(input: ExecuteRequest): Promise<Served<GenerateContentResponse>> {
    const { value, fallbackModel } = await this.tracked(() => this.withFailover(input, (call) => this.deps.codeAssist.generate(call)));
    return { value, fallbackModel };
  }

  async countTokens(input: ExecuteRequest): Promise<Served<CountTokensResponse>> {
    const { value, fallbackModel } = await this.tracked(() => this.withFailover(input, (call) => this.deps.codeAssist.countTokens(call)));
    return { value, fallbackModel };
  }

  /** Resolves once the upstream produced its first chunk (or rejects with why it could not). */
  async stream(input: ExecuteRequest): Promise<Served<AsyncIterable<GenerateContentResponse>>> {
    this.begin();
    try {
      const { value, credential, route, fallbackModel } = await this.withFailover(input, async (call) => {
        const iterator = this.deps.codeAssist.stream(call)[Symbol.asyncIterator]();
        const first = await iterator.next();
        if (first.done) {
          throw new GatewayError({ status: 502, code: "empty_stream", scope: "transient", message: "the upstream ended the stream without sending anything" });
        }
        return { first: first.value, iterator };
      }, { deferSuccess: true });
      return { value: this.continueStream(value.first, value.iterator, credential, route), fallbackModel };
    } catch (error) {
      this.end();
      throw error;
    }
  }

  private async *continueStream(
    first: GenerateContentResponse,
    iterator: AsyncIterator<GenerateContentResponse>,
    credential: Credential,
    route: Route,
  ): AsyncGenerator<GenerateContentResponse> {
    let failed = false;
    try {
      yield first;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } catch (error) {
      failed = true;
      const gatewayError = asGatewayError(error);
      this.report(credential, route, gatewayError);
      this.deps.log.warn("upstream stream broke after the first byte", { credential: credential.id, status: gatewayError.status, error: gatewayError.message });
      throw gatewayError;
    } finally {
      // Runs on normal end, on error, and when the client goes away (return()).
      await iterator.return?.().catch(() => {});
      if (!failed) this.deps.pool.report(credential.id, { kind: "success", model: route.base }, this.now());
      this.end();
    }
  }

  private async tracked<T>(work: () => Promise<T>): Promise<T> {
    this.begin();
    try {
      return await work();
    } finally {
      this.end();
    }
  }

  private begin(): void {
    this.active++;
    this.lastActivity = this.now();
  }

  private end(): void {
    this.active--;
    this.lastActivity = this.now();
  }

  /** The requested route, or its configured fallback when nothing can serve the requested model. */
  private routeFor(model: string): { route: Route; fallbackModel?: string } {
    const route = routeModel(model);
    const fallback = this.deps.fallbackModels?.[route.base];
    const now = this.now();
    if (!fallback || this.deps.pool.canServe(route.base, now) || !this.deps.pool.canServe(fallback, now)) return { route };
    this.deps.log.info("serving a fallback model", { requested: route.base, fallback });
    return { route: { ...route, base: fallback, upstreamModel: fallback }, fallbackModel: fallback };
  }

  private async withFailover<T>(
    input: ExecuteRequest,
    run: (call: UpstreamCall) => Promise<T>,
    options: { deferSuccess?: boolean } = {},
  ): Promise<Attempted<T>> {
    const { route, fallbackModel } = this.routeFor(input.model);
    const { pool, maxRetries, log } = this.deps;
    const tried = new Set<string>();
    let lastError: GatewayError | undefined;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      const credential = pool.pick(route.base, this.now(), tried);
      if (!credential) break;
      tried.add(credential.id);
      try {
        const value = await this.callWith(credential, route, input, run);
        if (!options.deferSuccess) pool.report(credential.id, { kind: "success", model: route.base }, this.now());
        return { value, credential, route, fallbackModel };
      } catch (error) {
        // Anything but a GatewayError is a bug of ours: no retry, the HTTP layer logs its stack.
        if (!(error instanceof GatewayError) && (error as Error)?.name !== "AbortError") throw error;
        const gatewayError = asGatewayError(error);
        // A client that hung up says nothing about the credential.
        if (input.signal?.aborted) throw gatewayError;
        this.report(credential, route, gatewayError);
        log.info("upstream call failed", { credential: credential.id, model: route.upstreamModel, status: gatewayError.status, scope: gatewayError.scope, attempt, error: gatewayError.message });
        if (gatewayError.scope === "request" || !gatewayError.retryable) throw gatewayError;
        lastError = gatewayError;
        if (gatewayError.code === "model_capacity_exhausted" && attempt < maxRetries) {
          // The model is busy for everyone: a short pause helps more than the next account.
          await sleep(gatewayError.retryAfterMs ?? (this.deps.capacityBackoffMs ?? defaultCapacityBackoff)(attempt), input.signal);
          tried.delete(credential.id);
        }
      }
    }
    throw this.exhausted(route, lastError);
  }

  /** What the client hears when no credential could serve: never our upstream's 401 as its own. */
  private exhausted(route: Route, lastError: GatewayError | undefined): GatewayError {
    const unavailable = this.deps.pool.unavailableError(route.base, this.now());
    if (!lastError || unavailable.code === "all_credentials_disabled") return unavailable;
    if (lastError.status !== 401) return lastError;
    return new GatewayError({
      status: 503, code: "upstream_auth_failed", scope: "transient", retryable: false,
      message: `Google refused the credentials tried for this request (${lastError.message}).`,
    });
  }

  /** One credential's try: fresh token, known project, and one refresh-and-retry on a 401. */
  private async callWith<T>(credential: Credential, route: Route, input: ExecuteRequest, run: (call: UpstreamCall) => Promise<T>): Promise<T> {
    const { tokens } = this.deps;
    const accessToken = await tokens.accessToken(credential);
    const projectId = await this.projectFor(credential, accessToken, input.signal);
    const call = (auth: UpstreamAuth) => run({ model: route.upstreamModel, request: input.request, auth, signal: input.signal });
    try {
      return await call({ accessToken, projectId });
    } catch (error) {
      if (!(error instanceof GatewayError) || error.status !== 401) throw error;
      this.deps.log.info("upstream answered 401; refreshing the token once", { credential: credential.id });
      return await call({ accessToken: await tokens.accessToken(credential, true), projectId });
    }
  }

  private projectFor(credential: Credential, accessToken: string, signal?: AbortSignal): Promise<string> {
    const known = this.deps.pool.projectOf(credential);
    if (known) return Promise.resolve(known);
    const pending = this.discovering.get(credential.id);
    if (pending) return pending;
    const discovery = this.deps.codeAssist.discoverProject(accessToken, signal)
      .then((projectId) => {
        this.deps.pool.setProject(credential.id, projectId);
        this.deps.log.info("discovered the Code Assist project", { credential: credential.id, project: projectId });
        return projectId;
      })
      .finally(() => this.discovering.delete(credential.id));
    this.discovering.set(credential.id, discovery);
    return discovery;
  }

  private report(credential: Credential, route: Route, error: GatewayError): void {
    this.deps.pool.report(credential.id, {
      kind: "failure", model: route.base, status: error.status, scope: error.scope, message: error.message,
      code: error.code, reason: error.reason, retryAfterMs: error.retryAfterMs, resetAt: error.resetAt, helpUrl: error.helpUrl,
    }, this.now());
  }
}

function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if ((error as Error)?.name === "AbortError") {
    return new GatewayError({ status: 499, code: "client_closed", message: "the client closed the request", scope: "request", retryable: false });
  }
  return new GatewayError({ status: 500, message: (error as Error)?.message ?? String(error), scope: "transient", retryable: true });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
