// The credential pool: round-robin over usable credentials, staying on one for
// `callsPerRotation` calls. pick() and report() are synchronous, so rotation counts stay exact
// under any concurrency; persistence is the StateStore's business, off the request path.
import { GatewayError } from "../hub.ts";
/** Anything the pool rotates: an OAuth credential file or an API key. */
export interface PoolMember {
  /** Stable and not secret: the file name, or a key's short fingerprint. Keys the state file. */
  readonly id: string;
  readonly projectId?: string;
  /** A short hash of what makes this credential (its refresh token): a new login is a new credential. */
  readonly fingerprint?: string;
}
import {
  applyOutcome, cooldownUntil, emptyState, isBlocked, isUsable, nextReset, restUntil, withoutUndefined,
  type CredentialState, type CredentialStatus, type Outcome,
} from "./transitions.ts";

export interface PoolOptions {
  callsPerRotation: number;
  /** Called after every state change; the store coalesces writes. */
  onChange?: () => void;
  /** Called when a credential's status changes (active, suspected, disabled, invalid). */
  onStatusChange?: (id: string, before: CredentialState, after: CredentialState) => void;
  /** Several instances (shared/sync.ts): told each state this instance changed, and where rotation stands. */
  onStateShared?: (id: string, state: CredentialState) => void;
  onRotate?: (currentId: string, callsOnCurrent: number) => void;
}

export interface PoolSummary {
  total: number;
  /** Can serve some model right now. */
  usable: number;
  active: number;
  suspected: number;
  /** Has at least one model cooling down. */
  cooling: number;
  disabled: number;
  invalid: number;
}

/** What /health and `jellycli check` show per credential: never a token. */
export interface CredentialReport {
  file: string;
  status: CredentialStatus;
  cooling: Record<string, string>;
  next_reset?: string;
  /** Resting after transient failures until then (still used when nothing else can serve). */
  resting_until?: string;
  reason?: string;
  url?: string;
  project?: string;
  email?: string;
  tier?: string;
  last_error?: string;
  success_count: number;
  error_count: number;
}

export class Pool<T extends PoolMember = PoolMember> {
  private credentials: T[];
  private readonly states: Map<string, CredentialState>;
  private cursor = 0;
  private callsOnCursor = 0;

  constructor(credentials: T[], states: Map<string, CredentialState>, private readonly options: PoolOptions) {
    this.credentials = sortById(credentials);
    this.states = states;
    this.adopt();
  }

  /**
   * Gives every credential a state. A file that now holds another login (its refresh token changed,
   * while jellycli ran or while it was stopped) starts clean: the old errors were another token's.
   */
  private adopt(): void {
    for (const credential of this.credentials) {
      const state = this.states.get(credential.id);
      if (state && (!credential.fingerprint || state.token_fingerprint === credential.fingerprint)) continue;
      const fresh = !state || (state.token_fingerprint !== undefined && state.token_fingerprint !== credential.fingerprint);
      this.states.set(credential.id, withoutUndefined({ ...(fresh ? emptyState() : state!), token_fingerprint: credential.fingerprint }));
      if (state) this.options.onChange?.();
    }
  }

  all(): readonly T[] {
    return this.credentials;
  }

  /** Hot reload: the new set of files. State stays keyed by file name; rotation keeps its place. */
  replaceCredentials(credentials: T[]): void {
    const current = this.credentials[this.cursor % Math.max(1, this.credentials.length)]?.id;
    this.credentials = sortById(credentials);
    this.adopt();
    const index = this.credentials.findIndex((credential) => credential.id === current);
    this.cursor = Math.max(0, index);
    if (index < 0) this.callsOnCursor = 0;
  }

  /**
   * The next credential for `model`, skipping unusable ones and those in `exclude`. Credentials
   * resting after transient failures come last: when only resting ones are left, the one whose
   * rest ends first serves rather than nobody.
   */
  pick(model: string, now: number, exclude: ReadonlySet<string> = new Set()): T | undefined {
    const count = this.credentials.length;
    if (count === 0) return undefined;
    const eligible = (credential: T) => !exclude.has(credential.id) && isUsable(this.state(credential.id), model, now);
    const rested = (credential: T) => eligible(credential) && restUntil(this.state(credential.id), now) === 0;
    const current = this.credentials[this.cursor % count]!;
    if (this.callsOnCursor > 0 && this.callsOnCursor < this.options.callsPerRotation && rested(current)) {
      this.callsOnCursor++;
      this.options.onRotate?.(current.id, this.callsOnCursor);
      return current;
    }
    // The first pick ever starts at the cursor itself; later ones move past it.
    const start = this.callsOnCursor === 0 ? 0 : 1;
    for (let step = start; step < count + start; step++) {
      const index = (this.cursor + step) % count;
      const candidate = this.credentials[index]!;
      if (rested(candidate)) {
        this.cursor = index;
        this.callsOnCursor = 1;
        this.options.onRotate?.(candidate.id, 1);
        return candidate;
      }
    }
    let soonest: T | undefined;
    for (const candidate of this.credentials) {
      if (eligible(candidate) && (!soonest || restUntil(this.state(candidate.id), now) < restUntil(this.state(soonest.id), now))) soonest = candidate;
    }
    return soonest;
  }

  /** Whether some credential could serve `model` now (for fallback decisions). */
  canServe(model: string, now: number): boolean {
    return this.credentials.some((credential) => isUsable(this.state(credential.id), model, now));
  }

