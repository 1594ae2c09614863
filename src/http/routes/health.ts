import { Elysia } from "elysia";
import type { Pool } from "../../pool/pool.ts";

export interface HealthDeps {
  pool: Pool;
  version: string;
  now: () => number;
}

/** No auth and no secrets: load balancers and people probe it. */
export function healthRoutes(deps: HealthDeps) {
  return new Elysia({ name: "routes.health" })
    .get("/health", () => {
      const now = deps.now();
      const credentials = deps.pool.summary(now);
      return { status: credentials.usable > 0 ? "ok" : "degraded", version: deps.version, credentials, details: deps.pool.reports(now) };
    });
}
