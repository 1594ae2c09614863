// OAuth logins started from the admin API, across instances: Google may send the browser back to
// any instance behind the balancer, and the page may ask any of them for the status. Each login is
// a Redis key for its 10 minutes (jellycli:login:<state>; its PKCE verifier sealed with
// encryption_key when one is set), and a SET NX claim keeps it single-use across all instances.
import type { LoginEntry, SharedLogins } from "../pool/login.ts";
import type { Sealer } from "../sealing.ts";
import { PREFIX, type SharedBus } from "./bus.ts";

const KEY = (state: string) => `${PREFIX}login:${state}`;
const CLAIM = (state: string) => `${PREFIX}login-claim:${state}`;

export function sharedLogins(bus: SharedBus, sealer: Sealer, now: () => number = Date.now): SharedLogins {
  return {
    put: (state, entry) => {
      const ttl = entry.expiresAt - now();
      if (ttl > 0) void bus.run((redis) => redis.set(KEY(state), sealer.seal(JSON.stringify(entry)), "PX", String(Math.ceil(ttl))));
    },
    get: async (state) => {
      const text = await bus.run((redis) => redis.get(KEY(state)));
      if (!text) return undefined;
      try {
        return JSON.parse(sealer.open(text)) as LoginEntry;
      } catch {
        return undefined;
      }
    },
    claim: async (state) => {
      const claimed = await bus.run((redis) => redis.set(CLAIM(state), bus.instance, "NX", "PX", "600000"));
      // Redis down: this instance's own single-use check has already passed.
      return claimed !== null;
    },
  };
}
