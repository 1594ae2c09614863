// Every pool rule as a row: state before, outcome, fixed clock → state after
// (docs/codeassist-protocol.md §8–9 and the classification list of the pool issue).
import { describe, expect, test } from "bun:test";
import { GatewayError, MAX_DELAY_MS, type GatewayErrorInit } from "../src/hub.ts";
import {
  applyOutcome, cooldownUntil, DEFAULT_QUOTA_COOLDOWN_MS, DEFAULT_RATE_LIMIT_COOLDOWN_MS, emptyState, isUsable, outcomeOf,
  PERMISSION_COOLDOWN_MS, restUntil, type CredentialState, type Outcome,
} from "../src/pool/transitions.ts";
import { parseGoogleError, parseTokenError } from "../src/upstreams/upstream-error.ts";

const NOW = Date.parse("2026-11-23T10:00:00Z");
const model = "gemini-2.5-pro";
const failure = (status: number, kind: GatewayErrorInit["kind"], extra: Partial<GatewayErrorInit> = {}): Outcome =>
  outcomeOf(new GatewayError({ status, kind, message: `failed ${status}`, ...extra }), model);

/** The outcome the executor reports for a real Google error body: the same outcomeOf it uses. */
const fromGoogle = (status: number, body: unknown): Outcome => outcomeOf(parseGoogleError(status, JSON.stringify(body)), model);
const errorInfo = (reason: string, metadata: Record<string, string> = {}, domain = "cloudcode-pa.googleapis.com") =>
  ({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain, metadata });
const retryInfo = (delay: string) => ({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: delay });

