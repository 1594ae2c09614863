// Probing credentials with a cheap call (Code Assist: token refresh + loadCodeAssist; API keys: a
// model list): idle health checks of suspected, cooling and invalid credentials while nothing else
// is happening, and the `jellycli check` command, which probes every credential once.
import type { Backend } from "./backends.ts";
import { GatewayError } from "./hub.ts";
import type { Logger } from "./log.ts";
import type { PoolMember } from "./pool/pool.ts";
import { outcomeOf, type Outcome } from "./pool/transitions.ts";

/** Probes one credential of `backend` and records what it learned in its pool. */
export async function probeCredential(backend: Backend, member: PoolMember, now: () => number, signal?: AbortSignal): Promise<Outcome> {
  const outcome = await probe(backend, member, signal);
  backend.pool.report(member.id, outcome, now());
  return outcome;
}

async function probe(backend: Backend, member: PoolMember, signal?: AbortSignal): Promise<Outcome> {
  try {
    return { kind: "probe_ok", ...(await backend.probe(member, signal)) };
  } catch (error) {
    if (!(error instanceof GatewayError)) return { kind: "probe_failed", message: (error as Error)?.message ?? String(error) };
    // What only a person can fix, or credentials the upstream refuses, is recorded as such;
    // anything else (a network error, a 5xx, a rate limit) only makes the credential suspected.
    if (error.kind === "auth" || error.kind === "needs_person" || error.kind === "permission") return outcomeOf(error, "");
    return { kind: "probe_failed", message: error.message };
  }
}

export interface HealthCheckerDeps {
  backends: readonly Backend[];
  intervalMs: number;
  /** How busy the gateway is: probes run only when nothing is in flight. */
  busy: () => { inFlight: number; lastActivity: number };
  log: Logger;
  now: () => number;
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
      for (const backend of this.deps.backends) {
        for (const member of backend.pool.needingProbe(now)) {
          // Stop as soon as real traffic starts: a probe must never compete with a request.
          if (!this.idle(this.deps.now())) return probed;
          const outcome = await probeCredential(backend, member, this.deps.now);
          probed++;
          this.deps.log.info("health check", { pool: backend.name, credential: member.id, result: outcome.kind, status: backend.pool.state(member.id).status });
        }
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
