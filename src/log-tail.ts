// The last request summaries, in memory, for the admin API: a ring of the newest 1,000 with
// increasing cursors (so a poller asks for what came after the last one it saw), and listeners for
// the live SSE tail. Holds what the access log line holds — never a secret.
export interface TailEntry {
  cursor: number;
  at: string;
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
  private readonly entries: TailEntry[] = [];
  private next = 1;
  private readonly listeners = new Set<(entry: TailEntry) => void>();

  constructor(private readonly capacity = 1000) {}

  push(entry: Omit<TailEntry, "cursor">): void {
    const full = { cursor: this.next++, ...entry };
    this.entries.push(full);
    if (this.entries.length > this.capacity) this.entries.shift();
    for (const listener of this.listeners) listener(full);
  }

  /** Entries after `cursor`, oldest first. */
  after(cursor = 0): TailEntry[] {
    return this.entries.filter((entry) => entry.cursor > cursor);
  }

  listen(listener: (entry: TailEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
