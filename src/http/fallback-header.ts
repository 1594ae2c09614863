import type { Served } from "../executor.ts";

/** Tells the client when `fallback_models` answered with another model than it asked for. */
export function fallbackHeader(served: Served<unknown>): Record<string, string> {
  return served.fallbackModel ? { "x-jellycli-fallback-model": served.fallbackModel } : {};
}
