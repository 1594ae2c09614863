// The one way an async iterable becomes a streamed HTTP Response: each item is written and flushed
// as soon as it is produced, a keep-alive goes out whenever the source has been silent for
// `keepaliveMs` (one process-wide ticker watches every open stream — nothing per chunk), an error
// after the first byte is written in-band in the client's format, and the stream then ends
// cleanly. A client that goes away stops the source, which aborts the upstream request.
// Bun's "direct" streams write straight to the socket, without a queue in between.
import { GatewayError } from "../hub.ts";
import { watchSilence, type Watch } from "../ticker.ts";

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
  let closed = false;
  let silence: Watch | undefined;
  const finish = () => {
    if (closed) return false;
    closed = true;
    silence?.stop();
    options.onEnd?.();
    return true;
  };
  const body = new ReadableStream({
    type: "direct",
    async pull(controller: ReadableStreamDirectController) {
      // Awaiting a write that could not go out at once is the backpressure: a client that stops
      // reading stops the source, and with it the upstream.
      // A promise only when the write could not go out at once: then it is awaited.
      const send = (bytes: string | Uint8Array): Promise<unknown> | undefined => {
        if (closed) return undefined;
        const written = controller.write(bytes);
        return written instanceof Promise ? written : undefined;
      };
      if (framing.keepalive !== undefined && options.keepaliveMs) {
        const keepalive = framing.keepalive;
        silence = watchSilence(options.keepaliveMs, () => {
          try {
            void send(keepalive)?.catch(() => {});
          } catch { /* the client is gone; the pull loop ends on its own */ }
        });
        if (options.primeKeepalive) await send(keepalive);
      }
      let sent = 0;
      try {
        for (;;) {
          const result = await iterator.next();
          if (closed) return;
          if (result.done) break;
          silence?.touch();
          const pending = send(framing.item(result.value, sent++));
          if (pending) await pending;
        }
        const tail = framing.end(sent);
        if (tail) await send(tail);
      } catch (error) {
        if (!closed) await send(framing.error(streamFailure(error), sent))?.catch(() => {});
      }
      if (finish()) controller.close();
    },
    async cancel() {
      // The client went away: stop the source, which aborts the upstream request.
      if (finish()) await iterator.return?.(undefined);
    },
  } satisfies Bun.DirectUnderlyingSource<Uint8Array>);
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

/**
 * Server-sent events named by their `type` (Anthropic's and OpenAI Responses' streams):
 * `event: <type>` then `data: …`. Keep-alives are Anthropic's `ping` events, or a comment.
 */
export function namedEventFraming<T extends { type: string }>(errorBody: (error: GatewayError) => object, keepalive: "ping" | "comment" = "ping"): Framing<T> {
  return {
    contentType: "text/event-stream; charset=utf-8",
    item: (value) => `event: ${value.type}\ndata: ${JSON.stringify(value)}\n\n`,
    end: () => "",
    error: (error) => `event: error\ndata: ${JSON.stringify(errorBody(error))}\n\n`,
    keepalive: keepalive === "ping" ? 'event: ping\ndata: {"type":"ping"}\n\n' : ": keep-alive\n\n",
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
