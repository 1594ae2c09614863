// The retry/failover loop: route the model, pick a credential, make sure it has a token and a
// project, call the upstream, report the outcome. Retries and failover happen only before the
// first byte reaches the client; a stream is returned already primed with its first chunk.
import { GatewayError, type CountTokensResponse, type GenerateContentRequest, type GenerateContentResponse } from "./hub.ts";
import type { Backend } from "./backends.ts";
import type { Logger } from "./log.ts";
import { currentTrace } from "./request-log.ts";
import type { PoolMember } from "./pool/pool.ts";
import type { Candidate, Route, Router } from "./router.ts";
import type { Upstream, UpstreamAuth, UpstreamCall } from "./upstreams/types.ts";

export interface ExecutorDeps {
  backends: ReadonlyMap<string, Backend>;
  router: Router;
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
  /** Gemini-native callers: an unknown model goes to `default_model` instead of failing. */
  unknownToDefault?: boolean;
}

/** What routing and failover need to know about a request. */
type Routing = Omit<ExecuteRequest, "request">;

/** One attempt's inputs: which backend, under which model name, with which credential's auth. */
export interface Attempt {
  backend: Backend;
  model: string;
  auth: UpstreamAuth;
  signal?: AbortSignal;
}

export interface Served<T> {
  value: T;
  /** Set when `fallback_models` chose another model than the one asked for. */
  fallbackModel?: string;
}

interface Attempted<T> extends Served<T> {
  credential: PoolMember;
  backend: Backend;
  model: string;
}

const defaultCapacityBackoff = (attempt: number) => Math.min(4000, 500 * 2 ** attempt);

