// Google error bodies → GatewayError, parsed once per upstream response. Accepts the plain
// {"error":{…}} object, the one-element array streamGenerateContent sends before a stream starts,
// and bodies that are empty or not JSON at all (proxies, load balancers).
import { GatewayError, type ErrorScope } from "../hub.ts";

interface GoogleErrorDetail {
  "@type"?: string;
  reason?: string;
  domain?: string;
  retryDelay?: string;
  metadata?: Record<string, string>;
  [key: string]: unknown;
}

interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: GoogleErrorDetail[];
}

const CONTEXT_OVERFLOW = /input token count \((\d+)\) exceeds the maximum number of tokens allowed \((\d+)\)/i;
const CAPACITY = /exhausted your capacity|capacity exceeded|MODEL_CAPACITY_EXHAUSTED/i;

export function parseGoogleError(status: number, bodyText: string, headers?: Headers): GatewayError {
  const body = extractGoogleError(bodyText);
  const message = body?.message?.trim() || fallbackMessage(status, bodyText);
  const details = Array.isArray(body?.details) ? body!.details : [];
  const errorInfo = details.find((detail) => detail["@type"]?.endsWith("google.rpc.ErrorInfo"));
  const retryInfo = details.find((detail) => detail["@type"]?.endsWith("google.rpc.RetryInfo"));
  const retryAfterMs = parseDuration(retryInfo?.retryDelay) ?? parseRetryAfterHeader(headers?.get("retry-after"));
  const reason = errorInfo?.reason ?? body?.status;

  const overflow = CONTEXT_OVERFLOW.exec(message);
  if (overflow) {
    return new GatewayError({
      status: 400, code: "context_length_exceeded", reason, scope: "request", retryable: false,
      message: `${message} This model's maximum context length is ${overflow[2]} tokens.`,
    });
  }
  const metadata = errorInfo?.metadata ?? {};
  const resetAt = Date.parse(metadata.quotaResetTimeStamp ?? "");
  const help = details.find((detail) => detail["@type"]?.endsWith("google.rpc.Help")) as { links?: { url?: string }[] } | undefined;
  const helpUrl = metadata.validation_link ?? metadata.activationUrl ?? metadata.appeal_url ?? help?.links?.[0]?.url ?? urlIn(message);
  const daily = details.some((detail) => detail["@type"]?.endsWith("google.rpc.QuotaFailure")
    && (detail.violations as { quotaId?: string }[] | undefined)?.some((violation) => /PerDay|Daily/.test(violation.quotaId ?? "")));
  const badRequest = details.find((detail) => detail["@type"]?.endsWith("google.rpc.BadRequest"));
  const field = (badRequest?.fieldViolations as { field?: string }[] | undefined)?.[0]?.field;
  return new GatewayError({
    status, message, reason, retryAfterMs,
    resetAt: Number.isNaN(resetAt) ? undefined : resetAt,
    helpUrl: status === 401 || status === 403 ? helpUrl : undefined,
    param: field ?? null,
    code: daily ? "insufficient_quota" : isCapacity(status, message, reason) ? "model_capacity_exhausted" : codeFor(status, body?.status),
    scope: scopeFor(status, message, reason),
    retryable: status === 429 || status >= 500 || status === 401 || status === 403,
  });
}

/** The inner {code,message,status,details} of any of the shapes Google uses, or null. */
export function extractGoogleError(text: string): GoogleErrorBody | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== "object" || value === null) return null;
  const error = (value as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return null;
  return error as GoogleErrorBody;
}

function urlIn(message: string): string | undefined {
  return /https:\/\/\S+[^\s.,)]/.exec(message)?.[0];
}

/** A model out of capacity is busy for everyone; the account that saw it did nothing wrong. */
function isCapacity(status: number, message: string, reason: string | undefined): boolean {
  return (status === 429 || status === 503) && (reason === "MODEL_CAPACITY_EXHAUSTED" || reason === "MODEL_CAPACITY_EXCEEDED" || CAPACITY.test(message));
}

