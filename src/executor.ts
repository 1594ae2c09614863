// The request executor, in two parts: `Attempts` walks the route (which backend, which
// credential, under which model name), and `run` makes the calls, reports each outcome to the
// pool and asks retry-policy.ts `decide` what to do next. Retries and failover happen only
// before the first byte reaches the client; a stream is returned already primed with its first
// chunk. The model variant (-search, -nothinking, -maxthinking) is applied here, once, whichever
// surface the request came from.
import { applyVariant } from "./formats/variant.ts";
import { GatewayError, type ContentEmbedding, type CountTokensResponse, type EmbedContentRequest, type GenerateContentRequest, type GenerateContentResponse } from "./hub.ts";
import type { Backend } from "./backends.ts";
import type { Logger } from "./log.ts";
import type { PoolMember } from "./pool/pool.ts";
import { outcomeOf } from "./pool/transitions.ts";
import { decide, type Decision } from "./retry-policy.ts";
import type { Candidate, Route, Router } from "./router.ts";
import type { CallObserver, RawAnswer, UpstreamAuth } from "./upstreams/types.ts";

export interface ExecutorDeps {
  backends: ReadonlyMap<string, Backend>;
  router: Router;
  maxRetries: number;
  log: Logger;
  now?: () => number;
  /** requested model → model to serve instead when nothing can serve the requested one. */
  fallbackModels?: Readonly<Record<string, string>>;
  /** Pauses between attempts; tests make them instant. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told the outcome of every upstream call: "success" or the error's kind (metrics). */
  onUpstream?: (pool: string, outcome: string) => void;
}

interface Routing {
  /** The client's model name, variants and all. */
  model: string;
  signal?: AbortSignal;
  /** Gemini-native callers: an unknown model goes to `default_model` instead of failing. */
  unknownToDefault?: boolean;
  observe?: CallObserver;
}

export interface ExecuteRequest extends Routing {
  request: GenerateContentRequest;
  /** Streams: told every chunk as it passes (usage for the access log), without a wrapper layer. */
  onChunk?: (chunk: GenerateContentResponse) => void;
}

export interface PassthroughRequest extends Routing {
  /** The client's OpenAI body, forwarded untouched but for `model`. */
  body: object;
  endpoint?: "chat/completions" | "embeddings";
}

export interface EmbedRequest extends Routing {
  /** At most 100 (one batchEmbedContents call). */
  requests: EmbedContentRequest[];
}

export interface Served<T> {
  value: T;
  /** Which backend and credential (its id: a file name or key fingerprint, never a secret) served. */
  backend: string;
  credential: string;
  /** Set when `fallback_models` chose another model than the one asked for. */
  fallbackModel?: string;
}

/** One try: which backend, which credential, which model name; and the variant the client asked for. */
interface Attempt {
  backend: Backend;
  credential: PoolMember;
  model: string;
  variant: Route;
}

type Call<T> = (attempt: Attempt, auth: UpstreamAuth) => Promise<T>;

export class Executor {
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private active = 0;
  private lastActivity = 0;

  constructor(private readonly deps: ExecutorDeps) {
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? sleep;
  }

  /** Requests (and open streams) in progress, and when the last one started or ended. */
  get busy(): { inFlight: number; lastActivity: number } {
    return { inFlight: this.active, lastActivity: this.lastActivity };
  }

  generate(input: ExecuteRequest): Promise<Served<GenerateContentResponse>> {
    return this.tracked(() => this.run(input, (attempt, auth) => attempt.backend.upstream.generate(this.callOf(attempt, auth, input))));
  }

  countTokens(input: ExecuteRequest): Promise<Served<CountTokensResponse>> {
    return this.tracked(() => this.run(input, (attempt, auth) => attempt.backend.upstream.countTokens(this.callOf(attempt, auth, input))));
  }

  /**
   * An OpenAI chat request for a model an OpenAI-compatible upstream serves: forwarded untouched
   * (model mapped, key rotated, failover before the first byte). Undefined when the model routes
   * to Gemini, and the caller translates instead.
   */
  passthrough(input: PassthroughRequest): Promise<Served<RawAnswer>> | undefined {
    const route = this.deps.router(input.model, { unknownToDefault: input.unknownToDefault });
    if (route.kind !== "openai") return undefined;
    const forward: Call<RawAnswer> = (attempt, auth) => {
      const upstream = attempt.backend.upstream;
      if (!upstream.passthrough) throw new GatewayError({ status: 500, message: `${attempt.backend.name} cannot forward OpenAI requests` });
      return upstream.passthrough({ endpoint: input.endpoint, body: input.body, model: attempt.model, auth, signal: input.signal, observe: input.observe });
    };
    return this.tracked(() => this.run(input, forward, { route }));
  }

