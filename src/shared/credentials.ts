// Credential state and rotation across instances. Redis holds each credential's latest state
// (hash jellycli:credentials, one JSON per id: cooldowns with absolute reset times, disabled and
// invalid with reasons, error streaks, counters); every change is also published, so the others
// apply it within milliseconds. The rotation position travels as an event only: the next pick on
// any instance moves on from the last one anywhere. While Redis is down each instance keeps its
// own; what changed meanwhile is pushed when it is back, the rest is pulled.
import type { Pool } from "../pool/pool.ts";
import type { CredentialState } from "../pool/transitions.ts";
import { PREFIX, type SharedBus } from "./bus.ts";

const KEY = `${PREFIX}credentials`;

/** What Redis holds per credential: the state, and when something other than a counter last changed. */
interface Shared {
  state: CredentialState;
  /** Epoch ms; on reconnection the newer decision (a cooldown, a disable) wins over mere counting. */
  decided_at: number;
}

/** The state without its counters: what a "decision" is made of. */
function decision(state: CredentialState): string {
  const { success_count: _s, error_count: _e, last_success_at: _ls, last_error_at: _le, last_error: _l, failure_streak: _f, ...rest } = state;
  return JSON.stringify(rest);
}

export class CredentialSync {
  private readonly pools = new Map<string, Pool<any>>();
  /** Changed here while Redis was down: compared with Redis's on reconnection. */
  private readonly changedWhileDown = new Set<string>();
  /** Per credential: its last decision and when it was made, here or anywhere. */
  private readonly decisions = new Map<string, { decision: string; at: number }>();

  constructor(private readonly bus: SharedBus, private readonly now: () => number = Date.now) {
    bus.on("credential", (event) => {
      const shared = event as unknown as Shared & { id: string };
      const pool = this.poolOf(shared.id);
      if (!pool) return;
      this.decisions.set(shared.id, { decision: decision(shared.state), at: shared.decided_at });
      pool.applyShared(shared.id, shared.state);
    });
    bus.on("rotate", (event) => this.pools.get(String(event.pool))?.applyRotation(String(event.id), Number(event.calls)));
    bus.onUp(() => this.resync());
  }

  /** The PoolOptions hooks for the pool called `name`. */
  hooks(name: string) {
    return {
      onStateShared: (id: string, state: CredentialState) => this.changed(id, state),
      onRotate: (id: string, calls: number) => this.bus.publish({ type: "rotate", pool: name, id, calls }),
    };
  }

  attach(name: string, pool: Pool<any>): void {
    this.pools.set(name, pool);
    // What each credential stands at now is no decision of this instance's: it carries no time.
    for (const member of pool.all()) if (!this.decisions.has(member.id)) this.decisions.set(member.id, { decision: decision(pool.state(member.id)), at: 0 });
  }

  private changed(id: string, state: CredentialState): void {
    const made = decision(state);
    const known = this.decisions.get(id);
    if (known?.decision !== made) this.decisions.set(id, { decision: made, at: this.now() });
    if (!this.bus.up) {
      this.changedWhileDown.add(id);
      return;
    }
    this.push(id, state);
  }

  private shared(id: string, state: CredentialState): Shared {
    return { state, decided_at: this.decisions.get(id)?.at ?? 0 };
  }

  private push(id: string, state: CredentialState): void {
    const shared = this.shared(id, state);
    void this.bus.run((redis) => redis.hset(KEY, id, JSON.stringify(shared)));
    this.bus.publish({ type: "credential", id, ...shared });
  }

  private poolOf(id: string): Pool<any> | undefined {
    for (const pool of this.pools.values()) if (pool.has(id)) return pool;
    return undefined;
  }

  /**
   * On every (re)connection, per credential: Redis's record unless this instance changed it while
   * away with a newer decision, or Redis has none; then ours goes up and out.
   */
  async resync(): Promise<void> {
    const remote = (await this.bus.run((redis) => redis.hgetall(KEY))) ?? {};
    for (const pool of this.pools.values()) {
      for (const member of pool.all()) {
        const text = remote[member.id];
        const theirs = text === undefined ? undefined : (JSON.parse(text) as Shared);
        const ours = this.decisions.get(member.id)?.at ?? 0;
        if (theirs && !(this.changedWhileDown.has(member.id) && ours > theirs.decided_at)) {
          this.decisions.set(member.id, { decision: decision(theirs.state), at: theirs.decided_at });
          pool.applyShared(member.id, theirs.state);
        } else this.push(member.id, pool.state(member.id));
      }
    }
    this.changedWhileDown.clear();
  }
}
