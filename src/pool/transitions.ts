// PURE: how one request's outcome changes one credential's state. The only place pool state
// changes, so every rule is a table test with a fixed clock.

export interface CredentialState {
  success_count: number;
  error_count: number;
  last_success_at?: number;
  last_error_at?: number;
  last_error?: string;
  disabled: boolean;
  disabled_reason?: string;
  project_id?: string;
  /** model name (or ALL_MODELS) → epoch ms until which this credential must not serve it. */
  model_cooldowns: Record<string, number>;
}

/** A cooldown that applies to every model (a permission problem, not a quota). */
export const ALL_MODELS = "*";
export const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 60_000;
export const PERMISSION_COOLDOWN_MS = 10 * 60_000;
const MAX_ERROR_TEXT = 200;

export type Outcome =
  | { kind: "success"; model: string }
  | {
      kind: "failure";
      model: string;
      status: number;
      scope: "request" | "credential" | "transient";
      message: string;
      reason?: string;
      retryAfterMs?: number;
    };

export function emptyState(): CredentialState {
  return { success_count: 0, error_count: 0, disabled: false, model_cooldowns: {} };
}

export function applyOutcome(state: CredentialState, outcome: Outcome, now: number): CredentialState {
  if (outcome.kind === "success") {
    const { [outcome.model]: _cleared, ...cooldowns } = state.model_cooldowns;
    return { ...state, success_count: state.success_count + 1, last_success_at: now, model_cooldowns: cooldowns };
  }
  // The client's own mistake says nothing about the account.
  if (outcome.scope === "request") return state;

  const next: CredentialState = {
    ...state,
    error_count: state.error_count + 1,
    last_error_at: now,
    last_error: `${outcome.status} ${outcome.message}`.slice(0, MAX_ERROR_TEXT),
    model_cooldowns: pruneCooldowns(state.model_cooldowns, now),
  };
  if (outcome.reason === "invalid_grant") {
    return { ...next, disabled: true, disabled_reason: "invalid_grant: the refresh token was revoked or expired; log in again" };
  }
  if (outcome.status === 429) {
    next.model_cooldowns[outcome.model] = now + (outcome.retryAfterMs ?? DEFAULT_RATE_LIMIT_COOLDOWN_MS);
  } else if (outcome.status === 403 && outcome.scope === "credential") {
    next.model_cooldowns[ALL_MODELS] = now + PERMISSION_COOLDOWN_MS;
  }
  return next;
}

/** When `model` becomes usable again on this credential (0 = now). */
export function cooldownUntil(state: CredentialState, model: string, now: number): number {
  const until = Math.max(state.model_cooldowns[model] ?? 0, state.model_cooldowns[ALL_MODELS] ?? 0);
  return until > now ? until : 0;
}

export function isUsable(state: CredentialState, model: string, now: number): boolean {
  return !state.disabled && cooldownUntil(state, model, now) === 0;
}

function pruneCooldowns(cooldowns: Record<string, number>, now: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cooldowns).filter(([, until]) => until > now));
}