  /**
   * Embeddings, from the backends that have them (the Gemini API pool: Code Assist has none) —
   * with the same pools, failover and retries as generation. 503 when no configured backend can.
   */
  embed(input: EmbedRequest): Promise<Served<ContentEmbedding[]>> {
    const route = this.deps.router(input.model, { unknownToDefault: input.unknownToDefault });
    const candidates = route.candidates.filter((candidate) => this.deps.backends.get(candidate.backend)?.upstream.embed !== undefined);
    if (candidates.length === 0) {
      throw new GatewayError({ status: 503, code: "embeddings_unavailable", kind: "request", message: route.kind === "openai"
        ? `Embeddings for ${input.model} go through /v1/embeddings on its OpenAI-compatible server.`
        : "Embeddings need a Gemini API key (gemini_api_keys): Code Assist accounts cannot make embeddings." });
    }
    const call: Call<ContentEmbedding[]> = (attempt, auth) => attempt.backend.upstream.embed!({ model: attempt.model, requests: input.requests, auth, signal: input.signal, observe: input.observe });
    return this.tracked(() => this.run(input, call, { route: { ...route, candidates } }));
  }

  /** Resolves once the upstream produced its first chunk (or rejects with why it could not). */
  async stream(input: ExecuteRequest): Promise<Served<AsyncIterable<GenerateContentResponse>>> {
    this.begin();
    try {
      const served = await this.run(input, async (attempt, auth) => {
        const iterator = (await attempt.backend.upstream.stream(this.callOf(attempt, auth, input)))[Symbol.asyncIterator]();
        const first = await iterator.next();
        if (first.done) {
          throw new GatewayError({ status: 502, code: "empty_stream", kind: "transient", message: "the upstream ended the stream without sending anything" });
        }
        return { first: first.value, iterator, attempt };
      }, { deferSuccess: true });
      const { first, iterator, attempt } = served.value;
      return { ...served, value: this.continueStream(first, iterator, attempt, input.onChunk) };
    } catch (error) {
      this.end();
      throw error;
    }
  }

  private async *continueStream(first: GenerateContentResponse, iterator: AsyncIterator<GenerateContentResponse>, attempt: Attempt, onChunk?: (chunk: GenerateContentResponse) => void): AsyncGenerator<GenerateContentResponse> {
    let failed = false;
    try {
      onChunk?.(first);
      yield first;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        onChunk?.(next.value);
        yield next.value;
      }
    } catch (error) {
      failed = true;
      const gatewayError = asGatewayError(error);
      this.report(attempt, gatewayError);
      this.deps.log.warn("upstream stream broke after the first byte", { backend: attempt.backend.name, credential: attempt.credential.id, status: gatewayError.status, error: gatewayError.message });
      throw gatewayError;
    } finally {
      // Runs on normal end, on error, and when the client goes away (return()).
      await iterator.return?.().catch(() => {});
      if (!failed) {
        attempt.backend.pool.report(attempt.credential.id, { kind: "success", model: attempt.model }, this.now());
        this.deps.onUpstream?.(attempt.backend.name, "success");
      }
      this.end();
    }
  }

  private callOf(attempt: Attempt, auth: UpstreamAuth, input: ExecuteRequest) {
    return { model: attempt.model, request: applyVariant(input.request, attempt.variant, attempt.model), auth, signal: input.signal, observe: input.observe };
  }

  /**
   * Calls until one attempt succeeds or `decide` gives up. Every failure is reported to the pool
   * first (so the next pick already avoids a cooling credential), except a 401 that is about to be
   * retried with a fresh token.
   */
  private async run<T>(input: Routing, call: Call<T>, options: { deferSuccess?: boolean; route?: Route } = {}): Promise<Served<T>> {
    const route = options.route ?? this.deps.router(input.model, { unknownToDefault: input.unknownToDefault });
    const attempts = new Attempts(route, this.plan(route), this.deps.backends, this.now);
    const { log, maxRetries } = this.deps;
    let lastError: GatewayError | undefined;
    let calls = 0;
    let reauthed = false;
    let attempt = attempts.next({ action: "next_credential", pauseMs: 0 });
    while (attempt) {
      calls++;
      // A token that cannot even be refreshed is not worth a second refresh.
      let authenticated = false;
      try {
        const auth = reauthed ? await attempt.backend.reauth!(attempt.credential, input.signal) : await attempt.backend.auth(attempt.credential, input.signal);
        authenticated = true;
        const value = await call(attempt, auth);
        if (!options.deferSuccess) {
          attempt.backend.pool.report(attempt.credential.id, { kind: "success", model: attempt.model }, this.now());
          this.deps.onUpstream?.(attempt.backend.name, "success");
        }
        return { value, backend: attempt.backend.name, credential: attempt.credential.id, fallbackModel: attempts.fallbackModel };
      } catch (caught) {
        // Anything but a GatewayError is a bug of ours: no retry, the HTTP layer logs its stack.
        if (!(caught instanceof GatewayError) && (caught as Error)?.name !== "AbortError") throw caught;
        const error = asGatewayError(caught);
        const decision = decide(error, { calls, maxRetries, canReauth: authenticated && !reauthed && attempt.backend.reauth !== undefined, clientGone: input.signal?.aborted === true });
        if (input.signal?.aborted) throw error; // a client that hung up says nothing about the credential
        if (decision.action !== "retry_same") this.report(attempt, error);
        log.debug("upstream call failed", {
          backend: attempt.backend.name, credential: attempt.credential.id, model: attempt.model, status: error.status,
          kind: error.kind, call: calls, decision: describe(decision), error: error.message,
        });
        if (decision.action === "give_up") throw this.answerFor(error);
        lastError = error;
        reauthed = decision.action === "retry_same";
        if (decision.action === "next_credential" && decision.pauseMs > 0) await this.sleep(decision.pauseMs, input.signal);
        if (input.signal?.aborted) throw error;
        attempt = decision.action === "retry_same" ? attempt : attempts.next(decision);
      }
    }
    throw this.exhausted(attempts, route, lastError);
  }

  /**
   * The backends to try, in order, with the model each is asked for: the backends that can serve
   * the requested model; else the configured fallback model, if something can serve that.
   */
  private plan(route: Route): Plan {
    const now = this.now();
    const servable = (candidates: Candidate[]) => candidates.filter((candidate) => this.deps.backends.get(candidate.backend)?.pool.canServe(candidate.upstreamModel, now));
    const ready = servable(route.candidates);
    const fallback = this.deps.fallbackModels?.[route.base];
    if (ready.length === 0 && fallback) {
      const alternative = servable(this.deps.router(fallback).candidates);
      if (alternative.length > 0) {
        this.deps.log.info("serving a fallback model", { requested: route.base, fallback });
        return { candidates: alternative, fallbackModel: fallback };
      }
    }
    // Nothing servable: still walk them in order, so the answer names the right pool's reason.
    return { candidates: [...ready, ...route.candidates.filter((candidate) => !ready.includes(candidate))] };
  }

  /** The error a client hears when `decide` gave up: never our upstream's 401 as its own. */
  private answerFor(error: GatewayError): GatewayError {
    if (error.kind === "auth" && error.status === 401) {
      return new GatewayError({ status: 503, code: "upstream_auth_failed", message: `The upstream refused the credentials tried for this request (${error.message}).` });
    }
    return error;
  }

  /** Nothing (more) to try: why, in the words of the pool that should have served. */
  private exhausted(attempts: Attempts, route: Route, lastError: GatewayError | undefined): GatewayError {
    const unavailable = attempts.unavailable();
    if (!unavailable) return new GatewayError({ status: 503, code: "no_backend", message: `No upstream is configured that can serve ${route.base}.` });
    if (!lastError || unavailable.code === "all_credentials_disabled") return unavailable;
    return this.answerFor(lastError);
  }

  private report(attempt: Attempt, error: GatewayError): void {
    this.deps.onUpstream?.(attempt.backend.name, error.kind);
    attempt.backend.pool.report(attempt.credential.id, outcomeOf(error, attempt.model), this.now());
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
}

