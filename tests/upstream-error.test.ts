import { describe, expect, test } from "bun:test";
import { parseDuration, parseGoogleError } from "../src/upstreams/upstream-error.ts";

const rateLimit = {
  error: {
    code: 429, message: "You have exhausted your quota.", status: "RESOURCE_EXHAUSTED",
    details: [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "RATE_LIMIT_EXCEEDED", domain: "cloudcode-pa.googleapis.com" },
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "0.539477544s" },
    ],
  },
};

describe("parseGoogleError", () => {
  test("a 429 with RetryInfo: a rate limit of this credential, with the delay", () => {
    const error = parseGoogleError(429, JSON.stringify(rateLimit));
    expect(error).toMatchObject({ status: 429, kind: "rate_limit", retryAfterMs: 540, reason: "RATE_LIMIT_EXCEEDED", code: "rate_limit_exceeded", message: "You have exhausted your quota." });
  });

  test("the one-element array a stream sends before starting is unwrapped", () => {
    const error = parseGoogleError(429, JSON.stringify([rateLimit], null, 2));
    expect(error.message).toBe("You have exhausted your quota.");
    expect(error.retryAfterMs).toBe(540);
  });

  test("capacity exhaustion: the model is busy, the account is fine", () => {
    const error = parseGoogleError(429, JSON.stringify({ error: { code: 429, message: "No capacity available for model gemini-2.5-pro", status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "MODEL_CAPACITY_EXHAUSTED" }] } }));
    expect(error.kind).toBe("capacity");
  });

  test("400 is request-scoped and not retryable; 404 is model_not_found", () => {
    expect(parseGoogleError(400, JSON.stringify({ error: { code: 400, message: "bad", status: "INVALID_ARGUMENT" } }))).toMatchObject({ kind: "request", code: null });
    expect(parseGoogleError(404, JSON.stringify({ error: { code: 404, message: "nf", status: "NOT_FOUND" } }))).toMatchObject({ kind: "request", code: "model_not_found" });
  });

  test("context overflow becomes context_length_exceeded with the limit in the message", () => {
    const error = parseGoogleError(400, JSON.stringify({ error: { code: 400, message: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", status: "INVALID_ARGUMENT" } }));
    expect(error).toMatchObject({ status: 400, code: "context_length_exceeded" });
    expect(error.message).toContain("maximum context length is 1048576 tokens");
  });

  test("a daily QuotaFailure is insufficient_quota; a BadRequest field violation names the param", () => {
    const daily = parseGoogleError(429, JSON.stringify({ error: { code: 429, message: "q", status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{ quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier" }] }] } }));
    expect(daily.code).toBe("insufficient_quota");
    const bad = parseGoogleError(400, JSON.stringify({ error: { code: 400, message: "bad", status: "INVALID_ARGUMENT", details: [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "contents[0].parts", description: "empty" }] }] } }));
    expect(bad.param).toBe("contents[0].parts");
  });

  test("non-JSON and empty bodies still give a readable message; Retry-After headers count", () => {
    expect(parseGoogleError(502, "<html>Bad Gateway</html>").message).toBe("upstream returned HTTP 502: <html>Bad Gateway</html>");
    expect(parseGoogleError(503, "").message).toBe("upstream returned HTTP 503");
    expect(parseGoogleError(503, "", new Headers({ "retry-after": "12" })).retryAfterMs).toBe(12_000);
    expect(parseGoogleError(500, "")).toMatchObject({ kind: "transient" });
  });
});

describe("parseDuration", () => {
  test.each([["30s", 30_000], ["0.5s", 500], ["33740.910400305s", 33_740_911], ["539ms", 539], [undefined, undefined], ["soon", undefined]])("%p → %p", (input, expected) => {
    expect(parseDuration(input as string | undefined)).toBe(expected as number | undefined);
  });
});