export class Executor {
  private readonly now: () => number;
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
    const { value, fallbackModel } = await this.tracked(() => this.withFailover(input, (attempt) => attempt.backend.upstream.generate(callOf(attempt, input))));
    return { value, fallbackModel };
  }

  async countTokens(input: ExecuteRequest): Promise<Served<CountTokensResponse>> {
    const { value, fallbackModel } = await this.tracked(() => this.withFailover(input, (attempt) => attempt.backend.upstream.countTokens(callOf(attempt, input))));
    return { value, fallbackModel };
  }

  /**
   * Any other call through the same routing, failover and accounting — e.g. an OpenAI request
   * forwarded untouched to an OpenAI-compatible upstream. `run` must fail before the first byte.
   */
  async call<T>(input: Routing, run: (attempt: Attempt, upstream: Upstream) => Promise<T>): Promise<Served<T>> {
    const { value, fallbackModel } = await this.tracked(() => this.withFailover(input, (attempt) => run(attempt, attempt.backend.upstream)));
    return { value, fallbackModel };
  }

  /** The route a model takes (for surfaces that behave differently per upstream kind). */
  route(model: string, unknownToDefault = false): Route {
    return this.deps.router(model, { unknownToDefault });
  }

  /** Resolves once the upstream produced its first chunk (or rejects with why it could not). */
  async stream(input: ExecuteRequest): Promise<Served<AsyncIterable<GenerateContentResponse>>> {
    this.begin();
    try {
      const { value, credential, backend, model, fallbackModel } = await this.withFailover(input, async (attempt) => {
        const iterator = attempt.backend.upstream.stream(callOf(attempt, input))[Symbol.asyncIterator]();
        const first = await iterator.next();
        if (first.done) {
          throw new GatewayError({ status: 502, code: "empty_stream", scope: "transient", message: "the upstream ended the stream without sending anything" });
        }
        return { first: first.value, iterator };
      }, { deferSuccess: true });
      return { value: this.continueStream(value.first, value.iterator, credential, backend, model), fallbackModel };
    } catch (error) {
      this.end();
      throw error;
    }
  }

  private async *continueStream(
    first: GenerateContentResponse,
    iterator: AsyncIterator<GenerateContentResponse>,
    credential: PoolMember,
    backend: Backend,
    model: string,
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
      this.report(backend, credential, model, gatewayError);
      this.deps.log.warn("upstream stream broke after the first byte", { credential: credential.id, status: gatewayError.status, error: gatewayError.message });
      throw gatewayError;
    } finally {
      // Runs on normal end, on error, and when the client goes away (return()).
      await iterator.return?.().catch(() => {});
      if (!failed) backend.pool.report(credential.id, { kind: "success", model }, this.now());
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

  /**
   * The backends to try, in order, with the model each is asked for: the first backend that can
   * serve the requested model; else the configured fallback model, if something can serve that.
   */
  private plan(input: Routing): { candidates: Candidate[]; requested: string; fallbackModel?: string } {
    const now = this.now();
    const route = this.deps.router(input.model, { unknownToDefault: input.unknownToDefault });
    const servable = (candidates: Candidate[]) => candidates.filter((candidate) => this.deps.backends.get(candidate.backend)?.pool.canServe(candidate.upstreamModel, now));
    const ready = servable(route.candidates);
    const fallback = this.deps.fallbackModels?.[route.base];
    if (ready.length === 0 && fallback) {
      const alternative = servable(this.deps.router(fallback).candidates);
      if (alternative.length > 0) {
        this.deps.log.info("serving a fallback model", { requested: route.base, fallback });
        return { candidates: alternative, requested: route.base, fallbackModel: fallback };
      }
    }
    // Nothing servable: still try in order, so the answer names the right pool's reason.
    return { candidates: ready.length > 0 ? [...ready, ...route.candidates.filter((candidate) => !ready.includes(candidate))] : route.candidates, requested: route.base };
  }

  private async withFailover<T>(
    input: Routing,
    run: (attempt: Attempt) => Promise<T>,
    options: { deferSuccess?: boolean } = {},
  ): Promise<Attempted<T>> {
    const { candidates, requested, fallbackModel } = this.plan(input);
    const { maxRetries, log } = this.deps;
    let lastError: GatewayError | undefined;
    let attempt = 0;
    let lastCandidate: Candidate | undefined;
    for (const candidate of candidates) {
      const backend = this.deps.backends.get(candidate.backend);
      if (!backend) continue;
      lastCandidate = candidate;
      const tried = new Set<string>();
      for (; attempt <= maxRetries; attempt++) {
        const credential = backend.pool.pick(candidate.upstreamModel, this.now(), tried);
        if (!credential) break;
        tried.add(credential.id);
        try {
          const value = await this.attemptWith(backend, credential, candidate.upstreamModel, input.signal, run);
          if (!options.deferSuccess) backend.pool.report(credential.id, { kind: "success", model: candidate.upstreamModel }, this.now());
          const trace = currentTrace();
          if (trace) {
            trace.backend = backend.name;
            trace.credential = credential.id;
          }
          return { value, credential, backend, model: candidate.upstreamModel, fallbackModel };
        } catch (error) {
          // Anything but a GatewayError is a bug of ours: no retry, the HTTP layer logs its stack.
          if (!(error instanceof GatewayError) && (error as Error)?.name !== "AbortError") throw error;
          const gatewayError = asGatewayError(error);
          // A client that hung up says nothing about the credential.
          if (input.signal?.aborted) throw gatewayError;
          this.report(backend, credential, candidate.upstreamModel, gatewayError);
          log.info("upstream call failed", { backend: backend.name, credential: credential.id, model: candidate.upstreamModel, status: gatewayError.status, scope: gatewayError.scope, attempt, error: gatewayError.message });
          if (gatewayError.scope === "request" || !gatewayError.retryable) throw gatewayError;
          lastError = gatewayError;
          if (gatewayError.code === "model_capacity_exhausted" && attempt < maxRetries) {
            // The model is busy for everyone: a short pause helps more than the next account.
            await sleep(gatewayError.retryAfterMs ?? (this.deps.capacityBackoffMs ?? defaultCapacityBackoff)(attempt), input.signal);
            tried.delete(credential.id);
          }
        }
      }
      if (attempt > maxRetries) break;
    }
    throw this.exhausted(lastCandidate ?? candidates[0], requested, lastError);
  }

  /** What the client hears when no credential could serve: never our upstream's 401 as its own. */
  private exhausted(candidate: Candidate | undefined, requested: string, lastError: GatewayError | undefined): GatewayError {
    const backend = candidate ? this.deps.backends.get(candidate.backend) : undefined;
    if (!backend) {
      return new GatewayError({ status: 503, code: "no_backend", scope: "transient", retryable: false, message: `No upstream is configured that can serve ${requested}.` });
    }
    const unavailable = backend.pool.unavailableError(candidate!.upstreamModel, this.now());
    if (!lastError || unavailable.code === "all_credentials_disabled") return unavailable;
    if (lastError.status !== 401) return lastError;
    return new GatewayError({
      status: 503, code: "upstream_auth_failed", scope: "transient", retryable: false,
      message: `The upstream refused the credentials tried for this request (${lastError.message}).`,
    });
  }

  /** One credential's try, with one re-authentication and retry after a 401 where that is possible. */
  private async attemptWith<T>(backend: Backend, credential: PoolMember, model: string, signal: AbortSignal | undefined, run: (attempt: Attempt) => Promise<T>): Promise<T> {
    const auth = await backend.auth(credential, signal);
    try {
      return await run({ backend, model, auth, signal });
    } catch (error) {
      if (!(error instanceof GatewayError) || error.status !== 401 || !backend.reauth) throw error;
      this.deps.log.info("upstream answered 401; refreshing the token once", { credential: credential.id });
      return await run({ backend, model, auth: await backend.reauth(credential, signal), signal });
    }
  }

  private report(backend: Backend, credential: PoolMember, model: string, error: GatewayError): void {
    backend.pool.report(credential.id, {
      kind: "failure", model, status: error.status, scope: error.scope, message: error.message,
      code: error.code, reason: error.reason, retryAfterMs: error.retryAfterMs, resetAt: error.resetAt, helpUrl: error.helpUrl,
    }, this.now());
  }
}

function callOf(attempt: Attempt, input: ExecuteRequest): UpstreamCall {
  return { model: attempt.model, request: input.request, auth: attempt.auth, signal: attempt.signal };
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
