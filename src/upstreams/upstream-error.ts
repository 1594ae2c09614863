// Upstream error bodies → GatewayError: one parser per wire format (Google, OpenAI-compatible,
// OAuth token endpoint), used alike for non-2xx answers and for errors that arrive inside a
// stream. This is where an error gets its `kind` (hub.ts); pool/transitions.ts turns the kind
// into a state change, and retry-policy.ts into the executor's next move.
import { GatewayError, MAX_DELAY_MS, type ErrorKind } from "../hub.ts";
import { redact } from "../log.ts";

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

/** Gemini CLI's line between "retry soon" and "quota gone for a while" (codeassist-protocol §9.2). */
export const TERMINAL_DELAY_MS = 300_000;

const CONTEXT_OVERFLOW = /input token count \((\d+)\) exceeds the maximum number of tokens allowed \((\d+)\)/i;
/** Only consulted when the answer carries no ErrorInfo reason (codeassist-protocol §9.2 step 4). */
const CAPACITY_MESSAGE = /exhausted your capacity|capacity exceeded|MODEL_CAPACITY_EXHAUSTED|no capacity available/i;
const ZERO_LIMIT = /limit:\s*0(?!\d|\.\d)/;
const CAPACITY_REASONS = new Set(["MODEL_CAPACITY_EXHAUSTED", "MODEL_CAPACITY_EXCEEDED"]);
const QUOTA_REASONS = new Set(["QUOTA_EXHAUSTED", "INSUFFICIENT_G1_CREDITS_BALANCE"]);
/** 403 reasons only a person can fix (docs/codeassist-protocol.md §8.2). */
const NEEDS_A_PERSON_REASONS = new Set(["VALIDATION_REQUIRED", "TOS_VIOLATION", "SERVICE_DISABLED", "SUBSCRIPTION_REQUIRED", "PROJECT_REQUIRED", "INELIGIBLE_TIER"]);
const LICENCE_MESSAGE = /licen[cs]e|subscription/i;

/** A Google error body (text, or the already-parsed object of an in-stream error) → GatewayError. */
export function parseGoogleError(status: number, body: string | unknown, headers?: Headers): GatewayError {
  const error = typeof body === "string" ? extractGoogleError(body) : innerGoogleError(body);
  // Upstream text may echo our own key back: masked before it goes anywhere.
  const message = redact(error?.message?.trim() || fallbackMessage(status, typeof body === "string" ? body : JSON.stringify(body ?? "")));
  const details = Array.isArray(error?.details) ? error!.details : [];
  const find = (type: string) => details.find((detail) => typeof detail?.["@type"] === "string" && detail["@type"].endsWith(type));
  const errorInfo = find("google.rpc.ErrorInfo");
  const reason = typeof errorInfo?.reason === "string" ? errorInfo.reason : undefined;
  const retryAfterMs = parseDuration(find("google.rpc.RetryInfo")?.retryDelay) ?? parseRetryAfterHeader(headers?.get("retry-after"));
  const metadata = (typeof errorInfo?.metadata === "object" && errorInfo.metadata) || {};
  const resetAt = Date.parse(typeof metadata.quotaResetTimeStamp === "string" ? metadata.quotaResetTimeStamp : "");
  const daily = details.some((detail) => detail?.["@type"]?.endsWith("google.rpc.QuotaFailure")
    && Array.isArray(detail.violations) && (detail.violations as { quotaId?: unknown }[]).some((violation) => /PerDay|Daily/.test(String(violation?.quotaId ?? ""))));
  const common = { reason: reason ?? error?.status, retryAfterMs, resetAt: Number.isNaN(resetAt) ? undefined : resetAt };

  const overflow = CONTEXT_OVERFLOW.exec(message);
  if (overflow) {
    return new GatewayError({ ...common, status: 400, code: "context_length_exceeded", kind: "request", message: `${message} This model's maximum context length is ${overflow[2]} tokens.` });
  }
  if (reason === "API_KEY_INVALID") {
    return new GatewayError({ ...common, status: 401, code: "invalid_api_key", kind: "auth", message });
  }
  if (status === 401 || status === 403) {
    const help = find("google.rpc.Help") as { links?: { url?: unknown }[] } | undefined;
    const helpUrl = [metadata.validation_link, metadata.activationUrl, metadata.appeal_url, help?.links?.[0]?.url, urlIn(message)].find((url) => typeof url === "string") as string | undefined;
    const kind: ErrorKind = status === 401 ? "auth" : (reason && NEEDS_A_PERSON_REASONS.has(reason)) || LICENCE_MESSAGE.test(message) ? "needs_person" : "permission";
    return new GatewayError({ ...common, status, code: codeFor(status, error?.status), kind, helpUrl, message });
  }
  const kind = throttleKind(status, message, reason, daily, retryAfterMs);
  const badRequest = find("google.rpc.BadRequest");
  const field = (badRequest?.fieldViolations as { field?: unknown }[] | undefined)?.[0]?.field;
  return new GatewayError({
    ...common, status, message, kind,
    param: typeof field === "string" ? field : null,
    code: kind === "quota" && (daily || status === 429) ? (daily ? "insufficient_quota" : "rate_limit_exceeded") : kind === "capacity" ? "model_capacity_exhausted" : codeFor(status, error?.status),
  });
}