interface Plan {
  candidates: Candidate[];
  fallbackModel?: string;
}

/**
 * The attempts of one request, in order: each backend of the plan, and within it the pool's picks
 * (credentials not yet tried for this request first). `max_retries` bounds the total.
 */
class Attempts {
  private index = 0;
  private tried = new Set<string>();
  /** The backend the last attempt (or the last look for one) was on. */
  private last: Candidate | undefined;
  readonly fallbackModel?: string;

  constructor(private readonly route: Route, private readonly plan: Plan, private readonly backends: ReadonlyMap<string, Backend>, private readonly now: () => number) {
    this.fallbackModel = plan.fallbackModel;
  }

  next(decision: Extract<Decision, { action: "next_credential" | "next_backend" }>): Attempt | undefined {
    if (decision.action === "next_backend") this.advance();
    for (; this.index < this.plan.candidates.length; this.advance()) {
      const candidate = this.plan.candidates[this.index]!;
      const backend = this.backends.get(candidate.backend);
      if (!backend) continue;
      this.last = candidate;
      // Untried credentials first, backend by backend; on the last backend, when none is left, one
      // already tried that the pool still finds usable (a passing 5xx, a busy model) serves again.
      const last = this.index === this.plan.candidates.length - 1;
      const credential = backend.pool.pick(candidate.upstreamModel, this.now(), this.tried)
        ?? (last && this.tried.size > 0 ? backend.pool.pick(candidate.upstreamModel, this.now()) : undefined);
      if (!credential) continue;
      this.tried.add(credential.id);
      return { backend, credential, model: candidate.upstreamModel, variant: this.route };
    }
    return undefined;
  }

  /** Why the last backend looked at cannot serve now (undefined: no backend at all). */
  unavailable(): GatewayError | undefined {
    const candidate = this.last ?? this.plan.candidates.find((entry) => this.backends.has(entry.backend));
    return candidate ? this.backends.get(candidate.backend)!.pool.unavailableError(candidate.upstreamModel, this.now()) : undefined;
  }

  private advance(): void {
    this.index++;
    this.tried = new Set();
  }
}

function describe(decision: Decision): string {
  return decision.action === "next_credential" && decision.pauseMs > 0 ? `next_credential after ${decision.pauseMs} ms` : decision.action;
}

function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if ((error as Error)?.name === "AbortError") {
    return new GatewayError({ status: 499, code: "client_closed", kind: "request", message: "the client closed the request" });
  }
  return new GatewayError({ status: 500, kind: "transient", message: (error as Error)?.message ?? String(error) });
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
