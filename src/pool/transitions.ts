// PURE: how one outcome changes one credential's state. The only place pool state changes, so
// every rule is a row in a table test with a fixed clock (docs/codeassist-protocol.md §8–9).
// An upstream error arrives already classified (`GatewayError.kind`, set in
// upstreams/upstream-error.ts); `outcomeOf` + `applyOutcome` turn it into cooldowns and statuses.
import { MAX_DELAY_MS, type GatewayError } from "../hub.ts";

/**
 * `active` serves; `suspected` failed an idle health check but still serves (the next success
 * clears it); `disabled` needs a person (verification, ToS, licence, API activation); `invalid`
 * has credentials Google no longer accepts. Cooling is not a status: it is per model, in
 * `model_cooldowns`, so an account out of Pro quota still serves Flash.
 */
export type CredentialStatus = "active" | "suspected" | "disabled" | "invalid";

export interface CredentialState {
  status: CredentialStatus;
  success_count: number;
  error_count: number;
  last_success_at?: number;
  last_error_at?: number;
  last_error?: string;
  disabled_reason?: string;
  /** Where the operator fixes it (verification link, API activation, appeal). */
  disabled_url?: string;
  /** Consecutive transient failures; sets the length of the next rest. */
  failure_streak: number;
  /**
   * After transient failures (5xx, network): until then the credential is tried only when no
   * rested one can serve. A rest lowers priority; it never makes the gateway refuse a request.
   */
  rest_until?: number;
  /** After a 403 without a known reason: no model is served until then. */
  paused_until?: number;
  /** Which login this state belongs to (a short hash of the refresh token, never the token). */
  token_fingerprint?: string;
  project_id?: string;
  email?: string;
  tier?: string;
  /** Model name → epoch ms until which this credential must not serve it (429s). */
  model_cooldowns: Record<string, number>;
}

export const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 60_000;
export const DEFAULT_QUOTA_COOLDOWN_MS = 60 * 60_000;
export const PERMISSION_COOLDOWN_MS = 10 * 60_000;
export const TRANSIENT_BACKOFF_BASE_MS = 1_000;
export const TRANSIENT_BACKOFF_CAP_MS = 60_000;
const MAX_ERROR_TEXT = 200;

/** What each reason that needs a person means, for the state file and /health. */
const NEEDS_A_PERSON: Record<string, string> = {
  VALIDATION_REQUIRED: "Google asks this account to verify itself",
  TOS_VIOLATION: "Google suspended this account for a terms-of-service violation",
  SERVICE_DISABLED: "the Gemini for Google Cloud API is disabled in this account's project",
  SUBSCRIPTION_REQUIRED: "this account has no Gemini Code Assist subscription or licence",
  PROJECT_REQUIRED: "this account needs a Google Cloud project",
  INELIGIBLE_TIER: "Google does not serve Code Assist to this account (Standard or Enterprise licence needed)",
};

/** The part of a GatewayError the pool keeps. */
export type FailureCause = Pick<GatewayError, "kind" | "status" | "message" | "code" | "reason" | "retryAfterMs" | "resetAt" | "helpUrl">;

export interface Failure {
  kind: "failure";
  model: string;
  error: FailureCause;
}

export type Outcome =
  | { kind: "success"; model: string }
  | Failure
  /** An operator's hand: disable (or enable) the credential, or reset it to a clean slate. */
  | { kind: "operator"; action: "disable" | "enable" | "reset" }
  | { kind: "probe_ok"; email?: string; tier?: string; project?: string }
  | { kind: "probe_failed"; message: string };

/** The pool outcome of an upstream error seen while serving `model` (or probing, model "*"). */
export function outcomeOf(error: GatewayError, model: string): Failure {
  const { kind, status, message, code, reason, retryAfterMs, resetAt, helpUrl } = error;
  return { kind: "failure", model, error: withoutUndefined({ kind, status, message, code, reason, retryAfterMs, resetAt, helpUrl }) };
}

export function emptyState(): CredentialState {
  return { status: "active", success_count: 0, error_count: 0, failure_streak: 0, model_cooldowns: {} };
}

export function isBlocked(state: CredentialState): boolean {
  return state.status === "disabled" || state.status === "invalid";
}