/** An `{"error": …}` event inside a Google stream, parsed like any error body (undefined otherwise). */
export function googleEventError(event: Record<string, unknown>): GatewayError | undefined {
  if (typeof event.error !== "object" || event.error === null) return undefined;
  const code = (event.error as { code?: unknown }).code;
  return parseGoogleError(typeof code === "number" && code >= 400 && code < 600 ? code : 500, event);
}

/** An `{"error": …}` chunk inside an OpenAI-compatible stream (undefined otherwise). */
export function openAIEventError(event: Record<string, unknown>): GatewayError | undefined {
  if (event.error === undefined || event.error === null) return undefined;
  const code = (event.error as { code?: unknown }).code;
  return parseOpenAIError(typeof code === "number" && code >= 400 && code < 600 ? code : 500, event);
}

/**
 * 429, 499 and 503 (codeassist-protocol §9.2): the ErrorInfo reason decides; message patterns
 * only when there is none. Everything else by status.
 */
function throttleKind(status: number, message: string, reason: string | undefined, daily: boolean, retryAfterMs: number | undefined): ErrorKind {
  if (status !== 429 && status !== 499 && status !== 503) return status >= 500 ? "transient" : "request";
  if (reason && CAPACITY_REASONS.has(reason)) return "capacity";
  if ((reason && QUOTA_REASONS.has(reason)) || daily || ZERO_LIMIT.test(message) || (retryAfterMs ?? 0) > TERMINAL_DELAY_MS) return "quota";
  if (reason === "RATE_LIMIT_EXCEEDED") return "rate_limit";
  if (!reason && CAPACITY_MESSAGE.test(message)) return "capacity";
  return status === 429 ? "rate_limit" : "transient";
}

/** The inner {code,message,status,details} of any of the shapes Google uses, or null. */
export function extractGoogleError(text: string): GoogleErrorBody | null {
  try {
    return innerGoogleError(JSON.parse(text));
  } catch {
    return null;
  }
}

function innerGoogleError(value: unknown): GoogleErrorBody | null {
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== "object" || value === null) return null;
  const error = (value as { error?: unknown }).error ?? value;
  if (typeof error !== "object" || error === null) return null;
  const body = error as GoogleErrorBody;
  return { ...body, message: typeof body.message === "string" ? body.message : undefined, status: typeof body.status === "string" ? body.status : undefined };
}

function urlIn(message: string): string | undefined {
  return /https:\/\/\S+[^\s.,)]/.exec(message)?.[0];
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
  if (status === 404) return "model_not_found";
  return status === 429 ? "rate_limit_exceeded" : null;
}

function fallbackMessage(status: number, text: string): string {
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return snippet ? `upstream returned HTTP ${status}: ${snippet}` : `upstream returned HTTP ${status}`;
}

