// The one way an async iterable becomes a streamed HTTP Response: each item is written as soon as
// it is produced, a keep-alive goes out whenever the source has been silent for `keepaliveMs`
// (one timer per stream, re-armed only when it fires — never one per chunk), an error after the
// first byte is written in-band in the client's format, and the stream then ends cleanly. A client
// that goes away stops the source, which aborts the upstream request.
import { GatewayError } from "../hub.ts";

const encoder = new TextEncoder();

/** How one kind of stream is written. Created per response: a framing may keep state. */
export interface Framing<T> {
  contentType: string;
  /** One item; `sent` counts the items already written. */
  item(value: T, sent: number): string | Uint8Array;
  /** After the last item (e.g. `data: [DONE]`, or the closing `]`). */
  end(sent: number): string;
  /** An error after the headers went out, in the client's format. */
  error(error: GatewayError, sent: number): string;
  /** Bytes that mean nothing to the client; none: no keep-alives. */
  keepalive?: string;
}

export interface StreamOptions {
  keepaliveMs?: number;
  /** Send one keep-alive at once (fake streams: the client sees bytes before the answer exists). */
  primeKeepalive?: boolean;
  headers?: Record<string, string>;
  /** Called once when the stream is over: finished, failed, or abandoned by the client. */
  onEnd?: () => void;
}

export const STREAM_HEADERS = { "cache-control": "no-cache", "x-accel-buffering": "no" };

export function streamResponse<T>(source: AsyncIterable<T>, framing: Framing<T>, options: StreamOptions = {}): Response {
  const iterator = source[Symbol.asyncIterator]();
  const keepalive = framing.keepalive !== undefined && options.keepaliveMs ? encoder.encode(framing.keepalive) : undefined;
  let sent = 0;
  let closed = false;
  let lastWrite = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const finish = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    options.onEnd?.();
  };
  const write = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: string | Uint8Array) => {
    controller.enqueue(typeof bytes === "string" ? encoder.encode(bytes) : bytes);
    lastWrite = performance.now();
  };

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (!keepalive) return;
      const wait = options.keepaliveMs!;
      const tick = () => {
        if (closed) return;
        const silent = performance.now() - lastWrite;
        if (silent >= wait - 1) write(controller, keepalive);
        timer = setTimeout(tick, silent >= wait - 1 ? wait : wait - silent);
      };
      if (options.primeKeepalive) write(controller, keepalive);
      timer = setTimeout(tick, wait);
    },
    async pull(controller) {
      try {
        const result = await iterator.next();
        if (closed) return;
        if (result.done) {
          const tail = framing.end(sent);
          if (tail) write(controller, tail);
          finish();
          controller.close();
          return;
        }
        write(controller, framing.item(result.value, sent++));
      } catch (error) {
        if (closed) return;
        write(controller, framing.error(streamFailure(error), sent));
        finish();
        controller.close();
      }
    },
    async cancel() {
      const wasOpen = !closed;
      finish();
      if (wasOpen) await iterator.return?.(undefined);
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": framing.contentType, ...STREAM_HEADERS, ...options.headers } });
}

/** Whatever broke a stream after its first byte, as the error the client will read in-band. */
export function streamFailure(error: unknown): GatewayError {
  return error instanceof GatewayError ? error : new GatewayError({ status: 500, message: "internal error while streaming" });
}

/** Server-sent events: one `data:` line per item; OpenAI streams end with `data: [DONE]`. */
export function sseFraming<T>(errorBody: (error: GatewayError) => object, done?: string): Framing<T> {
  return {
    contentType: "text/event-stream; charset=utf-8",
    item: (value) => `data: ${JSON.stringify(value)}\n\n`,
    end: () => (done ? `data: ${done}\n\n` : ""),
    error: (error) => `data: ${JSON.stringify(errorBody(error))}\n\n`,
    keepalive: ": keep-alive\n\n",
  };
}

/** The Gemini API's stream without alt=sse: one JSON array, written element by element. */
export function jsonArrayFraming<T>(errorBody: (error: GatewayError) => object): Framing<T> {
  return {
    contentType: "application/json; charset=utf-8",
    item: (value, sent) => `${sent === 0 ? "[" : ",\n"}${JSON.stringify(value)}`,
    end: (sent) => (sent === 0 ? "[]" : "\n]"),
    error: (error, sent) => `${sent === 0 ? "[" : ",\n"}${JSON.stringify(errorBody(error))}\n]`,
    // White space is valid JSON between tokens: it keeps proxies from closing a silent stream.
    keepalive: "\n",
  };
}

/**
 * An upstream's own SSE bytes, piped as they come. Chunks need not end on event boundaries, so an
 * in-band error first closes any event left open; no keep-alives could be slipped in safely.
 */
export function rawSSEFraming(errorBody: (error: GatewayError) => object, contentType: string): Framing<Uint8Array> {
  let lastByte = 10;
  return {
    contentType,
    item: (bytes) => {
      if (bytes.length > 0) lastByte = bytes[bytes.length - 1]!;
      return bytes;
    },
    end: () => "",
    error: (error) => `${lastByte === 10 ? "\n" : "\n\n"}data: ${JSON.stringify(errorBody(error))}\n\n`,
  };
}
