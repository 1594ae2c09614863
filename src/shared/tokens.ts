// One token refresh per login across all instances. Before asking Google, an instance looks for a
// token another one got moments ago (jellycli:token:<fingerprint>); else it takes a short lock
// (SET NX, 20 s) and refreshes, and the others wait for its token instead of refreshing too. The
// token is stored sealed with encryption_key when one is set, and only until it expires. Without
// Redis (or when it is down) every instance refreshes on its own, as a single one does.
import type { Credential, FreshToken } from "../pool/credential.ts";
import { EAGER_REFRESH_MS, type RefreshCoordinator } from "../pool/oauth.ts";
import type { Sealer } from "../sealing.ts";
import { PREFIX, type SharedBus } from "./bus.ts";

const LOCK_MS = 20_000;
const WAIT_MS = 15_000;
const POLL_MS = 50;

export class SharedTokens implements RefreshCoordinator {
  constructor(private readonly bus: SharedBus, private readonly sealer: Sealer, private readonly now: () => number = Date.now) {}

  async refresh(credential: Credential, fetchToken: () => Promise<FreshToken>): Promise<FreshToken> {
    // The fingerprint names the login (its refresh token), whatever each instance calls the file.
    const tokenKey = `${PREFIX}token:${credential.fingerprint}`;
    const lockKey = `${PREFIX}refresh-lock:${credential.fingerprint}`;
    const fresh = await this.read(tokenKey, credential);
    if (fresh) return fresh;
    const locked = await this.bus.run((redis) => redis.set(lockKey, this.bus.instance, "NX", "PX", String(LOCK_MS)));
    if (locked === undefined) return fetchToken(); // Redis down: on our own
    if (locked === null) {
      for (const deadline = this.now() + WAIT_MS; this.now() < deadline; await Bun.sleep(POLL_MS)) {
        const theirs = await this.read(tokenKey, credential);
        if (theirs) return theirs;
      }
      return fetchToken(); // the other instance never finished: do it here
    }
    try {
      const token = await fetchToken();
      const lifetime = token.expiresAt - this.now();
      if (lifetime > 0) await this.bus.run((redis) => redis.set(tokenKey, this.sealer.seal(JSON.stringify(token)), "PX", String(Math.round(lifetime))));
      return token;
    } finally {
      void this.bus.run((redis) => redis.del(lockKey));
    }
  }

  /** A token in Redis that is newer than ours and not about to expire. */
  private async read(key: string, credential: Credential): Promise<FreshToken | undefined> {
    const text = await this.bus.run((redis) => redis.get(key));
    if (!text) return undefined;
    try {
      const token = JSON.parse(this.sealer.open(text)) as FreshToken;
      const usable = token.expiresAt - this.now() > EAGER_REFRESH_MS && token.accessToken !== credential.accessToken;
      return usable ? token : undefined;
    } catch {
      return undefined;
    }
  }
}
