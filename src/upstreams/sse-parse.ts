// Bytes → server-sent events. Decodes UTF-8 across chunk boundaries and accepts \n, \r\n and \r
// line endings split anywhere; an event ends at a blank line (one left open at EOF is still
// delivered, since an upstream that drops the final blank line has still said what it said).

export interface SSEEvent {
  event?: string;
  data: string;
}

export async function* parseSSE(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SSEEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let event: string | undefined;

  function* takeLines(final: boolean): Generator<SSEEvent> {
    let start = 0;
    const lineEnd = /\r\n|\r|\n/g;
    for (;;) {
      lineEnd.lastIndex = start;
      const found = lineEnd.exec(buffer);
      if (!found) break;
      const index = found.index;
      // A lone \r at the very end may be the first half of \r\n still in flight.
      if (buffer[index] === "\r" && index === buffer.length - 1 && !final) break;
      const line = buffer.slice(start, index);
      start = index + (buffer.startsWith("\r\n", index) ? 2 : 1);
      if (line === "") {
        if (data.length > 0) yield { event, data: data.join("\n") };
        data = [];
        event = undefined;
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line[5] === " " ? 6 : 5));
      } else if (line.startsWith("event:")) {
        event = line.slice(6).trim();
      }
      // ":" comments, id: and retry: lines carry nothing we use.
    }
    buffer = buffer.slice(start);
  }

  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    yield* takeLines(false);
  }
  buffer += decoder.decode();
  yield* takeLines(true);
  if (buffer.startsWith("data:")) data.push(buffer.slice(buffer[5] === " " ? 6 : 5));
  if (data.length > 0) yield { event, data: data.join("\n") };
}

/**
 * SSE events → JSON objects, the way every upstream stream is read: `[DONE]` ends it, an event
 * that is not JSON is skipped (Gemini CLI does the same, codeassist-protocol §4.2 rule 5), and an
 * event that carries an error is thrown as what `errorOf` makes of it.
 */
export async function* sseJson(chunks: AsyncIterable<Uint8Array>, errorOf: (event: Record<string, unknown>) => Error | undefined): AsyncGenerator<Record<string, unknown>> {
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
    yield value as Record<string, unknown>;
  }
}