describe("classification: Google error → state change", () => {
  const rows: [string, Outcome, Partial<CredentialState>][] = [
    ["429 RATE_LIMIT_EXCEEDED + RetryInfo → that model cools until now + delay",
      fromGoogle(429, { error: { code: 429, message: "rate", status: "RESOURCE_EXHAUSTED", details: [errorInfo("RATE_LIMIT_EXCEEDED"), retryInfo("12s")] } }),
      { status: "active", model_cooldowns: { [model]: NOW + 12_000 } }],
    ["429 QUOTA_EXHAUSTED → that model cools until quotaResetTimeStamp",
      fromGoogle(429, { error: { code: 429, message: "Individual quota reached.", status: "RESOURCE_EXHAUSTED", details: [errorInfo("QUOTA_EXHAUSTED", { quotaResetTimeStamp: "2026-11-23T19:30:00Z" }), retryInfo("34200s")] } }),
      { status: "active", model_cooldowns: { [model]: Date.parse("2026-11-23T19:30:00Z") } }],
    ["429 with a daily QuotaFailure and no reset time → the delay",
      fromGoogle(429, { error: { code: 429, message: "daily", status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{ quotaId: "RequestsPerDayPerUser" }] }, retryInfo("7200s")] } }),
      { model_cooldowns: { [model]: NOW + 7_200_000 } }],
    ["429 with a delay over 300 s is a terminal quota even without a reason",
      fromGoogle(429, { error: { code: 429, message: "later", status: "RESOURCE_EXHAUSTED", details: [retryInfo("900s")] } }),
      { model_cooldowns: { [model]: NOW + 900_000 } }],
    ["429 QUOTA_EXHAUSTED with nothing else → a default hour",
      fromGoogle(429, { error: { code: 429, message: "q", status: "RESOURCE_EXHAUSTED", details: [errorInfo("QUOTA_EXHAUSTED")] } }),
      { model_cooldowns: { [model]: NOW + DEFAULT_QUOTA_COOLDOWN_MS } }],
    ["429 without any detail → the default rate-limit cooldown",
      fromGoogle(429, { error: { code: 429, message: "slow down", status: "RESOURCE_EXHAUSTED" } }),
      { model_cooldowns: { [model]: NOW + DEFAULT_RATE_LIMIT_COOLDOWN_MS } }],
    ["429 MODEL_CAPACITY_EXHAUSTED → no penalty at all",
      fromGoogle(429, { error: { code: 429, message: "No capacity available for model gemini-2.5-pro on the server", status: "RESOURCE_EXHAUSTED", details: [errorInfo("MODEL_CAPACITY_EXHAUSTED")] } }),
      { error_count: 0, model_cooldowns: {}, failure_streak: 0 }],
    ["503 'capacity' message → no penalty",
      fromGoogle(503, { error: { code: 503, message: "You have exhausted your capacity on this model.", status: "UNAVAILABLE" } }),
      { error_count: 0, model_cooldowns: {} }],
    ["403 VALIDATION_REQUIRED → disabled with the verification URL",
      fromGoogle(403, { error: { code: 403, message: "Verify your account", status: "PERMISSION_DENIED", details: [errorInfo("VALIDATION_REQUIRED", { validation_link: "https://accounts.google.com/verify?x=1" }), { "@type": "type.googleapis.com/google.rpc.Help", links: [{ url: "https://accounts.google.com/verify?x=1" }] }] } }),
      { status: "disabled", disabled_reason: expect.stringMatching(/^VALIDATION_REQUIRED/) as never, disabled_url: "https://accounts.google.com/verify?x=1" }],
    ["403 TOS_VIOLATION → disabled with the appeal URL",
      fromGoogle(403, { error: { code: 403, message: "suspended", status: "PERMISSION_DENIED", details: [errorInfo("TOS_VIOLATION", { appeal_url: "https://support.google.com/appeal" })] } }),
      { status: "disabled", disabled_reason: expect.stringMatching(/^TOS_VIOLATION/) as never, disabled_url: "https://support.google.com/appeal" }],
    ["403 SERVICE_DISABLED → disabled with the activation URL",
      fromGoogle(403, { error: { code: 403, message: "Gemini for Google Cloud API has not been used in project p", status: "PERMISSION_DENIED", details: [errorInfo("SERVICE_DISABLED", { activationUrl: "https://console.developers.google.com/apis/api/cloudaicompanion.googleapis.com/overview?project=p" }, "googleapis.com")] } }),
      { status: "disabled", disabled_url: "https://console.developers.google.com/apis/api/cloudaicompanion.googleapis.com/overview?project=p" }],
    ["403 licence message (#3501 style) → disabled as SUBSCRIPTION_REQUIRED",
      fromGoogle(403, { error: { code: 403, message: "The user does not have a valid Gemini Code Assist license.", status: "PERMISSION_DENIED" } }),
      { status: "disabled", disabled_reason: expect.stringMatching(/^SUBSCRIPTION_REQUIRED/) as never }],
    ["403 without a known reason → every model pauses for 10 minutes",
      fromGoogle(403, { error: { code: 403, message: "The caller does not have permission", status: "PERMISSION_DENIED" } }),
      { status: "active", paused_until: NOW + PERMISSION_COOLDOWN_MS, model_cooldowns: {} }],
    ["401 (after the one refresh-and-retry) → invalid",
      fromGoogle(401, { error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" } }),
      { status: "invalid", disabled_reason: expect.stringContaining("401") as never }],
    ["invalid_grant from the token endpoint → invalid",
      outcomeOf(parseTokenError(400, JSON.stringify({ error: "invalid_grant", error_description: "Token has been expired or revoked." })), model),
      { status: "invalid", disabled_reason: expect.stringContaining("invalid_grant") as never }],
    ["invalid_client from the token endpoint → invalid",
      outcomeOf(parseTokenError(401, JSON.stringify({ error: "invalid_client", error_description: "The OAuth client was not found." })), model),
      { status: "invalid" }],
    ["429 from the token endpoint → only a rest, never invalid",
      outcomeOf(parseTokenError(429, JSON.stringify({ error: "rate_limit_exceeded" })), model),
      { status: "active", failure_streak: 1, rest_until: NOW + 1000 }],
    ["503 from the token endpoint → only a rest",
      outcomeOf(parseTokenError(503, "<html>unavailable</html>"), model),
      { status: "active", failure_streak: 1, rest_until: NOW + 1000 }],
    ["5xx → one second of rest, streak 1; no model cools",
      fromGoogle(500, { error: { code: 500, message: "Internal error encountered.", status: "INTERNAL" } }),
      { failure_streak: 1, rest_until: NOW + 1000, model_cooldowns: {} }],
    ["network failure → transient rest too",
      failure(502, "transient", { code: "upstream_unreachable" }),
      { failure_streak: 1, rest_until: NOW + 1000 }],
    ["Code Assist's rate limit, worded as 'exhausted your capacity' → this account cools for the RetryInfo delay (§8.3)",
      fromGoogle(429, { error: { code: 429, message: "You have exhausted your capacity on this model. Your quota will reset after 30s.", status: "RESOURCE_EXHAUSTED", details: [errorInfo("RATE_LIMIT_EXCEEDED", { model, quotaResetDelay: "30s" }), retryInfo("30s")] } }),
      { error_count: 1, model_cooldowns: { [model]: NOW + 30_000 } }],
    ["the same rate limit with a one-hour delay → a terminal quota: cools for the hour",
      fromGoogle(429, { error: { code: 429, message: "You have exhausted your capacity on this model. Your quota will reset after 3600s.", status: "RESOURCE_EXHAUSTED", details: [errorInfo("RATE_LIMIT_EXCEEDED"), retryInfo("3600s")] } }),
      { model_cooldowns: { [model]: NOW + 3_600_000 } }],
    ["an absurd retryDelay (1e23 s) is clamped to 7 days",
      fromGoogle(429, { error: { code: 429, message: "later", status: "RESOURCE_EXHAUSTED", details: [retryInfo("99999999999999999999999s")] } }),
      { model_cooldowns: { [model]: NOW + MAX_DELAY_MS } }],
    ["400 → request-scoped: nothing changes",
      fromGoogle(400, { error: { code: 400, message: "Invalid JSON payload received.", status: "INVALID_ARGUMENT" } }),
      { error_count: 0, status: "active", model_cooldowns: {} }],
    ["404 → request-scoped: nothing changes",
      fromGoogle(404, { error: { code: 404, message: "Requested entity was not found.", status: "NOT_FOUND" } }),
      { error_count: 0, model_cooldowns: {} }],
  ];
  for (const [name, outcome, expected] of rows) {
    test(name, () => {
      expect(applyOutcome(emptyState(), outcome, NOW)).toMatchObject(expected);
    });
  }

  test("other models stay usable while one model's quota is exhausted", () => {
    const after = applyOutcome(emptyState(), fromGoogle(429, { error: { code: 429, message: "q", status: "RESOURCE_EXHAUSTED", details: [errorInfo("QUOTA_EXHAUSTED")] } }), NOW);
    expect(isUsable(after, model, NOW)).toBe(false);
    expect(isUsable(after, "gemini-2.5-flash", NOW)).toBe(true);
  });
});

