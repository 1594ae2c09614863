// GatewayError → the error body and headers of each client surface, rendered in one place.
import { GatewayError } from "../hub.ts";
import { redact } from "../log.ts";

export type Surface = "openai" | "google" | "anthropic";

/** OpenAI SDKs choose the error class from the status alone; `type` mirrors OpenAI's names. */
function openAIType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 408) return "timeout";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

const GOOGLE_STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
  408: "DEADLINE_EXCEEDED", 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
};

/** Anthropic's error types by status (its SDKs pick the error class from the status). */
function anthropicType(status: number): string {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/**
 * 499 is nginx's, not HTTP's: OpenAI and Anthropic clients get a 408 they know how to handle. A
 * model out of capacity for everyone is Anthropic's 529 "overloaded".
 */
export function clientStatus(error: GatewayError, surface: Surface): number {
  if (surface !== "google" && error.status === 499) return 408;
  if (surface === "anthropic" && error.kind === "capacity") return 529;
  return error.status;
}

export function toAnthropicErrorBody(error: GatewayError) {
  return { type: "error", error: { type: anthropicType(clientStatus(error, "anthropic")), message: redact(error.message) } };
}

export function toOpenAIErrorBody(error: GatewayError) {
  return { error: { message: redact(error.message), type: openAIType(error.status), param: error.param, code: error.code } };
}

export function toGoogleErrorBody(error: GatewayError) {
  const status = GOOGLE_STATUS[error.status] ?? (error.status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION");
  const details: Record<string, unknown>[] = [];
  if (error.retryAfterMs !== undefined) {
    details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${(error.retryAfterMs / 1000).toFixed(3).replace(/\.?0+$/, "")}s` });
  }
  return { error: { code: error.status, message: redact(error.message), status, ...(details.length > 0 ? { details } : {}) } };
}

export function errorResponse(error: GatewayError, surface: Surface, extraHeaders: Record<string, string> = {}): Response {
  const headers: Record<string, string> = { "content-type": "application/json", ...extraHeaders };
  if (error.retryAfterMs !== undefined) {
    headers["retry-after"] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    headers["retry-after-ms"] = String(Math.ceil(error.retryAfterMs));
  }
  const body = surface === "openai" ? toOpenAIErrorBody(error) : surface === "anthropic" ? toAnthropicErrorBody(error) : toGoogleErrorBody(error);
  return new Response(JSON.stringify(body), { status: clientStatus(error, surface), headers });
}
