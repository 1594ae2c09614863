// createApp(deps): the HTTP surfaces composed on one Elysia instance. No listen(), no env: tests
// call app.handle() or serve it on port 0, main.ts serves it for real.
import { randomUUID } from "node:crypto";
import { Elysia } from "elysia";
import type { Executor } from "../executor.ts";
import { GatewayError } from "../hub.ts";
import { currentTrace } from "../request-log.ts";
import type { Logger } from "../log.ts";
import type { OpenAIRouteDeps } from "./routes/openai.ts";
import { errorResponse, type Surface } from "./errors.ts";
import { healthRoutes, type HealthDeps } from "./routes/health.ts";
import { openAIRoutes } from "./routes/openai.ts";
import { geminiRoutes } from "./routes/gemini.ts";

export interface AppDeps extends OpenAIRouteDeps, HealthDeps {
  executor: Executor;
  maxBodyBytes: number;
  version: string;
  log: Logger;
  now: () => number;
}

export function createApp(deps: AppDeps) {
  return new Elysia({ name: "jellycli" })
    .error({ GatewayError })
    .onParse(({ request }) => readJsonBody(request, deps.maxBodyBytes))
    .onError(({ code, error, request, path }) => renderError(code, error, request, path, deps.log))
    .use(healthRoutes(deps))
    .use(openAIRoutes(deps))
    .use(geminiRoutes(deps));
}

export type App = ReturnType<typeof createApp>;

/** Gemini-native paths (/v1beta/…, and /v1/models/{model}:{method}) answer in Google's format. */
export function surfaceOf(path: string): Surface {
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

/** Parses the body once, refusing it as soon as it grows past the limit (also when chunked). */
async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () => new GatewayError({ status: 413, code: "request_too_large", message: `The request body exceeds the limit of ${maxBytes} bytes (max_body_bytes).` });
  const declared = Number(request.headers.get("content-length"));
  if (declared > maxBytes) throw tooLarge();
  if (!request.body) throw GatewayError.invalidRequest("The request body is empty; send a JSON object.");
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw GatewayError.invalidRequest("The request body is empty; send a JSON object.");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw GatewayError.invalidRequest("The request body is not valid JSON.");
  }
  const trace = currentTrace();
  if (trace) {
    const model = (body as { model?: unknown })?.model;
    if (typeof model === "string") trace.model = model;
    if (trace.full) trace.clientRequest = body;
  }
  return body;
}
