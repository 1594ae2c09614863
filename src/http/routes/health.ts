import { Elysia } from "elysia";
import type { Pool } from "../../pool/pool.ts";

export interface HealthDeps {
  /** Every credential pool by backend name ("codeassist", "gemini_api", each OpenAI upstream). */
  pools: readonly { name: string; pool: Pool }[];
  version: string;
  now: () => number;
}

/** No auth and no secrets: load balancers and people probe it. */
export function healthRoutes(deps: HealthDeps) {
  return new Elysia({ name: "routes.health" })
    .get("/health", () => {
      const now = deps.now();
      const summaries = deps.pools.map(({ name, pool }) => ({ name, summary: pool.summary(now) }));
      const credentials = summaries.reduce((total, { summary }) => {
        for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += summary[key];
        return total;
      }, { total: 0, usable: 0, active: 0, suspected: 0, cooling: 0, disabled: 0, invalid: 0 });
      return {
        status: credentials.usable > 0 ? "ok" : "degraded",
        version: deps.version,
        credentials,
        pools: Object.fromEntries(summaries.map(({ name, summary }) => [name, summary])),
        details: deps.pools.flatMap(({ name, pool }) => pool.reports(now).map((report) => ({ pool: name, ...report }))),
      };
    });
}
