// The executor's next move for every kind of failure, as rows: a real upstream error body (Google,
// OpenAI-compatible, OAuth token endpoint) through the parser the executor uses → decide().
import { describe, expect, test } from "bun:test";
import { GatewayError } from "../src/hub.ts";
import { decide, MAX_CAPACITY_PAUSE_MS, type AttemptState, type Decision } from "../src/retry-policy.ts";
import { networkError, parseGoogleError, parseOpenAIError, parseTokenError } from "../src/upstreams/upstream-error.ts";

const errorInfo = (reason: string, metadata: Record<string, string> = {}) => ({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "cloudcode-pa.googleapis.com", metadata });
const retryInfo = (delay: string) => ({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: delay });
const google = (status: number, message: string, googleStatus: string, details?: unknown[]) =>
  parseGoogleError(status, JSON.stringify({ error: { code: status, message, status: googleStatus, ...(details ? { details } : {}) } }));
const openai = (status: number, message: string, code: string | null = null) => parseOpenAIError(status, JSON.stringify({ error: { message, type: "x", param: null, code } }));

const first: AttemptState = { calls: 1, maxRetries: 3, canReauth: false, clientGone: false };
const next = (pauseMs = 0): Decision => ({ action: "next_credential", pauseMs });

describe("decide(error, attempt)", () => {
  const rows: [string, GatewayError, Partial<AttemptState>, Decision][] = [
    ["Code Assist rate limit worded 'exhausted your capacity' (RATE_LIMIT_EXCEEDED, 30 s) → the next account at once, no pause",
      google(429, "You have exhausted your capacity on this model. Your quota will reset after 30s.", "RESOURCE_EXHAUSTED", [errorInfo("RATE_LIMIT_EXCEEDED"), retryInfo("30s")]), {}, next()],
    ["the same with a one-hour delay → the next account at once (never a sleep of an hour)",
      google(429, "You have exhausted your capacity on this model. Your quota will reset after 3600s.", "RESOURCE_EXHAUSTED", [errorInfo("RATE_LIMIT_EXCEEDED"), retryInfo("3600s")]), {}, next()],
    ["QUOTA_EXHAUSTED → the next account at once",
      google(429, "Individual quota reached.", "RESOURCE_EXHAUSTED", [errorInfo("QUOTA_EXHAUSTED", { quotaResetTimeStamp: "2026-12-01T20:00:00Z" }), retryInfo("33740.9s")]), {}, next()],
    ["MODEL_CAPACITY_EXHAUSTED → a short pause, then anyone (nobody is at fault)",
      google(429, "No capacity available for model gemini-2.5-pro on the server", "RESOURCE_EXHAUSTED", [errorInfo("MODEL_CAPACITY_EXHAUSTED")]), {}, { action: "next_credential", pauseMs: 500 }],
    ["capacity with a long RetryInfo → the pause is capped at a few seconds",
      google(503, "The model is overloaded.", "UNAVAILABLE", [errorInfo("MODEL_CAPACITY_EXHAUSTED"), retryInfo("45s")]), {}, { action: "next_credential", pauseMs: MAX_CAPACITY_PAUSE_MS }],
    ["a capacity message with no ErrorInfo reason is capacity too",
      google(503, "You have exhausted your capacity on this model.", "UNAVAILABLE"), { calls: 2 }, { action: "next_credential", pauseMs: 1000 }],
    ["500 → the next account", google(500, "Internal error encountered.", "INTERNAL"), {}, next()],
    ["a network error → the next account", networkError(new Error("ECONNREFUSED"), "Code Assist generateContent"), {}, next()],
    ["401 from Code Assist with a refreshable token → the same account, re-authenticated",
      google(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"), { canReauth: true }, { action: "retry_same", reauth: true, pauseMs: 0 }],
    ["401 again after the refresh → the next account",
      google(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"), { canReauth: false }, next()],
    ["invalid_grant from the token endpoint → the next account",
      parseTokenError(400, JSON.stringify({ error: "invalid_grant", error_description: "Token has been expired or revoked." })), {}, next()],
    ["503 from the token endpoint → the next account", parseTokenError(503, ""), {}, next()],
    ["403 VALIDATION_REQUIRED → the next account",
      google(403, "Verify your account", "PERMISSION_DENIED", [errorInfo("VALIDATION_REQUIRED", { validation_link: "https://accounts.google.com/v" })]), {}, next()],
    ["400 → give up: the client's input is the problem", google(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"), {}, { action: "give_up" }],
    ["context overflow → give up", google(400, "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", "INVALID_ARGUMENT"), {}, { action: "give_up" }],
    ["404 model not found → the next backend may know the model", google(404, "Requested entity was not found.", "NOT_FOUND"), {}, { action: "next_backend" }],
    ["retries used up → give up with this error", google(500, "Internal error encountered.", "INTERNAL"), { calls: 4 }, { action: "give_up" }],
    ["the client hung up → give up, whatever the error", google(500, "Internal error encountered.", "INTERNAL"), { clientGone: true }, { action: "give_up" }],
    ["OpenAI-compatible 429 → the next key", openai(429, "Rate limit reached for requests", "rate_limit_exceeded"), {}, next()],
    ["OpenAI-compatible 402 (no balance) → the next key", openai(402, "Insufficient Balance"), {}, next()],
    ["OpenAI-compatible 401 with an API key → the next key (nothing to refresh)", openai(401, "Incorrect API key provided.", "invalid_api_key"), {}, next()],
    ["OpenAI-compatible 529 overloaded → the next key", openai(529, "Overloaded"), {}, next()],
    ["OpenAI-compatible 400 → give up", openai(400, "messages must be a non-empty array"), {}, { action: "give_up" }],
  ];
  for (const [name, error, attempt, expected] of rows) {
    test(name, () => {
      expect(decide(error, { ...first, ...attempt })).toEqual(expected);
    });
  }
});

describe("parsers give each error one kind", () => {
  test.each([
    ["Code Assist RATE_LIMIT_EXCEEDED worded as capacity", google(429, "You have exhausted your capacity on this model.", "RESOURCE_EXHAUSTED", [errorInfo("RATE_LIMIT_EXCEEDED"), retryInfo("30s")]), "rate_limit"],
    ["RATE_LIMIT_EXCEEDED with a delay over 300 s", google(429, "later", "RESOURCE_EXHAUSTED", [errorInfo("RATE_LIMIT_EXCEEDED"), retryInfo("900s")]), "quota"],
    ["'limit: 0' in the message", google(429, "Quota exceeded for metric: generate_content_free_tier_requests, limit: 0", "RESOURCE_EXHAUSTED"), "quota"],
    ["a bare 429", google(429, "slow down", "RESOURCE_EXHAUSTED"), "rate_limit"],
    ["MODEL_CAPACITY_EXCEEDED", google(429, "x", "RESOURCE_EXHAUSTED", [errorInfo("MODEL_CAPACITY_EXCEEDED")]), "capacity"],
    ["a plain 503", google(503, "The service is currently unavailable.", "UNAVAILABLE"), "transient"],
    ["Gemini API 400 API_KEY_INVALID", google(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", [{ ...errorInfo("API_KEY_INVALID"), domain: "googleapis.com" }]), "auth"],
    ["403 without a reason", google(403, "The caller does not have permission", "PERMISSION_DENIED"), "permission"],
    ["403 licence message", google(403, "The user does not have a valid Gemini Code Assist license.", "PERMISSION_DENIED"), "needs_person"],
    ["token endpoint 429", parseTokenError(429, JSON.stringify({ error: "rate_limit_exceeded" })), "transient"],
    ["token endpoint invalid_client", parseTokenError(401, JSON.stringify({ error: "invalid_client" })), "auth"],
    ["token endpoint 401 with no body", parseTokenError(401, ""), "auth"],
    ["OpenAI insufficient_quota", openai(429, "You exceeded your current quota", "insufficient_quota"), "quota"],
  ] as const)("%s → %s", (_name, error, kind) => {
    expect(error.kind).toBe(kind);
  });

  test("an error inside a stream is parsed by the same parser as a non-2xx body", () => {
    const body = { error: { code: 429, message: "You have exhausted your capacity on this model.", status: "RESOURCE_EXHAUSTED", details: [errorInfo("RATE_LIMIT_EXCEEDED"), retryInfo("30s")] } };
    const inBand = parseGoogleError(429, body);
    const unary = parseGoogleError(429, JSON.stringify(body));
    expect({ ...inBand }).toEqual({ ...unary });
    expect(inBand).toMatchObject({ kind: "rate_limit", retryAfterMs: 30_000 });
  });
});
