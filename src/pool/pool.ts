// The credential pool: round-robin over usable credentials, staying on one for
// `callsPerRotation` calls. pick() and report() are synchronous, so rotation counts stay exact
// under any concurrency; persistence is the StateStore's business, off the request path.
import { GatewayError } from "../hub.ts";
import type { Credential } from "./credential.ts";
import { ALL_MODELS, applyOutcome, cooldownUntil, emptyState, isUsable, type CredentialState, type Outcome } from "./transitions.ts";

export interface PoolOptions {
  callsPerRotation: number;
  /** Called after every state change; the store coalesces writes. */
  onChange?: () => void;
}

export interface PoolSummary {
  total: number;
  usable: number;
  disabled: number;
  cooling: number;
}

export class Pool {
  private readonly credentials: Credential[];
  private readonly states: Map<string, CredentialState>;
  private cursor = 0;
  private callsOnCursor = 0;

  constructor(credentials: Credential[], states: Map<string, CredentialState>, private readonly options: PoolOptions) {
    this.credentials = [...credentials].sort((a, b) => a.id.localeCompare(b.id));
    this.states = states;
    for (const credential of this.credentials) {
      if (!this.states.has(credential.id)) this.states.set(credential.id, emptyState());
    }
  }

  get size(): number {
    return this.credentials.length;
  }

  /** The next credential for `model`, skipping unusable ones and those in `exclude`. */
  pick(model: string, now: number, exclude: ReadonlySet<string> = new Set()): Credential | undefined {
    const count = this.credentials.length;
    if (count === 0) return undefined;
    const eligible = (credential: Credential) => !exclude.has(credential.id) && isUsable(this.state(credential.id), model, now);
    const current = this.credentials[this.cursor % count]!;
    if (this.callsOnCursor > 0 && this.callsOnCursor < this.options.callsPerRotation && eligible(current)) {
      this.callsOnCursor++;
      return current;
    }
    // The first pick ever starts at the cursor itself; later ones move past it.
    const start = this.callsOnCursor === 0 ? 0 : 1;
    for (let step = start; step < count + start; step++) {
      const index = (this.cursor + step) % count;
      const candidate = this.credentials[index]!;
      if (eligible(candidate)) {
        this.cursor = index;
        this.callsOnCursor = 1;
        return candidate;
      }
    }
    return undefined;
  }

  report(id: string, outcome: Outcome, now: number): void {
    const before = this.state(id);
    const after = applyOutcome(before, outcome, now);
    if (after === before) return;
    this.states.set(id, after);
    this.options.onChange?.();
  }

  projectOf(credential: Credential): string | undefined {
    return credential.projectId ?? this.state(credential.id).project_id;
  }

  setProject(id: string, projectId: string): void {
    const state = this.state(id);
    if (state.project_id === projectId) return;
    this.states.set(id, { ...state, project_id: projectId });
    this.options.onChange?.();
  }

  state(id: string): CredentialState {
    return this.states.get(id) ?? emptyState();
  }

  /** All states, including those of files no longer present, so a write keeps them. */
  snapshot(): Map<string, CredentialState> {
    return this.states;
  }

  /** `cooling` counts credentials with any model cooling; `usable` those that can serve some model now. */
  summary(now: number): PoolSummary {
    const summary: PoolSummary = { total: this.credentials.length, usable: 0, disabled: 0, cooling: 0 };
    for (const credential of this.credentials) {
      const state = this.state(credential.id);
      if (state.disabled) {
        summary.disabled++;
        continue;
      }
      if (Object.values(state.model_cooldowns).some((until) => until > now)) summary.cooling++;
      if (cooldownUntil(state, ALL_MODELS, now) === 0) summary.usable++;
    }
    return summary;
  }

  /** Why nothing can serve `model` right now, as the error the client should see. */
  unavailableError(model: string, now: number): GatewayError {
    if (this.credentials.length === 0) {
      return new GatewayError({
        status: 503, code: "no_credentials", scope: "transient", retryable: false,
        message: "No credentials are loaded. Put Google OAuth credential files (*.json: jellycli's format or Gemini CLI's oauth_creds.json) in the credentials directory and restart jellycli.",
      });
    }
    const live = this.credentials.filter((credential) => !this.state(credential.id).disabled);
    if (live.length === 0) {
      const reasons = [...new Set(this.credentials.map((credential) => this.state(credential.id).disabled_reason ?? "disabled"))];
      return new GatewayError({
        status: 503, code: "all_credentials_disabled", scope: "transient", retryable: false,
        message: `All ${this.credentials.length} credentials are disabled (${reasons.join("; ")}). Add a working credential file, or fix the account and set disabled = false in the state file.`,
      });
    }
    const earliest = Math.min(...live.map((credential) => cooldownUntil(this.state(credential.id), model, now)).filter((until) => until > 0));
    if (Number.isFinite(earliest)) {
      const seconds = Math.max(1, Math.ceil((earliest - now) / 1000));
      return new GatewayError({
        status: 429, code: "rate_limit_exceeded", scope: "transient", retryable: false, retryAfterMs: seconds * 1000,
        message: `Every credential is cooling down for ${model}; the earliest is usable again in ${seconds} s (${new Date(earliest).toISOString()}).`,
      });
    }
    return new GatewayError({
      status: 503, code: "no_usable_credentials", scope: "transient", retryable: false,
      message: `No credential could serve ${model} after retries; see the state file for each credential's last error.`,
    });
  }
}