  report(id: string, outcome: Outcome, now: number): void {
    const before = this.state(id);
    const after = applyOutcome(before, outcome, now);
    if (after === before) return;
    this.states.set(id, after);
    this.options.onChange?.();
    this.options.onStateShared?.(id, after);
    if (after.status !== before.status) this.options.onStatusChange?.(id, before, after);
  }

  /** Another instance's change to a credential's state: taken as it is, not told again. */
  applyShared(id: string, state: CredentialState): void {
    const before = this.state(id);
    this.states.set(id, state);
    this.options.onChange?.();
    if (state.status !== before.status) this.options.onStatusChange?.(id, before, state);
  }

  /** Where another instance's rotation stands: the next pick here moves on from there. */
  applyRotation(currentId: string, callsOnCurrent: number): void {
    const index = this.credentials.findIndex((credential) => credential.id === currentId);
    if (index < 0) return;
    this.cursor = index;
    this.callsOnCursor = callsOnCurrent;
  }

  projectOf(credential: T): string | undefined {
    return credential.projectId ?? this.state(credential.id).project_id;
  }

  setProject(id: string, projectId: string): void {
    const state = this.state(id);
    if (state.project_id === projectId) return;
    const next = { ...state, project_id: projectId };
    this.states.set(id, next);
    this.options.onChange?.();
    this.options.onStateShared?.(id, next);
  }

  state(id: string): CredentialState {
    return this.states.get(id) ?? emptyState();
  }

  has(id: string): boolean {
    return this.credentials.some((credential) => credential.id === id);
  }

  /** Ts an idle health check should look at: suspected, cooling or invalid. */
  needingProbe(now: number): T[] {
    return this.credentials.filter((credential) => {
      const state = this.state(credential.id);
      return state.status === "suspected" || state.status === "invalid" || (state.status === "active" && nextReset(state, now) !== undefined);
    });
  }

  summary(now: number): PoolSummary {
    const summary: PoolSummary = { total: this.credentials.length, usable: 0, active: 0, suspected: 0, cooling: 0, disabled: 0, invalid: 0 };
    for (const credential of this.credentials) {
      const state = this.state(credential.id);
      summary[state.status]++;
      if (isBlocked(state)) continue;
      if (nextReset(state, now) !== undefined) summary.cooling++;
      if ((state.paused_until ?? 0) <= now) summary.usable++;
    }
    return summary;
  }

  reports(now: number): CredentialReport[] {
    return this.credentials.map((credential) => {
      const state = this.state(credential.id);
      const cooling = Object.fromEntries(Object.entries(state.model_cooldowns).filter(([, until]) => until > now).map(([model, until]) => [model, new Date(until).toISOString()]));
      if ((state.paused_until ?? 0) > now) cooling["all models"] = new Date(state.paused_until!).toISOString();
      const reset = nextReset(state, now);
      const resting = restUntil(state, now);
      const report: CredentialReport = {
        file: credential.id, status: state.status, cooling,
        next_reset: reset ? new Date(reset).toISOString() : undefined,
        resting_until: resting ? new Date(resting).toISOString() : undefined,
        reason: state.disabled_reason, url: state.disabled_url,
        project: this.projectOf(credential), email: state.email, tier: state.tier,
        last_error: state.last_error, success_count: state.success_count, error_count: state.error_count,
      };
      return Object.fromEntries(Object.entries(report).filter(([, value]) => value !== undefined)) as CredentialReport;
    });
  }

  /** Why nothing can serve `model` right now, as the error the client should see. */
  unavailableError(model: string, now: number): GatewayError {
    if (this.credentials.length === 0) {
      return new GatewayError({
        status: 503, code: "no_credentials",
        message: "No credentials are loaded. Put Google OAuth credential files (*.json: jellycli's format or Gemini CLI's oauth_creds.json) in the credentials directory; jellycli picks them up within a few seconds.",
      });
    }
    const live = this.credentials.filter((credential) => !isBlocked(this.state(credential.id)));
    if (live.length === 0) {
      const reasons = this.credentials.map((credential) => {
        const state = this.state(credential.id);
        return `${credential.id}: ${state.status}, ${state.disabled_reason ?? "no reason recorded"}${state.disabled_url ? ` (${state.disabled_url})` : ""}`;
      });
      return new GatewayError({
        status: 503, code: "all_credentials_disabled",
        message: `No usable credential: ${reasons.join("; ")}. Fix the accounts, then set disabled = false in the state file (or replace the credential files).`,
      });
    }
    const earliest = Math.min(...live.map((credential) => cooldownUntil(this.state(credential.id), model, now)).filter((until) => until > 0));
    if (Number.isFinite(earliest)) {
      const seconds = Math.max(1, Math.ceil((earliest - now) / 1000));
      return new GatewayError({
        status: 429, code: "rate_limit_exceeded", retryAfterMs: seconds * 1000,
        message: `Every credential is cooling down for ${model}; the earliest is usable again in ${seconds} s (${new Date(earliest).toISOString()}).`,
      });
    }
    return new GatewayError({
      status: 503, code: "no_usable_credentials",
      message: `No credential could serve ${model} after retries; see /health for each credential's last error.`,
    });
  }
}

function sortById<T extends PoolMember>(credentials: T[]): T[] {
  return [...credentials].sort((a, b) => a.id.localeCompare(b.id));
}
