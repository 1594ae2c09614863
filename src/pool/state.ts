// creds_state.toml: per-credential counters and state, keyed by credential file name. Loaded once
// at start; saved off the request path — a change only marks the store dirty, and a timer writes
// at most every `flushIntervalMs` (atomically: temp file, fsync, rename). flush() on shutdown.
import { readFile, rename } from "node:fs/promises";
import { parse, stringify } from "smol-toml";
import { writeFileAtomic } from "./credential.ts";
import { emptyState, isBlocked, withoutUndefined, type CredentialState, type CredentialStatus } from "./transitions.ts";

const HEADER =
  "# creds_state.toml — written by jellycli. Safe to edit while jellycli is stopped\n" +
  "# (set disabled = false after fixing an account); safe to delete (counters and cooldowns reset).\n\n";

export interface StateStoreOptions {
  flushIntervalMs: number;
  /** Never write (`jellycli check`: the file belongs to the server that may be running). */
  readOnly?: boolean;
  onError?: (error: Error) => void;
  onWarning?: (message: string) => void;
}

export class StateStore {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private snapshot: () => Map<string, CredentialState> = () => new Map();

  constructor(readonly path: string, private readonly options: StateStoreOptions) {}

  async load(): Promise<Map<string, CredentialState>> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw error;
    }
    try {
      return decodeState(parse(text));
    } catch (error) {
      // Keep the operator's file for inspection rather than overwrite it on the next flush.
      const aside = `${this.path}.unreadable-${Date.now()}`;
      await rename(this.path, aside).catch(() => {});
      this.options.onWarning?.(`${this.path} could not be parsed (${(error as Error).message}); moved to ${aside}, starting fresh`);
      return new Map();
    }
  }

  /** Tells the store where to read the current states from when it writes. */
  attach(snapshot: () => Map<string, CredentialState>): void {
    this.snapshot = snapshot;
  }

  markDirty(): void {
    if (this.timer || this.options.readOnly) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch((error: Error) => this.options.onError?.(error));
    }, this.options.flushIntervalMs);
    this.timer.unref?.();
  }

  /** Writes now; successive flushes are serialised so an older snapshot never lands last. */
  flush(): Promise<void> {
    if (this.options.readOnly) return Promise.resolve();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const next = this.writing.then(() => writeFileAtomic(this.path, HEADER + encodeState(this.snapshot()), 0o600));
    this.writing = next.catch(() => {});
    return next;
  }
}

export function encodeState(states: Map<string, CredentialState>, now = Date.now()): string {
  const credentials: Record<string, unknown> = {};
  for (const [id, state] of [...states].sort(([a], [b]) => a.localeCompare(b))) {
    const entry: Record<string, unknown> = {
      status: state.status,
      // Kept beside status for people: set it to false (while jellycli is stopped) to re-enable.
      disabled: isBlocked(state),
      success_count: state.success_count,
      error_count: state.error_count,
      failure_streak: state.failure_streak,
    };
    if (state.last_success_at !== undefined) entry.last_success_at = new Date(state.last_success_at);
    if (state.last_error_at !== undefined) entry.last_error_at = new Date(state.last_error_at);
    if (state.rest_until !== undefined && state.rest_until > now) entry.rest_until = new Date(state.rest_until);
    if (state.paused_until !== undefined && state.paused_until > now) entry.paused_until = new Date(state.paused_until);
    for (const key of ["last_error", "disabled_reason", "disabled_url", "token_fingerprint", "project_id", "email", "tier"] as const) {
      if (state[key] !== undefined) entry[key] = state[key];
    }
    const cooldowns = Object.entries(state.model_cooldowns).filter(([, until]) => until > now);
    if (cooldowns.length > 0) entry.model_cooldowns = Object.fromEntries(cooldowns.map(([model, until]) => [model, new Date(until)]));
    credentials[id] = entry;
  }
  return stringify({ version: 1, credentials });
}

const STATUSES: CredentialStatus[] = ["active", "suspected", "disabled", "invalid"];

export function decodeState(document: Record<string, unknown>): Map<string, CredentialState> {
  const states = new Map<string, CredentialState>();
  const credentials = document.credentials;
  if (credentials === undefined) return states;
  if (typeof credentials !== "object" || credentials === null) throw new Error('"credentials" must be a table');
  for (const [id, value] of Object.entries(credentials as Record<string, unknown>)) {
    if (typeof value !== "object" || value === null) continue;
    const entry = value as Record<string, unknown>;
    const state = emptyState();
    const written = STATUSES.find((status) => status === entry.status) ?? "active";
    // `disabled` is what a person edits: it wins when the two disagree.
    const blocked = typeof entry.disabled === "boolean" ? entry.disabled : written === "disabled" || written === "invalid";
    state.status = blocked ? (written === "invalid" ? "invalid" : "disabled") : written === "suspected" ? "suspected" : "active";
    state.success_count = count(entry.success_count);
    state.error_count = count(entry.error_count);
    state.failure_streak = count(entry.failure_streak);
    state.last_success_at = time(entry.last_success_at);
    state.last_error_at = time(entry.last_error_at);
    state.last_error = text(entry.last_error);
    if (blocked) {
      state.disabled_reason = text(entry.disabled_reason) ?? "disabled by hand in the state file";
      state.disabled_url = text(entry.disabled_url);
    }
    state.rest_until = time(entry.rest_until);
    state.paused_until = time(entry.paused_until);
    state.token_fingerprint = text(entry.token_fingerprint);
    state.project_id = text(entry.project_id);
    state.email = text(entry.email);
    state.tier = text(entry.tier);
    if (typeof entry.model_cooldowns === "object" && entry.model_cooldowns !== null) {
      for (const [model, until] of Object.entries(entry.model_cooldowns)) {
        const at = time(until);
        // "*" was how earlier versions wrote an all-models pause.
        if (at !== undefined && model === "*") state.paused_until = at;
        else if (at !== undefined) Object.defineProperty(state.model_cooldowns, model, { value: at, enumerable: true, writable: true, configurable: true });
      }
    }
    states.set(id, withoutUndefined(state));
  }
  return states;
}

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0);
const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
function time(value: unknown): number | undefined {
  const ms = value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}
