// createApp(deps): the HTTP surfaces composed on one Elysia instance behind the gate (Host, CORS,
// password, content type — before any body is read). No listen(), no env: gateway.ts serves it.
import { randomUUID } from "node:crypto";
import { Elysia } from "elysia";
import type { Executor } from "../executor.ts";
import { GatewayError } from "../hub.ts";
import { traceOf } from "../request-log.ts";
import type { Logger } from "../log.ts";
import type { OpenAIRouteDeps } from "./routes/openai.ts";
import { errorResponse, type Surface } from "./errors.ts";
import { healthRoutes, type HealthDeps } from "./routes/health.ts";
import { chatCompletionsHandler, openAIRoutes } from "./routes/openai.ts";
import { geminiMethodHandler, geminiRoutes, parseModelCall, type ModelCall } from "./routes/gemini.ts";
import { gate, keyOf, type GateOptions } from "./gate.ts";
import { AdminAuth, adminRoutes, type AdminDeps } from "./routes/admin.ts";
import { messagesHandler } from "./routes/anthropic.ts";
import { embeddingsHandler } from "./routes/embeddings.ts";
import { responsesHandler, responsesRoutes } from "./routes/responses.ts";
import type { ResponseStore } from "./response-store.ts";
import { keyAllows, type KeyRing } from "../store/keys.ts";
import { watchSilence } from "../ticker.ts";

export interface AppDeps extends OpenAIRouteDeps, HealthDeps, Partial<Omit<AdminDeps, "pools" | "now">> {
  executor: Executor;
  passwords: readonly string[];
  keys?: KeyRing;
  /** Tokens a key spent in its budget period (store/usage.ts). */
  spentTokens?: (keyId: string, period: "day" | "month" | "total") => number;
  corsOrigins: readonly string[] | "*";
  maxBodyBytes: number;
  /** A body that has not fully arrived by then is cut off with 408 (slow-loris clients). */
  bodyReadTimeoutMs?: number;
  version: string;
  log: Logger;
  now: () => number;
  /** The admin surface's authentication, when the caller shares its sessions (Redis). */
  adminAuth?: AdminAuth;
  /** A key's rpm window (shared across instances when Redis is configured). */
  throttle?: GateOptions["throttle"];
  /** Responses kept for previous_response_id (none: POST /v1/responses is 404). */
  responses?: ResponseStore;
}

export const BODY_READ_TIMEOUT_MS = 30_000;
/** Deeper JSON than this is refused before anything walks it (no request needs it; a stack does). */
export const MAX_JSON_DEPTH = 128;

