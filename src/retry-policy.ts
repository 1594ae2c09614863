// PURE: what the executor does after an upstream call failed — the whole retry policy in one
// function, table-tested with real Google and OpenAI error bodies. The pool's side of the same
// error (cooldowns, invalid, disabled) is pool/transitions.ts; this file only picks the next move.
import type { GatewayError } from "./hub.ts";

export type Decision =
  /** Try the same credential again: after re-authenticating (a 401 with a refreshable token). */
  | { action: "retry_same"; reauth: true; pauseMs: 0 }
  /**
   * Move on to the next credential of this backend (then the next backend), after `pauseMs`. When
   * every credential has been tried, one the pool still finds usable may serve again.
   */
  | { action: "next_credential"; pauseMs: number }
  /** This backend cannot serve the request at all (e.g. it does not know the model). */
  | { action: "next_backend" }
  /** The error is the answer. */
  | { action: "give_up" };

export interface AttemptState {
  /** Upstream calls made so far for this request, this one included (1 = the first). */
  calls: number;
  /** Extra calls allowed after the first (`max_retries`). */
  maxRetries: number;
  /** Whether this credential can get a fresh token, and has not had one yet in this request. */
  canReauth: boolean;
  /** The client went away: nothing more is worth doing. */
  clientGone: boolean;
}

/**
 * A model out of capacity is busy for everyone, so a short pause helps more than the next account
 * at once — but never a long one (codeassist-protocol §9.3 pauses 1 s, then 3 s): the client is
 * waiting, and another account or backend may well have room.
 */
export const MAX_CAPACITY_PAUSE_MS = 2_000;
export const capacityPauseMs = (calls: number, retryAfterMs?: number) => Math.min(MAX_CAPACITY_PAUSE_MS, retryAfterMs ?? 500 * 2 ** (calls - 1));

export function decide(error: GatewayError, attempt: AttemptState): Decision {
  if (attempt.clientGone) return { action: "give_up" };
  // Google answers 401 when an access token expired early; one refresh settles it.
  if (error.kind === "auth" && error.status === 401 && attempt.canReauth) return { action: "retry_same", reauth: true, pauseMs: 0 };
  if (error.kind === "request") {
    // Another backend may know a model this one does not; anything else is the client's to fix.
    return error.status === 404 && error.code === "model_not_found" ? { action: "next_backend" } : { action: "give_up" };
  }
  if (attempt.calls > attempt.maxRetries) return { action: "give_up" };
  if (error.kind === "capacity") return { action: "next_credential", pauseMs: capacityPauseMs(attempt.calls, error.retryAfterMs) };
  // Everything else: the pool has recorded why (a cooldown, a rest, invalid, disabled), so the
  // next pick already avoids or deprioritises this credential; try it at once.
  return { action: "next_credential", pauseMs: 0 };
}
