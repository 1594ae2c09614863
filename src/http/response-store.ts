// Responses kept for previous_response_id, item_reference and GET /v1/responses/{id}: in memory,
// each for responses_ttl_s, at most MAX_ENTRIES and MAX_BYTES in all (the oldest go first). A
// response with store: false is never kept. Lost on restart, like any cache; the client then gets
// previous_response_not_found and can resend its history.
import type { Item, Json } from "../formats/responses/request.ts";

const MAX_ENTRIES = 2_000;
const MAX_BYTES = 64 * 1024 * 1024;

export interface StoredResponse {
  /** Who made it: a client key's id, or "" for the password / an open gateway. Only they may read it. */
  owner: string;
  response: Json;
  /** The whole conversation up to and including this response's output, in item form. */
  items: Item[];
}

interface Entry extends StoredResponse {
  expiresAt: number;
  bytes: number;
}

/** Several instances (shared/responses.ts): answers kept in Redis too, so any instance finds them. */
export interface SharedResponses {
  /** `text`: the stored answer as JSON, serialised once by the store. */
  put(id: string, text: string, ttlMs: number): void;
  get(id: string): Promise<StoredResponse | undefined>;
  delete(id: string): Promise<boolean>;
}

export class ResponseStore {
  shared: SharedResponses | undefined;

  private readonly entries = new Map<string, Entry>();
  private readonly itemsById = new Map<string, { item: Item; response: string }>();
  private bytes = 0;

  constructor(private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  put(id: string, stored: StoredResponse): void {
    const text = JSON.stringify(stored);
    this.shared?.put(id, text, this.ttlMs);
    this.forget(id);
    const bytes = text.length;
    if (bytes > MAX_BYTES) return;
    this.entries.set(id, { ...stored, bytes, expiresAt: this.now() + this.ttlMs });
    this.bytes += bytes;
    for (const item of stored.items) if (typeof item.id === "string") this.itemsById.set(item.id, { item, response: id });
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= MAX_ENTRIES && this.bytes <= MAX_BYTES && entry.expiresAt > this.now()) break;
      this.forget(oldest);
    }
  }

  /** Kept here, or (with Redis) by any instance. */
  async get(id: string): Promise<StoredResponse | undefined> {
    return this.local(id) ?? (await this.shared?.get(id));
  }

  private local(id: string): StoredResponse | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.forget(id);
      return undefined;
    }
    return entry;
  }

  item(id: string): Item | undefined {
    const found = this.itemsById.get(id);
    return found && this.local(found.response) ? found.item : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const here = this.forget(id);
    const there = (await this.shared?.delete(id)) ?? false;
    return here || there;
  }

  private forget(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.bytes -= entry.bytes;
    for (const item of entry.items) if (typeof item.id === "string" && this.itemsById.get(item.id)?.response === id) this.itemsById.delete(item.id);
    return true;
  }
}
