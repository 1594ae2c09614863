// One timer for every silence watch in the process: keep-alives of open streams and idle deadlines
// of upstream reads. A watch is touched on activity (a property write against a clock the ticker
// keeps, so a busy stream costs nothing per chunk) and fires when it has been silent for its
// interval; the ticker runs only while some watch exists. Precision is one tick.
export const TICK_MS = 250;

const entries = new Set<Entry>();
let clock = performance.now();
let timer: ReturnType<typeof setInterval> | undefined;

function tick(): void {
  clock = performance.now();
  for (const entry of entries) {
    if (!entry.active || clock - entry.last < entry.every) continue;
    entry.last = clock;
    // One watch failing (a socket that just closed) must not stop the others.
    try {
      entry.fire();
    } catch { /* the owner notices on its own path */ }
  }
  if (entries.size === 0) {
    clearInterval(timer);
    timer = undefined;
  }
}

export interface Watch {
  /** Something happened: the silence starts again. */
  touch(): void;
  /** Silence does not count until resume() (e.g. while a slow consumer holds the data). */
  pause(): void;
  resume(): void;
  stop(): void;
}

/** A watch is one object (methods on the prototype, not closures): thousands are open at once. */
class Entry implements Watch {
  last = clock;
  active = true;
  constructor(readonly every: number, readonly fire: () => void) {}

  touch(): void {
    this.last = clock;
  }

  pause(): void {
    this.active = false;
  }

  resume(): void {
    this.last = clock;
    this.active = true;
  }

  stop(): void {
    entries.delete(this);
  }
}

/** Calls `fire` after every `everyMs` of silence (± one tick) until stopped. */
export function watchSilence(everyMs: number, fire: () => void): Watch {
  clock = performance.now();
  const entry = new Entry(everyMs, fire);
  entries.add(entry);
  if (!timer) {
    timer = setInterval(tick, TICK_MS);
    timer.unref?.();
  }
  return entry;
}