export function createApp(deps: AppDeps): { fetch: (request: Request) => Promise<Response> } {
  const limits = { maxBytes: deps.maxBodyBytes, timeoutMs: deps.bodyReadTimeoutMs ?? BODY_READ_TIMEOUT_MS };
  const adminAuth = deps.adminAuth ?? new AdminAuth({ adminPassword: deps.adminPassword, adminOpen: deps.adminOpen ?? false, now: deps.now });
  const health = { ...deps, adminPage: adminAuth.enabled && deps.db !== undefined, ...(deps.adminPassword ? { isAdmin: (request: Request) => adminAuth.check(request) !== undefined } : {}) };
  const app = new Elysia({ name: "jellycli" })
    .error({ GatewayError })
    // Routes behind the router (admin actions) may take no body at all.
    .onParse(({ request }) => (request.headers.get("content-length") === "0" || !request.body ? undefined : readJsonBody(request, limits)))
    .onError(({ code, error, request, path }) => renderError(code, error, request, path, deps.log))
    .use(healthRoutes(health))
    .use(openAIRoutes(deps))
    .use(geminiRoutes(deps))
    .use(deps.responses ? responsesRoutes({ responses: deps.responses }) : new Elysia())
    .use(deps.db ? adminRoutes({ ...deps, db: deps.db, adminOpen: deps.adminOpen ?? false, config: deps.config ?? {}, clientAddress: deps.clientAddress ?? (() => "unknown") }, adminAuth) : new Elysia());
  const chat = chatCompletionsHandler(deps);
  const anthropic = messagesHandler(deps);
  const embeddings = embeddingsHandler(deps);
  const responses = deps.responses ? responsesHandler({ ...deps, responses: deps.responses }) : undefined;
  const gemini = geminiMethodHandler(deps);
  // The two routes that carry the traffic are matched here, without a router in between; the
  // rest (model lists, /health, 404s) goes through Elysia.
  const fast = (request: Request, url: URL): Promise<Response> | undefined => {
    if (request.method !== "POST") return undefined;
    const path = url.pathname;
    if (path === "/v1/chat/completions") return serve(request, path, (body) => chat(body, request), (body) => (body as { model?: unknown } | null)?.model);
    if (path === "/v1/responses" && responses) return serve(request, path, (body) => responses(body, request), (body) => (body as { model?: unknown } | null)?.model);
    if (path === "/v1/embeddings") return serve(request, path, (body) => embeddings(body, request), (body) => (body as { model?: unknown } | null)?.model);
    if (path === "/v1/messages" || path === "/v1/messages/count_tokens") return serve(request, path, (body) => anthropic(path, body, request), (body) => (body as { model?: unknown } | null)?.model);
    const method = /^\/v1(?:beta)?\/models\/(.+)$/.exec(path);
    if (method) {
      // Parsed after the body is read, inside serve(), so a bad path is answered like any other error.
      let call: ModelCall | undefined;
      const target = () => (call ??= parseModelCall(method[1]!));
      return serve(request, path, (body) => gemini(target(), body, url.searchParams.get("alt") ?? undefined, request), () => target().model);
    }
    return undefined;
  };
  const serve = async (request: Request, path: string, handle: (body: unknown) => Promise<Response>, modelOf: (body: unknown) => unknown): Promise<Response> => {
    try {
      const body = await readJsonBody(request, limits);
      const key = keyOf(request);
      const trace = traceOf(request);
      if (trace && key) trace.keyId = key.id;
      const model = modelOf(body);
      // An alias counts as the model it stands for: a key allowed gemini-2.5-flash may ask for claude-haiku-….
      if (key && typeof model === "string" && !keyAllows(key, model) && !keyAllows(key, deps.resolveModel?.(model) ?? model)) {
        throw new GatewayError({ status: 403, code: "model_not_allowed", param: "model", message: `This API key may not use the model ${model}.` });
      }
      if (key?.token_budget && deps.spentTokens && deps.spentTokens(key.id, key.budget_period ?? "month") >= key.token_budget) {
        throw new GatewayError({ status: 429, code: "insufficient_quota", message: `This API key has used its budget of ${key.token_budget} tokens for this ${key.budget_period === "total" ? "key" : key.budget_period}.` });
      }
      return await handle(body);
    } catch (error) {
      return renderError(error instanceof GatewayError ? "GatewayError" : "UNKNOWN", error, request, path, deps.log);
    }
  };
  return { fetch: gate((request, url) => fast(request, url) ?? app.fetch(request), { passwords: deps.passwords, keys: deps.keys, throttle: deps.throttle, corsOrigins: deps.corsOrigins, surfaceOf, now: deps.now }) };
}

/** Gemini-native paths (/v1beta/…, and /v1/models/{model}:{method}) answer in Google's format. */
export function surfaceOf(path: string): Surface {
  if (path === "/v1/messages" || path.startsWith("/v1/messages/")) return "anthropic";
  return /^\/v1(beta|alpha)\b/.test(path) || /^\/v1\/models\/.+:[A-Za-z]+$/.test(path) ? "google" : "openai";
}

function renderError(code: string | number, error: unknown, request: Request, path: string, log: Logger): Response {
  const surface = surfaceOf(path);
  if (error instanceof GatewayError) return errorResponse(error, surface);
  switch (code) {
    case "NOT_FOUND":
      return errorResponse(new GatewayError({ status: 404, code: "unknown_url", message: `Unknown request URL: ${request.method} ${path}` }), surface);
    case "PARSE": {
      const cause = (error as Error).cause;
      if (cause instanceof GatewayError) return errorResponse(cause, surface);
      return errorResponse(GatewayError.invalidRequest("The request body is not valid JSON."), surface);
    }
    case "VALIDATION":
      return errorResponse(validationError(error), surface);
  }
  const requestId = randomUUID();
  log.error("unexpected error", { request_id: requestId, path, error: error as Error });
  return errorResponse(
    new GatewayError({ status: 500, code: "internal_error", message: `Internal error in jellycli (request id ${requestId}); the details are in its log.` }),
    surface,
    { "x-request-id": requestId },
  );
}