export function applyOutcome(state: CredentialState, outcome: Outcome, now: number): CredentialState {
  switch (outcome.kind) {
    case "success": {
      const { [outcome.model]: _cleared, ...cooldowns } = state.model_cooldowns;
      const { rest_until: _rest, ...rest } = state;
      return {
        ...rest,
        status: state.status === "suspected" ? "active" : state.status,
        success_count: state.success_count + 1,
        last_success_at: now,
        failure_streak: 0,
        model_cooldowns: cooldowns,
      };
    }
    case "probe_ok": {
      // An operator's "disabled" stays until the operator clears it; Google accepting the
      // credentials again is enough to lift "invalid".
      const status = state.status === "disabled" ? "disabled" : "active";
      const cleared = status === "active" ? { disabled_reason: undefined, disabled_url: undefined } : {};
      return withoutUndefined({
        ...state, ...cleared, status, failure_streak: 0,
        email: outcome.email ?? state.email, tier: outcome.tier ?? state.tier, project_id: state.project_id ?? outcome.project,
      });
    }
    case "operator": {
      if (outcome.action === "disable") return { ...state, status: "disabled", disabled_reason: "disabled by the operator" };
      if (outcome.action === "enable") {
        const { disabled_reason: _reason, disabled_url: _url, ...rest } = state;
        return { ...rest, status: state.status === "disabled" ? "active" : state.status };
      }
      // Reset: counters and identity stay; cooldowns, rests, streaks and verdicts go.
      const { disabled_reason: _reason, disabled_url: _url, rest_until: _rest, paused_until: _paused, last_error: _error, ...rest } = state;
      return { ...rest, status: "active", failure_streak: 0, model_cooldowns: {} };
    }
    case "probe_failed":
      return {
        ...state,
        status: state.status === "active" ? "suspected" : state.status,
        last_error_at: now,
        last_error: `health check: ${outcome.message}`.slice(0, MAX_ERROR_TEXT),
      };
  }
  return applyFailure(state, outcome, now);
}

function applyFailure(state: CredentialState, { model, error }: Failure, now: number): CredentialState {
  // The client's own mistake, or a model busy for everyone, says nothing about this account.
  if (error.kind === "request" || error.kind === "capacity") return state;

  const next: CredentialState = {
    ...state,
    error_count: state.error_count + 1,
    last_error_at: now,
    last_error: `${error.status} ${error.message}`.slice(0, MAX_ERROR_TEXT),
    model_cooldowns: pruneCooldowns(state.model_cooldowns, now),
  };
  const within = (until: number) => Math.min(Math.max(until, now + 1), now + MAX_DELAY_MS);
  switch (error.kind) {
    case "auth": {
      const why = error.reason === "invalid_grant" ? "invalid_grant: the refresh token was revoked or expired; log in again"
        : `rejected by the upstream (${error.status}): ${error.message}`;
      return { ...next, status: "invalid", disabled_reason: why.slice(0, MAX_ERROR_TEXT) };
    }
    case "needs_person": {
      const known = error.reason ? NEEDS_A_PERSON[error.reason] : undefined;
      const reason = known ? `${error.reason}: ${known}` : `SUBSCRIPTION_REQUIRED: ${error.message}`;
      return withoutUndefined({ ...next, status: "disabled", disabled_reason: reason.slice(0, MAX_ERROR_TEXT), disabled_url: error.helpUrl });
    }
    case "permission":
      return { ...next, paused_until: now + PERMISSION_COOLDOWN_MS };
    case "rate_limit":
      // A computed key in a literal is always an own property, whatever the model is called.
      return { ...next, model_cooldowns: { ...next.model_cooldowns, [model]: within(now + (error.retryAfterMs ?? DEFAULT_RATE_LIMIT_COOLDOWN_MS)) } };
    case "quota":
      return { ...next, model_cooldowns: { ...next.model_cooldowns, [model]: within(error.resetAt ?? now + (error.retryAfterMs ?? DEFAULT_QUOTA_COOLDOWN_MS)) } };
    case "transient": {
      // Escalating rest (1 s, 2 s, 4 s … capped): a sick account is tried last, not hammered.
      const streak = state.failure_streak + 1;
      return { ...next, failure_streak: streak, rest_until: now + Math.min(TRANSIENT_BACKOFF_CAP_MS, TRANSIENT_BACKOFF_BASE_MS * 2 ** (streak - 1)) };
    }
  }
}

/** When `model` becomes usable again on this credential (0 = now). A transient rest does not count. */
export function cooldownUntil(state: CredentialState, model: string, now: number): number {
  const own = Object.hasOwn(state.model_cooldowns, model) ? state.model_cooldowns[model]! : 0;
  const until = Math.max(own, state.paused_until ?? 0);
  return until > now ? until : 0;
}

export function isUsable(state: CredentialState, model: string, now: number): boolean {
  return !isBlocked(state) && cooldownUntil(state, model, now) === 0;
}

/** When this credential's transient rest ends (0 = not resting). */
export function restUntil(state: CredentialState, now: number): number {
  return (state.rest_until ?? 0) > now ? state.rest_until! : 0;
}

/** Whether any cooldown is running, and the latest moment one ends. */
export function nextReset(state: CredentialState, now: number): number | undefined {
  const running = [...Object.values(state.model_cooldowns), state.paused_until ?? 0].filter((until) => until > now);
  return running.length > 0 ? Math.max(...running) : undefined;
}

function pruneCooldowns(cooldowns: Record<string, number>, now: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cooldowns).filter(([, until]) => until > now));
}

/** Optional fields absent rather than undefined, so equality and the state file stay clean. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}