/** Proto-JSON durations ("0.539s", "33740.9s") and the "<n>ms" form the CLI also accepts; clamped. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const match = /^\s*([\d.]+)\s*(ms|s)\s*$/.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  if (!Number.isFinite(amount)) return undefined;
  return Math.min(MAX_DELAY_MS, Math.ceil(match[2] === "ms" ? amount : amount * 1000));
}

function parseRetryAfterHeader(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(MAX_DELAY_MS, Math.ceil(seconds * 1000)) : undefined;
}

/** fetch() failures (refused, reset, DNS, timeouts) as transient GatewayErrors. */
export function networkError(error: unknown, what: string): GatewayError {
  if (error instanceof GatewayError) return error;
  const cause = error as Error;
  const timedOut = cause?.name === "TimeoutError";
  return new GatewayError({
    status: timedOut ? 504 : 502,
    code: timedOut ? "timeout" : "upstream_unreachable",
    message: redact(timedOut ? `${what} timed out` : `${what} failed: ${cause?.message ?? String(error)}`),
    kind: "transient",
  });
}

/**
 * OpenAI-compatible error bodies ({"error":{"message","type","code"}}) → GatewayError, with the
 * statuses translation.md §5.4 gives Gemini clients: 402 (out of balance) becomes 403 so Gemini CLI
 * does not retry it forever; 502/503/529 are 503; timeouts 504.
 */
export function parseOpenAIError(status: number, body: string | unknown, headers?: Headers): GatewayError {
  let parsed: unknown = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = {};
    }
  }
  const object = (typeof parsed === "object" && parsed !== null ? parsed : {}) as { error?: unknown; message?: unknown };
  const error = typeof object.error === "object" && object.error !== null ? object.error as { message?: unknown; code?: unknown } : undefined;
  const candidates = [error?.message, object.error, object.message];
  const message = redact(((candidates.find((value) => typeof value === "string") as string | undefined) ?? fallbackMessage(status, typeof body === "string" ? body : "")).trim());
  const code = typeof error?.code === "string" ? error.code : null;
  const retryAfterMs = parseRetryAfterHeader(headers?.get("retry-after"));
  const make = (init: { status: number; kind: ErrorKind; code?: string | null }) => new GatewayError({ code, message, retryAfterMs, ...init });
  if (code === "context_length_exceeded" || /maximum context length/i.test(message)) return make({ status: 400, kind: "request", code: "context_length_exceeded" });
  if (status === 400 || status === 422) return make({ status: 400, kind: "request" });
  if (status === 401) return make({ status: 401, kind: "auth", code: code ?? "invalid_api_key" });
  if (status === 402) return make({ status: 403, kind: "quota", code: code ?? "insufficient_balance" });
  if (status === 403) return make({ status: 403, kind: "permission" });
  if (status === 404) return make({ status: 404, kind: "request", code: code ?? "model_not_found" });
  if (status === 408 || status === 504) return make({ status: 504, kind: "transient", code: "timeout" });
  if (status === 429) return make({ status: 429, kind: code === "insufficient_quota" ? "quota" : "rate_limit", code: code ?? "rate_limit_exceeded" });
  if (status === 502 || status === 503 || status === 529) return make({ status: 503, kind: "transient" });
  return make({ status: status >= 500 ? 500 : status, kind: status >= 500 ? "transient" : "request" });
}

/**
 * OAuth token endpoint answers (RFC 6749 §5.2). Only `invalid_grant`, `invalid_client`,
 * `unauthorized_client` or a 401 mean the credential itself is refused; a 429, a 5xx or anything
 * else from the endpoint is a passing problem and must not mark the credential invalid.
 */
export function parseTokenError(status: number, text: string): GatewayError {
  let payload: { error?: unknown; error_description?: unknown } = {};
  try {
    payload = JSON.parse(text);
  } catch { /* not JSON */ }
  const code = typeof payload?.error === "string" ? payload.error : `http_${status}`;
  const description = typeof payload?.error_description === "string" ? `: ${payload.error_description}` : "";
  const refused = code === "invalid_grant" || code === "invalid_client" || code === "unauthorized_client" || status === 401;
  return new GatewayError({
    status: refused ? 401 : 502,
    code, reason: code,
    kind: refused ? "auth" : "transient",
    message: redact(`token refresh ${refused ? "rejected" : "failed"} (${code}${description})`),
  });
}