describe("streaks, recovery and health checks", () => {
  test("transient backoff doubles per failure and is capped", () => {
    let state = emptyState();
    const rests: number[] = [];
    for (let failureNumber = 0; failureNumber < 9; failureNumber++) {
      state = applyOutcome(state, failure(503, "transient"), NOW);
      rests.push(restUntil(state, NOW) - NOW);
    }
    expect(rests).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  test("a success resets the streak, clears the backoff and that model's cooldown, keeps others", () => {
    const state: CredentialState = { ...emptyState(), failure_streak: 4, rest_until: NOW + 5, model_cooldowns: { [model]: NOW + 5000, other: NOW + 5000 } };
    const after = applyOutcome(state, { kind: "success", model }, NOW);
    expect(after).toMatchObject({ failure_streak: 0, success_count: 1, last_success_at: NOW, model_cooldowns: { other: NOW + 5000 } });
    expect(after.rest_until).toBeUndefined();
  });

  test("a failed health check makes an active credential suspected; it still serves; a success makes it active", () => {
    const suspected = applyOutcome(emptyState(), { kind: "probe_failed", message: "timeout" }, NOW);
    expect(suspected.status).toBe("suspected");
    expect(isUsable(suspected, model, NOW)).toBe(true);
    expect(applyOutcome(suspected, { kind: "success", model }, NOW).status).toBe("active");
  });

  test("a good health check lifts invalid, never an operator's disabled", () => {
    const invalid: CredentialState = { ...emptyState(), status: "invalid", disabled_reason: "401" };
    expect(applyOutcome(invalid, { kind: "probe_ok", tier: "free-tier" }, NOW)).toMatchObject({ status: "active", tier: "free-tier" });
    expect(applyOutcome(invalid, { kind: "probe_ok" }, NOW).disabled_reason).toBeUndefined();
    const disabled: CredentialState = { ...emptyState(), status: "disabled", disabled_reason: "TOS_VIOLATION" };
    expect(applyOutcome(disabled, { kind: "probe_ok" }, NOW)).toMatchObject({ status: "disabled", disabled_reason: "TOS_VIOLATION" });
  });

  test("long error messages are cut to a short line; the input state is never mutated", () => {
    const state = emptyState();
    const after = applyOutcome(state, failure(500, "transient", { message: "x".repeat(1000) }), NOW);
    expect(after.last_error!.length).toBe(200);
    expect(state).toEqual(emptyState());
  });
});

describe("usability", () => {
  test("model cooldowns, all-model pauses, rests and blocked statuses", () => {
    const cooling = { ...emptyState(), model_cooldowns: { [model]: NOW + 1000 } };
    expect(isUsable(cooling, model, NOW)).toBe(false);
    expect(isUsable(cooling, "gemini-2.5-flash", NOW)).toBe(true);
    expect(isUsable(cooling, model, NOW + 1000)).toBe(true);
    expect(cooldownUntil(cooling, model, NOW)).toBe(NOW + 1000);
    expect(isUsable({ ...emptyState(), paused_until: NOW + 1000 }, "anything", NOW)).toBe(false);
    // A transient rest lowers priority in the pool; it never makes a credential unusable.
    expect(isUsable({ ...emptyState(), rest_until: NOW + 1000 }, model, NOW)).toBe(true);
    expect(isUsable({ ...emptyState(), status: "disabled" }, model, NOW)).toBe(false);
    expect(isUsable({ ...emptyState(), status: "invalid" }, model, NOW)).toBe(false);
    expect(isUsable({ ...emptyState(), status: "suspected" }, model, NOW)).toBe(true);
  });
});