function scopeFor(status: number, message: string, reason: string | undefined): ErrorScope {
  if (status === 401 || status === 403) return "credential";
  if (status === 429) return isCapacity(status, message, reason) ? "transient" : "credential";
  if (status >= 500) return "transient";
  return "request";
}

function codeFor(status: number, googleStatus: string | undefined): string | null {
  switch (googleStatus) {
    case "NOT_FOUND":
      return "model_not_found";
    case "RESOURCE_EXHAUSTED":
      return "rate_limit_exceeded";
    case "FAILED_PRECONDITION":
      return "failed_precondition";
    case "DEADLINE_EXCEEDED":
      return "timeout";
  }
  return status === 429 ? "rate_limit_exceeded" : null;
}

function fallbackMessage(status: number, text: string): string {
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return snippet ? `upstream returned HTTP ${status}: ${snippet}` : `upstream returned HTTP ${status}`;
}

/** Proto-JSON durations ("0.539s", "33740.9s") and the "<n>ms" form the CLI also accepts. */
export function parseDuration(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const match = /^\s*([\d.]+)\s*(ms|s)\s*$/.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  if (!Number.isFinite(amount)) return undefined;
  return Math.ceil(match[2] === "ms" ? amount : amount * 1000);
}

function parseRetryAfterHeader(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** fetch() failures (refused, reset, DNS, timeouts) as transient GatewayErrors. */
export function networkError(error: unknown, what: string): GatewayError {
  if (error instanceof GatewayError) return error;
  const cause = error as Error;
  const timedOut = cause?.name === "TimeoutError";
  return new GatewayError({
    status: timedOut ? 504 : 502,
    code: timedOut ? "timeout" : "upstream_unreachable",
    message: timedOut ? `${what} timed out` : `${what} failed: ${cause?.message ?? String(error)}`,
    scope: "transient",
    retryable: true,
  });
}

/**
 * OpenAI-compatible error bodies ({"error":{"message","type","code"}}) → GatewayError, with the
 * statuses translation.md §5.4 gives Gemini clients: 402 (out of balance) becomes 403 so Gemini CLI
 * does not retry it forever; 502/503/529 are 503; timeouts 504.
 */
export function parseOpenAIError(status: number, bodyText: string, headers?: Headers): GatewayError {
  let body: { error?: { message?: string; code?: unknown; type?: string } | string; message?: string } = {};
  try {
    body = JSON.parse(bodyText);
  } catch { /* not JSON */ }
  const error = typeof body.error === "object" ? body.error : undefined;
  const message = (error?.message ?? (typeof body.error === "string" ? body.error : undefined) ?? body.message ?? fallbackMessage(status, bodyText)).trim();
  const code = typeof error?.code === "string" ? error.code : null;
  const retryAfterMs = parseRetryAfterHeader(headers?.get("retry-after"));
  if (code === "context_length_exceeded" || /maximum context length/i.test(message)) {
    return new GatewayError({ status: 400, code: "context_length_exceeded", scope: "request", retryable: false, message });
  }
  if (status === 400 || status === 422) return new GatewayError({ status: 400, code, message, scope: "request", retryable: false });
  if (status === 401) return new GatewayError({ status: 401, code: code ?? "invalid_api_key", message, scope: "credential", retryable: true });
  if (status === 402) return new GatewayError({ status: 403, code: code ?? "insufficient_balance", message, scope: "credential", retryable: true });
  if (status === 403) return new GatewayError({ status: 403, code, message, scope: "credential", retryable: true });
  if (status === 404) return new GatewayError({ status: 404, code: code ?? "model_not_found", message, scope: "request", retryable: false });
  if (status === 408 || status === 504) return new GatewayError({ status: 504, code: "timeout", message, scope: "transient", retryable: true });
  if (status === 429) return new GatewayError({ status: 429, code: code ?? "rate_limit_exceeded", message, scope: "credential", retryable: true, retryAfterMs });
  if (status === 502 || status === 503 || status === 529) return new GatewayError({ status: 503, code, message, scope: "transient", retryable: true, retryAfterMs });
  return new GatewayError({ status: status >= 500 ? 500 : status, code, message, scope: status >= 500 ? "transient" : "request", retryable: status >= 500 });
}
