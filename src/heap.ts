// Full collections while many streams are open. JavaScriptCore's collector is generational: it
// collects young objects often and the old generation only once the whole heap has grown a lot
// since the last full collection. An open stream defeats that bet: each event leaves objects (its
// pending reads and promises) that live long enough to be promoted, then die; and every open
// request reports its native buffers to the collector, so the heap looks large and full
// collections come late. With 5,000 streams open that garbage was a third of the process's memory
// (`bun run bench --streams 5000`: 390 MiB peak; a full collection every 3 s kept it at 262).
// So while many streams are open, the whole heap is collected on a schedule that keeps the
// collector's share of the time small; with few streams the collector's own schedule stands.

export interface HeapHygieneOptions {
  openStreams: () => number;
  /** Below this many open streams nothing is forced. */
  minStreams?: number;
  /** At most this share of the time goes to forced collections (a 70 ms pause: one per 2.3 s). */
  maxShare?: number;
  /** And never more often than this. */
  minIntervalMs?: number;
  /** How often the condition is looked at. */
  checkEveryMs?: number;
  collect?: () => void;
  /** Told about each forced collection (debug log). */
  onCollect?: (pauseMs: number, openStreams: number) => void;
}

export const HEAP_DEFAULTS = { minStreams: 256, maxShare: 0.03, minIntervalMs: 2_000, checkEveryMs: 1_000 };

export interface LastCollection {
  at: number;
  pauseMs: number;
}

/** PURE: whether a forced full collection is due now. */
export function collectionDue(now: number, last: LastCollection, openStreams: number, options: { minStreams: number; maxShare: number; minIntervalMs: number }): boolean {
  if (openStreams < options.minStreams) return false;
  return now - last.at >= Math.max(options.minIntervalMs, last.pauseMs / options.maxShare);
}

export function startHeapHygiene(options: HeapHygieneOptions): { stop(): void } {
  const settings = {
    minStreams: options.minStreams ?? HEAP_DEFAULTS.minStreams,
    maxShare: options.maxShare ?? HEAP_DEFAULTS.maxShare,
    minIntervalMs: options.minIntervalMs ?? HEAP_DEFAULTS.minIntervalMs,
  };
  const now = () => performance.now();
  const collect = options.collect ?? (() => Bun.gc(true));
  const last: LastCollection = { at: now(), pauseMs: 0 };
  const timer = setInterval(() => {
    const open = options.openStreams();
    if (!collectionDue(now(), last, open, settings)) return;
    const started = now();
    collect();
    last.pauseMs = now() - started;
    last.at = now();
    options.onCollect?.(last.pauseMs, open);
  }, options.checkEveryMs ?? HEAP_DEFAULTS.checkEveryMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
