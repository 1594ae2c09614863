import { Elysia } from "elysia";
import type { Pool } from "../../pool/pool.ts";
import { passwordMatcher, presentedPasswords } from "../auth.ts";

export interface HealthDeps {
  passwords: readonly string[];
  /** With an admin_password, the per-credential details are the administrator's (undefined: no such password). */
  isAdmin?: (request: Request) => boolean;
  /** Every credential pool by backend name ("codeassist", "gemini_api", each OpenAI upstream). */
  pools: readonly { name: string; pool: Pool }[];
  version: string;
  now: () => number;
  /** The admin surface is on here: `/` sends a browser to its page. */
  adminPage?: boolean;
  /** With redis_url: whether Redis is reachable now. */
  redisUp?: () => boolean;
}

/**
 * No password needed: load balancers probe it. Without one it says only the status and the
 * counts; the per-credential details (files, e-mails, projects, last errors) need the admin
 * password when there is one, else the client password, or a gateway that has none (which only
 * listens on loopback).
 */
export function healthRoutes(deps: HealthDeps) {
  const matches = passwordMatcher(deps.passwords);
  return new Elysia({ name: "routes.health" })
    // What this is, for a person who opens the address in a browser: the admin page where there is one.
    .get("/", () => deps.adminPage
      ? new Response(null, { status: 302, headers: { location: "/admin" } })
      : {
        name: "jellycli", version: deps.version,
        endpoints: ["POST /v1/chat/completions", "GET /v1/models", "POST /v1beta/models/{model}:generateContent | :streamGenerateContent | :countTokens", "GET /v1beta/models", "GET /health", "GET /metrics", "/admin/api/…"],
      })
    .get("/health", ({ request }) => {
      const authorised = deps.isAdmin
        ? deps.isAdmin(request)
        : deps.passwords.length === 0 || presentedPasswords(request.headers, new URL(request.url)).some(matches);
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
        ...(deps.redisUp ? { redis: deps.redisUp() ? "up" : "down" } : {}),
        pools: Object.fromEntries(summaries.map(({ name, summary }) => [name, summary])),
        ...(authorised ? { details: deps.pools.flatMap(({ name, pool }) => pool.reports(now).map((report) => ({ pool: name, ...report }))) } : {}),
      };
    });
}
