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
}

export interface ExecuteRequest {
  model: string;
  request: GenerateContentRequest;
  signal?: AbortSignal;
}

export class Executor {
  private readonly now: () => number;
  private readonly discovering = new Map<string, Promise<string>>();

  constructor(private readonly deps: ExecutorDeps) {
    this.now = deps.now ?? Date.now;
  }

  generate(input: ExecuteRequest): Promise<GenerateContentResponse> {
    return this.withFailover(input, (call) => this.deps.codeAssist.generate(call)).then(({ result }) => result);
  }

  countTokens(input: ExecuteRequest): Promise<CountTokensResponse> {
    return this.withFailover(input, (call) => this.deps.codeAssist.countTokens(call)).then(({ result }) => result);
  }

  /** Resolves once the upstream produced its first chunk (or rejects with why it could not). */
  async stream(input: ExecuteRequest): Promise<AsyncIterable<GenerateContentResponse>> {
    const { result, credential, route } = await this.withFailover(input, async (call) => {
      const iterator = this.deps.codeAssist.stream(call)[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done) {
        throw new GatewayError({ status: 502, code: "empty_stream", scope: "transient", message: "the upstream ended the stream without sending anything" });
      }
      return { first: first.value, iterator };
    }, { deferSuccess: true });
    return this.continueStream(result.first, result.iterator, credential, route);
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
    }
  }

  private async withFailover<T>(
    input: ExecuteRequest,
    run: (call: UpstreamCall) => Promise<T>,
    options: { deferSuccess?: boolean } = {},
  ): Promise<{ result: T; credential: Credential; route: Route }> {
    const route = routeModel(input.model);
    const { pool, maxRetries, log } = this.deps;
    const tried = new Set<string>();
    let lastError: GatewayError | undefined;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      const credential = pool.pick(route.base, this.now(), tried);
      if (!credential) break;
      tried.add(credential.id);
      try {
        const result = await this.callWith(credential, route, input, run);
        if (!options.deferSuccess) pool.report(credential.id, { kind: "success", model: route.base }, this.now());
        return { result, credential, route };
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
      message: `Google rejected the credentials tried for this request (${lastError.message}).`,
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
      kind: "failure", model: route.base, status: error.status, scope: error.scope,
      message: error.message, reason: error.reason, retryAfterMs: error.retryAfterMs,
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
