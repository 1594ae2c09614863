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

export async function* parseSSE(chunks: AsyncIterable<Uint8Array>, maxEventBytes = MAX_EVENT_BYTES): AsyncGenerator<SSEEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let dataSize = 0;
  let event: string | undefined;
  const tooLarge = () => new GatewayError({ status: 502, code: "bad_upstream_response", kind: "transient", message: `the upstream sent a stream event larger than ${maxEventBytes} bytes` });

  // How much of `buffer` is known to hold no line end: a long line arriving in many chunks is
  // searched once, not once per chunk.
  let checked = 0;
  // Most upstreams end lines with \n alone: until a \r shows up, a plain indexOf finds them.
  let sawCR = false;

  /** The events completed by what `buffer` holds now (a plain array: no iterator per chunk). */
  function takeLines(final: boolean): SSEEvent[] {
    const events: SSEEvent[] = [];
    let start = 0;
    for (;;) {
      let index: number;
      let next: number;
      if (!sawCR) {
        index = buffer.indexOf("\n", Math.max(start, checked));
        if (index < 0) {
          checked = buffer.length;
          break;
        }
        next = index + 1;
      } else {
        LINE_END.lastIndex = Math.max(start, checked);
        const found = LINE_END.exec(buffer);
        if (!found) {
          checked = buffer.length;
          break;
        }
        index = found.index;
        // A lone \r at the very end may be the first half of \r\n still in flight.
        if (buffer[index] === "\r" && index === buffer.length - 1 && !final) {
          checked = index;
          break;
        }
        next = index + (buffer.startsWith("\r\n", index) ? 2 : 1);
      }
      const line = buffer.slice(start, index);
      start = next;
      checked = start;
      if (line === "") {
        if (data.length > 0) events.push({ event, data: data.length === 1 ? data[0]! : data.join("\n") });
        data = [];
        dataSize = 0;
        event = undefined;
      } else if (line.startsWith("data:")) {
        const value = line.slice(line[5] === " " ? 6 : 5);
        dataSize += value.length;
        if (dataSize > maxEventBytes) throw tooLarge();
        data.push(value);
      } else if (line.startsWith("event:")) {
        event = line.slice(6).trim();
      }
      // ":" comments, id: and retry: lines carry nothing we use.
    }
    buffer = buffer.slice(start);
    checked = Math.max(0, checked - start);
    return events;
  }

  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    if (!sawCR && text.includes("\r")) sawCR = true;
    buffer += text;
    for (const parsed of takeLines(false)) yield parsed;
    // A line that never ends must not grow without bound either.
    if (buffer.length + dataSize > maxEventBytes) throw tooLarge();
  }
  buffer += decoder.decode();
  if (buffer.includes("\r")) sawCR = true;
  for (const parsed of takeLines(true)) yield parsed;
  if (buffer.startsWith("data:")) data.push(buffer.slice(buffer[5] === " " ? 6 : 5));
  if (data.length > 0) yield { event, data: data.join("\n") };
}

/**
 * SSE events → JSON objects, the way every upstream stream is read: `[DONE]` ends it, an event
 * that is not JSON is skipped (Gemini CLI does the same, codeassist-protocol §4.2 rule 5), and an
 * event that carries an error is thrown as what `errorOf` makes of it; `map` shapes the rest (one
 * layer of async iteration less than a wrapper would be).
 */
export async function* sseJson<T>(chunks: AsyncIterable<Uint8Array>, errorOf: (event: Record<string, unknown>) => Error | undefined, map: (event: Record<string, unknown>) => T): AsyncGenerator<T> {
  for await (const event of parseSSE(chunks)) {
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
}
