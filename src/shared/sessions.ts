// Admin sessions across instances: a login on one instance is a login on all (the page behind a
// load balancer may reach any of them), a logout ends it everywhere. Only the SHA-256 of a session
// travels and is stored (hash jellycli:admin_sessions), never the cookie.
import type { AdminAuth } from "../http/routes/admin.ts";
import { PREFIX, type SharedBus } from "./bus.ts";

const KEY = `${PREFIX}admin_sessions`;

export function shareAdminSessions(bus: SharedBus, auth: AdminAuth, now: () => number = Date.now): void {
  auth.onSession = (hash, expiresAt) => {
    void bus.run((redis) => (expiresAt === null ? redis.hdel(KEY, hash) : redis.hset(KEY, hash, String(expiresAt))));
    bus.publish({ type: "admin-session", hash, expiresAt });
  };
  bus.on("admin-session", (event) => {
    if (event.expiresAt === null) auth.sessions.delete(String(event.hash));
    else auth.sessions.set(String(event.hash), Number(event.expiresAt));
  });
  bus.onUp(async () => {
    for (const [hash, expiresAt] of Object.entries((await bus.run((redis) => redis.hgetall(KEY))) ?? {})) {
      if (Number(expiresAt) > now()) auth.sessions.set(hash, Number(expiresAt));
      else void bus.run((redis) => redis.hdel(KEY, hash));
    }
  });
}
