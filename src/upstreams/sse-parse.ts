// Bytes → server-sent events. Decodes UTF-8 across chunk boundaries and accepts \n, \r\n and \r
// line endings split anywhere; an event ends at a blank line (one left open at EOF is still
// delivered, since an upstream that drops the final blank line has still said what it said).
// An event larger than MAX_EVENT_BYTES ends the stream with an error instead of filling memory.
import { GatewayError } from "../hub.ts";

export interface SSEEvent {
  event?: string;
  data: string;
}

/** One event (its data lines, or a line still waiting for its end) larger than this is not an answer. */
export const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/** Shared by every stream: lastIndex is set right before each exec, with no await in between. */
const LINE_END = /\r\n|\r|\n/g;

/**
 * The parser's state for one stream, fed chunk by chunk: each push returns the events it
 * completed. A plain object rather than a generator, so the stream reader above it needs no
 * extra layer of async iteration per stream.
 */
export class SSEDecoder {
  private readonly decoder = new TextDecoder();
  private buffer = "";
  private data: string[] = [];
  private dataSize = 0;
  private event: string | undefined;
  // How much of `buffer` is known to hold no line end: a long line arriving in many chunks is
  // searched once, not once per chunk.
  private checked = 0;
  // Most upstreams end lines with \n alone: until a \r shows up, a plain indexOf finds them.
  private sawCR = false;

  constructor(private readonly maxEventBytes = MAX_EVENT_BYTES) {}

  push(chunk: Uint8Array): SSEEvent[] {
    const text = this.decoder.decode(chunk, { stream: true });
    if (!this.sawCR && text.includes("\r")) this.sawCR = true;
    this.buffer += text;
    const events = this.takeLines(false);
    // A line that never ends must not grow without bound either.
    if (this.buffer.length + this.dataSize > this.maxEventBytes) throw this.tooLarge();
    return events;
  }

  /** The end of the stream: what is still open is delivered as it is. */
  finish(): SSEEvent[] {
    this.buffer += this.decoder.decode();
    if (this.buffer.includes("\r")) this.sawCR = true;
    const events = this.takeLines(true);
    if (this.buffer.startsWith("data:")) this.data.push(this.buffer.slice(this.buffer[5] === " " ? 6 : 5));
    if (this.data.length > 0) events.push({ event: this.event, data: this.data.join("\n") });
    return events;
  }

  private tooLarge(): GatewayError {
    return new GatewayError({ status: 502, code: "bad_upstream_response", kind: "transient", message: `the upstream sent a stream event larger than ${this.maxEventBytes} bytes` });
  }

  /** The events completed by what `buffer` holds now (a plain array: no iterator per chunk). */
  private takeLines(final: boolean): SSEEvent[] {
    const events: SSEEvent[] = [];
    const buffer = this.buffer;
    let start = 0;
    for (;;) {
      let index: number;
      let next: number;
      if (!this.sawCR) {
        index = buffer.indexOf("\n", Math.max(start, this.checked));
        if (index < 0) {
          this.checked = buffer.length;
          break;
        }
        next = index + 1;
      } else {
        LINE_END.lastIndex = Math.max(start, this.checked);
        const found = LINE_END.exec(buffer);
        if (!found) {
          this.checked = buffer.length;
          break;
        }
        index = found.index;
        // A lone \r at the very end may be the first half of \r\n still in flight.
        if (buffer[index] === "\r" && index === buffer.length - 1 && !final) {
          this.checked = index;
          break;
        }
        next = index + (buffer.startsWith("\r\n", index) ? 2 : 1);
      }
      const line = buffer.slice(start, index);
      start = next;
      this.checked = start;
      if (line === "") {
        if (this.data.length > 0) events.push({ event: this.event, data: this.data.length === 1 ? this.data[0]! : this.data.join("\n") });
        this.data = [];
        this.dataSize = 0;
        this.event = undefined;
      } else if (line.startsWith("data:")) {
        const value = line.slice(line[5] === " " ? 6 : 5);
        this.dataSize += value.length;
        if (this.dataSize > this.maxEventBytes) throw this.tooLarge();
        this.data.push(value);
      } else if (line.startsWith("event:")) {
        this.event = line.slice(6).trim();
      }
      // ":" comments, id: and retry: lines carry nothing we use.
    }
    this.buffer = buffer.slice(start);
    this.checked = Math.max(0, this.checked - start);
    return events;
  }
}

export async function* parseSSE(chunks: AsyncIterable<Uint8Array>, maxEventBytes = MAX_EVENT_BYTES): AsyncGenerator<SSEEvent> {
  const decoder = new SSEDecoder(maxEventBytes);
  for await (const chunk of chunks) for (const event of decoder.push(chunk)) yield event;
  for (const event of decoder.finish()) yield event;
}

/**
 * SSE events → JSON objects, the way every upstream stream is read: `[DONE]` ends it, an event
 * that is not JSON is skipped (Gemini CLI does the same, codeassist-protocol §4.2 rule 5), and an
 * event that carries an error is thrown as what `errorOf` makes of it; `map` shapes the rest (one
 * layer of async iteration less than a wrapper would be).
 */
export async function* sseJson<T>(chunks: AsyncIterable<Uint8Array>, errorOf: (event: Record<string, unknown>) => Error | undefined, map: (event: Record<string, unknown>) => T): AsyncGenerator<T> {
  const decoder = new SSEDecoder();
  const source = chunks[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await source.next();
      const events = next.done ? decoder.finish() : decoder.push(next.value);
      for (const event of events) {
        if (event.data.trim() === "[DONE]") return;
        let value: unknown;
        try {
          value = JSON.parse(event.data);
        } catch {
          continue;
        }
        if (typeof value !== "object" || value === null || Array.isArray(value)) continue;
        const error = errorOf(value as Record<string, unknown>);
        if (error) throw error;
        yield map(value as Record<string, unknown>);
      }
      if (next.done) return;
    }
  } finally {
    // Stopped early (the client went away, [DONE], an error): the bytes' source stops too.
    await source.return?.(undefined);
  }
}
