// A deliberately malicious server on 127.0.0.1, for tests and `bun run attack`: an OpenAI-compatible
// upstream whose model name picks the misbehaviour, and image URLs that are huge, endless or
// redirect elsewhere. Everything it sends is bounded by its own caller's patience, never by it.

const encoder = new TextEncoder();
const MiB = 1024 * 1024;

export class HostileServer {
  private server: ReturnType<typeof Bun.serve>;
  /** Requests seen, by path (image fetches count here too). */
  readonly hits = new Map<string, number>();
  /** hostile-stall answers whose reader hung up (the gateway's idle deadline fired). */
  stallsAborted = 0;

  constructor() {
    this.server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: (request) => this.handle(request) });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  get baseURL(): string {
    return `${this.url}/v1`;
  }

  stop(): void {
    this.server.stop(true);
  }

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    this.hits.set(url.pathname, (this.hits.get(url.pathname) ?? 0) + 1);
    if (url.pathname.startsWith("/image/")) return this.image(url);
    if (url.pathname === "/redirect") return new Response(null, { status: 302, headers: { location: url.searchParams.get("to") ?? "/" } });
    if (url.pathname === "/v1/models") return Response.json({ object: "list", data: [] });
    if (url.pathname !== "/v1/chat/completions") return new Response("no", { status: 404 });
    const body = await request.json() as { model?: string; stream?: boolean };
    return this.chat(body.model ?? "", body.stream === true, request.signal);
  }

  /** /image/<MiB> : a PNG-typed body of that many MiB; /image/endless : never ends. */
  private image(url: URL): Response {
    const size = url.pathname.slice("/image/".length);
    const chunk = new Uint8Array(MiB).fill(0x41);
    if (size === "endless") return new Response(endless(() => chunk), { headers: { "content-type": "image/png" } });
    const total = Number(size) * MiB;
    let sent = 0;
    return new Response(new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        const piece = chunk.subarray(0, Math.min(MiB, total - sent));
        sent += piece.byteLength;
        controller.enqueue(piece);
      },
    }), { headers: { "content-type": "image/png" } });
  }

  private chat(model: string, stream: boolean, signal: AbortSignal): Response {
    const line = (content: string) => `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
    switch (model) {
      case "hostile-huge": {
        // A 100 MiB unary answer (or stream of ordinary events adding up to it).
        const filler = "A".repeat(MiB);
        if (stream) return sse(limited(100, () => encoder.encode(line(filler)), signal));
        return new Response(limited(100, (index) => encoder.encode(index === 0 ? `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"${filler}` : index === 99 ? `${filler}"},"finish_reason":"stop"}]}` : filler), signal), { headers: { "content-type": "application/json" } });
      }
      case "hostile-line": {
        // One SSE event of 64 MiB that never ends its line.
        const filler = encoder.encode("A".repeat(MiB));
        return sse(limited(64, (index) => (index === 0 ? encoder.encode(`data: {"choices":[{"delta":{"content":"`) : filler), signal));
      }
      case "hostile-endless":
        return sse(endless(() => encoder.encode(line("again and again "))));
      case "hostile-drip": {
        // Error headers at once, then the error body one byte a second.
        const body = encoder.encode(JSON.stringify({ error: { message: "x".repeat(1000), type: "server_error" } }));
        let index = 0;
        return new Response(new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (index >= body.length || signal.aborted) return controller.close();
            await Bun.sleep(1000);
            controller.enqueue(body.subarray(index, ++index));
          },
        }), { status: 500, headers: { "content-type": "application/json" } });
      }
      case "hostile-stall": {
        // A unary answer: headers and half a body at once, then silence.
        const half = encoder.encode(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`.padEnd(100, "A"));
        let sent = false;
        const server = this;
        return new Response(new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (!sent) {
              sent = true;
              return controller.enqueue(half);
            }
            await new Promise((resolve) => signal.addEventListener("abort", resolve));
            server.stallsAborted++;
            controller.close();
          },
        }), { headers: { "content-type": "application/json", "content-length": "200" } });
      }
      case "hostile-malformed":
        return sse((async function* () {
          yield encoder.encode("data: {not json\n\ndata: [1,2\n\nevent: x\ndata: \u0000\u0001\n\n");
          yield encoder.encode(line("ok"));
          yield encoder.encode("data: [DONE]\n\n");
        })());
      case "hostile-echo-key":
        // An error that echoes the caller's key back, the way some servers do.
        return Response.json({ error: { message: "Incorrect API key provided: sk-hostile-secret-key-123456. You can find your API key at …", type: "invalid_request_error" } }, { status: 400 });
      default:
        return Response.json({ id: "x", object: "chat.completion", created: 1, model, choices: [{ index: 0, message: { role: "assistant", content: "fine" }, finish_reason: "stop" }] });
    }
  }
}

function sse(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): Response {
  return new Response(body as ReadableStream<Uint8Array>, { headers: { "content-type": "text/event-stream" } });
}

/** `count` chunks from `make`, as fast as the reader takes them. */
function limited(count: number, make: (index: number) => Uint8Array, signal: AbortSignal): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (index >= count || signal.aborted) return controller.close();
      controller.enqueue(make(index++));
    },
  });
}

function endless(make: () => Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(make());
    },
  });
}
