// Probing credentials with a cheap call (token refresh + loadCodeAssist): idle health checks of
// suspected, cooling and invalid credentials while nothing else is happening, and the
// `jellycli check` command, which probes every credential once.
import { GatewayError } from "./hub.ts";
import type { Logger } from "./log.ts";
import { emailOf, type Credential } from "./pool/credential.ts";
import type { TokenSource } from "./pool/oauth.ts";
import type { Pool } from "./pool/pool.ts";
import type { Outcome } from "./pool/transitions.ts";
import { validationError, type CodeAssistUpstream } from "./upstreams/codeassist.ts";

export interface ProbeDeps {
  pool: Pool<Credential>;
  tokens: TokenSource;
  codeAssist: CodeAssistUpstream;
  now: () => number;
}

/** Probes one credential and records what it learned in the pool. */
export async function probeCredential(credential: Credential, deps: ProbeDeps, signal?: AbortSignal): Promise<Outcome> {
  const outcome = await probe(credential, deps, signal);
  deps.pool.report(credential.id, outcome, deps.now());
  if (outcome.kind === "probe_ok" && outcome.project && !deps.pool.projectOf(credential)) deps.pool.setProject(credential.id, outcome.project);
  return outcome;
}

async function probe(credential: Credential, deps: ProbeDeps, signal?: AbortSignal): Promise<Outcome> {
  try {
    const accessToken = await deps.tokens.accessToken(credential);
    const loaded = await deps.codeAssist.loadCodeAssist(accessToken, signal);
    const problem = validationError(loaded);
    if (problem) throw problem;
    const project = typeof loaded.cloudaicompanionProject === "string" ? loaded.cloudaicompanionProject : loaded.cloudaicompanionProject?.id ?? undefined;
    return { kind: "probe_ok", email: emailOf(credential), tier: loaded.paidTier?.id ?? loaded.currentTier?.id ?? undefined, project };
  } catch (error) {
    if (!(error instanceof GatewayError)) return { kind: "probe_failed", message: (error as Error)?.message ?? String(error) };
    // What only a person can fix, or credentials Google refuses, is recorded as such.
    if (error.status === 401 || error.status === 403 || error.reason === "invalid_grant") {
      return {
        kind: "failure", model: "*", status: error.status, scope: "credential", message: error.message,
        code: error.code, reason: error.reason, helpUrl: error.helpUrl,
      };
    }
    return { kind: "probe_failed", message: error.message };
  }
}

export interface HealthCheckerDeps extends ProbeDeps {
  intervalMs: number;
  /** How busy the gateway is: probes run only when nothing is in flight. */
  busy: () => { inFlight: number; lastActivity: number };
  log: Logger;
}

/** Requests must have been quiet this long before a probe may start. */
const QUIET_MS = 2_000;

export class HealthChecker {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastRun = 0;
  private running = false;

  constructor(private readonly deps: HealthCheckerDeps) {}

  start(): void {
    if (this.deps.intervalMs <= 0) return;
    this.lastRun = this.deps.now();
    this.timer = setInterval(() => void this.tick(), Math.min(this.deps.intervalMs, 1_000));
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One round, if it is time and the gateway is idle. Returns how many credentials were probed. */
  async tick(): Promise<number> {
    const now = this.deps.now();
    if (this.running || now - this.lastRun < this.deps.intervalMs || !this.idle(now)) return 0;
    this.running = true;
    this.lastRun = now;
    let probed = 0;
    try {
      for (const credential of this.deps.pool.needingProbe(now)) {
        // Stop as soon as real traffic starts: a probe must never compete with a request.
        if (!this.idle(this.deps.now())) break;
        const outcome = await probeCredential(credential, this.deps);
        probed++;
        this.deps.log.info("health check", { credential: credential.id, result: outcome.kind, status: this.deps.pool.state(credential.id).status });
      }
    } finally {
      this.running = false;
    }
    return probed;
  }

  private idle(now: number): boolean {
    const { inFlight, lastActivity } = this.deps.busy();
    return inFlight === 0 && now - lastActivity >= QUIET_MS;
  }
}
