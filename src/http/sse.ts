// AsyncIterable<object> → a text/event-stream Response. Each item is written as soon as it is
// produced; while the source is silent a comment keeps proxies from closing the connection.
// An error after the first byte goes in-band (`errorEvent`) and the stream ends without [DONE].

const encoder = new TextEncoder();
const KEEPALIVE = encoder.encode(": keep-alive\n\n");

export interface SSEOptions {
  keepaliveMs: number;
  /** The closing sentinel, e.g. "[DONE]" for OpenAI; Gemini streams have none. */
  done?: string;
  errorEvent: (error: unknown) => object;
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

export function sseResponse(events: AsyncIterable<object>, options: SSEOptions, headers: Record<string, string> = {}): Response {
  const iterator = events[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<object>> | undefined;
  let closed = false;

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      pending ??= iterator.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const silence = new Promise<"silence">((resolve) => {
        timer = setTimeout(() => resolve("silence"), options.keepaliveMs);
      });
      try {
        const result = await Promise.race([pending, silence]);
        if (result === "silence") {
          controller.enqueue(KEEPALIVE);
          return;
        }
        pending = undefined;
        if (result.done) {
          if (options.done) controller.enqueue(encoder.encode(`data: ${options.done}\n\n`));
          closed = true;
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(result.value)}\n\n`));
      } catch (error) {
        pending = undefined;
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(options.errorEvent(error))}\n\n`));
        closed = true;
        controller.close();
      } finally {
        clearTimeout(timer);
      }
    },
    async cancel() {
      // The client went away: stop the source, which aborts the upstream request.
      if (!closed) await iterator.return?.();
    },
  });
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...headers } });
}