/** Elysia's validation error → one 400 that names the offending field. */
function validationError(error: unknown): GatewayError {
  const first = (error as { all?: { path?: string; summary?: string; message?: string }[] }).all?.[0];
  const field = first?.path?.replace(/^\//, "").replaceAll("/", ".") || null;
  const detail = first?.summary ?? first?.message ?? "invalid request body";
  return GatewayError.invalidRequest(field ? `Invalid \`${field}\`: ${detail}` : detail, field);
}

/**
 * Parses the body once, refusing it as soon as it grows past the limit (also when chunked), when it
 * takes longer than the read deadline to arrive, or when it nests deeper than MAX_JSON_DEPTH.
 */
async function readJsonBody(request: Request, limits: { maxBytes: number; timeoutMs: number }): Promise<unknown> {
  const tooLarge = () => new GatewayError({ status: 413, code: "request_too_large", message: `The request body exceeds the limit of ${limits.maxBytes} bytes (max_body_bytes).` });
  const declared = Number(request.headers.get("content-length"));
  if (declared > limits.maxBytes) throw tooLarge();
  if (!request.body) throw GatewayError.invalidRequest("The request body is empty; send a JSON object.");
  const text = request.headers.has("content-length") ? await readDeclared(request, limits.timeoutMs) : await readChunked(request, limits, tooLarge);
  if (text.trim() === "") throw GatewayError.invalidRequest("The request body is empty; send a JSON object.");
  if (nestingDepth(text) > MAX_JSON_DEPTH) throw GatewayError.invalidRequest(`The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw GatewayError.invalidRequest("The request body is not valid JSON.");
  }
  const trace = traceOf(request);
  if (trace) {
    const model = (body as { model?: unknown })?.model;
    if (typeof model === "string") trace.model = model;
    if (trace.full) trace.clientRequest = body;
  }
  return body;
}

const bodyTimeout = (timeoutMs: number) => new GatewayError({ status: 408, code: "request_timeout", message: `The request body did not arrive within ${Math.round(timeoutMs / 1000)} s.` });

/** A body of declared length (already checked against the limit): one native read, one deadline. */
async function readDeclared(request: Request, timeoutMs: number): Promise<string> {
  let expire!: (error: GatewayError) => void;
  const expired = new Promise<never>((_, reject) => {
    expire = reject;
  });
  const deadline = watchSilence(timeoutMs, () => expire(bodyTimeout(timeoutMs)));
  try {
    return await Promise.race([request.text(), expired]);
  } finally {
    deadline.stop();
  }
}

/** A chunked body: read piece by piece, refused as soon as it grows past the limit. */
async function readChunked(request: Request, limits: { maxBytes: number; timeoutMs: number }, tooLarge: () => GatewayError): Promise<string> {
  const reader = request.body!.getReader();
  let timedOut = false;
  const deadline = watchSilence(limits.timeoutMs, () => {
    timedOut = true;
    void reader.cancel().catch(() => {});
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read().catch((error) => {
        if (timedOut) return { value: undefined, done: true };
        throw error;
      });
      if (timedOut) throw bodyTimeout(limits.timeoutMs);
      if (done) break;
      size += value.byteLength;
      if (size > limits.maxBytes) throw tooLarge();
      chunks.push(value);
    }
  } finally {
    deadline.stop();
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The deepest bracket nesting of a JSON text, strings skipped; one linear pass, no recursion. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 92) index++; // backslash: skip the escaped character
      else if (code === 34) inString = false;
    } else if (code === 34) inString = true;
    else if (code === 123 || code === 91) {
      if (++depth > deepest) deepest = depth;
    } else if (code === 125 || code === 93) depth--;
  }
  return deepest;
}
