// PURE: how one outcome changes one credential's state. The only place pool state changes, so
// every rule is a row in a table test with a fixed clock (docs/codeassist-protocol.md §8–9).

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
  /** Consecutive transient failures; sets the length of the next backoff. */
  failure_streak: number;
  project_id?: string;
  email?: string;
  tier?: string;
  /** model name (or ALL_MODELS) → epoch ms until which this credential must not serve it. */
  model_cooldowns: Record<string, number>;
}

/** A cooldown that applies to every model (a permission or health problem, not a quota). */
export const ALL_MODELS = "*";
export const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 60_000;
export const DEFAULT_QUOTA_COOLDOWN_MS = 60 * 60_000;
/** Above this, a retry delay means "quota gone for a while", as Gemini CLI judges it. */
export const TERMINAL_DELAY_MS = 300_000;
export const PERMISSION_COOLDOWN_MS = 10 * 60_000;
export const TRANSIENT_BACKOFF_BASE_MS = 1_000;
export const TRANSIENT_BACKOFF_CAP_MS = 60_000;
const MAX_ERROR_TEXT = 200;

/** 403 reasons only a person can fix: never retried until the operator clears them. */
const NEEDS_A_PERSON: Record<string, string> = {
  VALIDATION_REQUIRED: "Google asks this account to verify itself",
  TOS_VIOLATION: "Google suspended this account for a terms-of-service violation",
  SERVICE_DISABLED: "the Gemini for Google Cloud API is disabled in this account's project",
  SUBSCRIPTION_REQUIRED: "this account has no Gemini Code Assist subscription or licence",
  PROJECT_REQUIRED: "this account needs a Google Cloud project",
};
const LICENCE_MESSAGE = /licen[cs]e|subscription/i;

export interface Failure {
  kind: "failure";
  model: string;
  status: number;
  scope: "request" | "credential" | "transient";
  message: string;
  code?: string | null;
  reason?: string;
  retryAfterMs?: number;
  resetAt?: number;
  helpUrl?: string;
}

export type Outcome =
  | { kind: "success"; model: string }
  | Failure
  | { kind: "probe_ok"; email?: string; tier?: string; project?: string }
  | { kind: "probe_failed"; message: string };

export function emptyState(): CredentialState {
  return { status: "active", success_count: 0, error_count: 0, failure_streak: 0, model_cooldowns: {} };
}

export function isBlocked(state: CredentialState): boolean {
  return state.status === "disabled" || state.status === "invalid";
}

export function applyOutcome(state: CredentialState, outcome: Outcome, now: number): CredentialState {
  switch (outcome.kind) {
    case "success": {
      const { [outcome.model]: _cleared, [ALL_MODELS]: _backoff, ...cooldowns } = state.model_cooldowns;
      return {
        ...state,
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

function applyFailure(state: CredentialState, failure: Failure, now: number): CredentialState {
  // The client's own mistake, or a model busy for everyone, says nothing about this account.
  if (failure.scope === "request" || failure.code === "model_capacity_exhausted") return state;

  const next: CredentialState = {
    ...state,
    error_count: state.error_count + 1,
    last_error_at: now,
    last_error: `${failure.status} ${failure.message}`.slice(0, MAX_ERROR_TEXT),
    model_cooldowns: pruneCooldowns(state.model_cooldowns, now),
  };
  if (failure.reason === "invalid_grant" || failure.status === 401) {
    const why = failure.reason === "invalid_grant" ? "invalid_grant: the refresh token was revoked or expired; log in again" : `rejected by Google (401): ${failure.message}`;
    return { ...next, status: "invalid", disabled_reason: why.slice(0, MAX_ERROR_TEXT) };
  }
  if (failure.status === 403) {
    const known = failure.reason ? NEEDS_A_PERSON[failure.reason] : undefined;
    if (known || LICENCE_MESSAGE.test(failure.message)) {
      const reason = known ? `${failure.reason}: ${known}` : `SUBSCRIPTION_REQUIRED: ${failure.message}`;
      return withoutUndefined({ ...next, status: "disabled", disabled_reason: reason.slice(0, MAX_ERROR_TEXT), disabled_url: failure.helpUrl });
    }
    next.model_cooldowns[ALL_MODELS] = now + PERMISSION_COOLDOWN_MS;
    return next;
  }
  if (failure.status === 429 && failure.scope === "credential") {
    const terminal = failure.reason === "QUOTA_EXHAUSTED" || failure.code === "insufficient_quota"
      || (failure.retryAfterMs ?? 0) > TERMINAL_DELAY_MS;
    const until = terminal
      ? failure.resetAt ?? now + (failure.retryAfterMs ?? DEFAULT_QUOTA_COOLDOWN_MS)
      : now + (failure.retryAfterMs ?? DEFAULT_RATE_LIMIT_COOLDOWN_MS);
    next.model_cooldowns[failure.model] = Math.max(until, now + 1);
    return next;
  }
  if (failure.scope === "transient") {
    // Escalating backoff (1 s, 2 s, 4 s … capped) so a sick account is rested, not hammered.
    const streak = state.failure_streak + 1;
    next.failure_streak = streak;
    next.model_cooldowns[ALL_MODELS] = now + Math.min(TRANSIENT_BACKOFF_CAP_MS, TRANSIENT_BACKOFF_BASE_MS * 2 ** (streak - 1));
  }
  return next;
}

/** When `model` becomes usable again on this credential (0 = now). */
export function cooldownUntil(state: CredentialState, model: string, now: number): number {
  const until = Math.max(state.model_cooldowns[model] ?? 0, state.model_cooldowns[ALL_MODELS] ?? 0);
  return until > now ? until : 0;
}

export function isUsable(state: CredentialState, model: string, now: number): boolean {
  return !isBlocked(state) && cooldownUntil(state, model, now) === 0;
}

/** Whether any cooldown is running, and the latest moment one ends. */
export function nextReset(state: CredentialState, now: number): number | undefined {
  const running = Object.values(state.model_cooldowns).filter((until) => until > now);
  return running.length > 0 ? Math.max(...running) : undefined;
}

function pruneCooldowns(cooldowns: Record<string, number>, now: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cooldowns).filter(([, until]) => until > now));
}

/** Optional fields absent rather than undefined, so equality and the state file stay clean. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}
