// Small hooks the pages share: data that refreshes itself, a clock for countdowns, the hash route.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.ts";

export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => Promise<void>;
}

/** GET `path` now and every `intervalMs` while the page is shown (paused in a background tab). */
export function usePoll<T>(path: string | undefined, intervalMs: number): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const current = useRef(path);
  current.current = path;
  const reload = useCallback(async () => {
    if (!path) return;
    try {
      const next = await api<T>(path);
      if (current.current === path) {
        setData(next);
        setError(undefined);
      }
    } catch (caught) {
      if (current.current === path) setError((caught as Error).message);
    }
  }, [path]);
  useEffect(() => {
    void reload();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void reload();
    }, intervalMs);
    return () => clearInterval(timer);
  }, [reload, intervalMs]);
  return { data, error, reload };
}

/** The time, refreshed every `intervalMs`: countdowns and "2 min ago" stay true. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function useHashRoute(fallback: string): string {
  const read = () => location.hash.replace(/^#\/?/, "") || fallback;
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = () => setRoute(read());
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return route;
}
