// Every pool rule as a row: state before, outcome, fixed clock → state after.
import { describe, expect, test } from "bun:test";
import { ALL_MODELS, applyOutcome, cooldownUntil, DEFAULT_RATE_LIMIT_COOLDOWN_MS, emptyState, isUsable, PERMISSION_COOLDOWN_MS, type Outcome } from "../src/pool/transitions.ts";

const NOW = Date.parse("2026-11-23T10:00:00Z");
const model = "gemini-2.5-pro";
const failure = (status: number, scope: "request" | "credential" | "transient", extra: Partial<Extract<Outcome, { kind: "failure" }>> = {}): Outcome =>
  ({ kind: "failure", model, status, scope, message: `failed ${status}`, ...extra });

describe("applyOutcome", () => {
  const rows: [string, Outcome, Partial<ReturnType<typeof emptyState>>][] = [
    ["success counts and stamps", { kind: "success", model }, { success_count: 1, last_success_at: NOW, error_count: 0 }],
    ["a request-scoped 400 changes nothing", failure(400, "request"), { error_count: 0, model_cooldowns: {} }],
    ["429 with a delay cools that model until now + delay", failure(429, "credential", { retryAfterMs: 30_000 }), { error_count: 1, model_cooldowns: { [model]: NOW + 30_000 } }],
    ["429 without a delay cools for the default", failure(429, "credential"), { model_cooldowns: { [model]: NOW + DEFAULT_RATE_LIMIT_COOLDOWN_MS } }],
    ["403 cools every model", failure(403, "credential"), { model_cooldowns: { [ALL_MODELS]: NOW + PERMISSION_COOLDOWN_MS } }],
    ["5xx counts but does not cool", failure(500, "transient"), { error_count: 1, last_error_at: NOW, last_error: "500 failed 500", model_cooldowns: {} }],
    ["invalid_grant disables with a reason", failure(401, "credential", { reason: "invalid_grant" }), { status: "invalid", disabled_reason: expect.stringContaining("invalid_grant") as never }],
  ];
  for (const [name, outcome, expected] of rows) {
    test(name, () => {
      expect(applyOutcome(emptyState(), outcome, NOW)).toMatchObject(expected);
    });
  }

  test("success clears that model's cooldown and keeps others", () => {
    const state = { ...emptyState(), model_cooldowns: { [model]: NOW + 5000, other: NOW + 5000 } };
    expect(applyOutcome(state, { kind: "success", model }, NOW).model_cooldowns).toEqual({ other: NOW + 5000 });
  });

  test("expired cooldowns are pruned on the next failure", () => {
    const state = { ...emptyState(), model_cooldowns: { old: NOW - 1 } };
    expect(applyOutcome(state, failure(429, "credential", { retryAfterMs: 5 }), NOW).model_cooldowns).toEqual({ [model]: NOW + 5 });
  });

  test("long error messages are cut to a short line", () => {
    const after = applyOutcome(emptyState(), failure(500, "transient", { message: "x".repeat(1000) }), NOW);
    expect(after.last_error!.length).toBe(200);
  });

  test("the input state is never mutated", () => {
    const state = emptyState();
    applyOutcome(state, failure(429, "credential"), NOW);
    expect(state).toEqual(emptyState());
  });
});

describe("usability", () => {
  test("a model cooldown blocks that model only; an ALL_MODELS cooldown blocks all; disabled blocks all", () => {
    const cooling = { ...emptyState(), model_cooldowns: { [model]: NOW + 1000 } };
    expect(isUsable(cooling, model, NOW)).toBe(false);
    expect(isUsable(cooling, "gemini-2.5-flash", NOW)).toBe(true);
    expect(isUsable(cooling, model, NOW + 1000)).toBe(true);
    expect(cooldownUntil(cooling, model, NOW)).toBe(NOW + 1000);
    const blocked = { ...emptyState(), model_cooldowns: { [ALL_MODELS]: NOW + 1000 } };
    expect(isUsable(blocked, "anything", NOW)).toBe(false);
    expect(isUsable({ ...emptyState(), status: "disabled" }, model, NOW)).toBe(false);
    expect(isUsable({ ...emptyState(), status: "invalid" }, model, NOW)).toBe(false);
    expect(isUsable({ ...emptyState(), status: "suspected" }, model, NOW)).toBe(true);
  });
});
