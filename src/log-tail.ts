// The last request summaries, in memory, for the admin API: a ring of the newest 1,000 with
// increasing cursors (so a poller asks for what came after the last one it saw), and listeners for
// the live SSE tail. Holds what the access log line holds — never a secret.
export interface TailEntry {
  cursor: number;
  /** Epoch ms. */
  at: number;
  method: string;
  path: string;
  status: number;
  model?: string;
  upstream?: string;
  credential?: string;
  ms: number;
  tokens?: number;
}

export class LogTail {
  /** A ring: slot `cursor % capacity` holds entry `cursor` (no shifting on the request path). */
  private readonly ring: (TailEntry | undefined)[];
  private next = 1;
  private readonly listeners = new Set<(entry: TailEntry) => void>();

  constructor(private readonly capacity = 1000) {
    this.ring = new Array(capacity);
  }

  push(entry: Omit<TailEntry, "cursor">): void {
    const full = { cursor: this.next, ...entry };
    this.ring[this.next % this.capacity] = full;
    this.next++;
    if (this.listeners.size > 0) for (const listener of this.listeners) listener(full);
  }

  /** Entries after `cursor`, oldest first. */
  after(cursor = 0): TailEntry[] {
    const entries: TailEntry[] = [];
    for (let at = Math.max(cursor + 1, this.next - this.capacity); at < this.next; at++) entries.push(this.ring[at % this.capacity]!);
    return entries;
  }

  listen(listener: (entry: TailEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
