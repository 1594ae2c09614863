// Request logging. `summary`: one access line per request (method, path, status, model, upstream,
// credential id — a fingerprint, never a secret —, duration, tokens). `full`: additionally the four
// stages of a request (client request, upstream request, upstream response, client response)
// written as one JSON file per request id under log_dir, with base64 media and secrets redacted.
// A trace belongs to the Request object it was made for (`traceOf(request)`), inside the HTTP
// layer only: the routes record what the executor says it used (`recordServed`), and the upstream
// exchange reaches the trace through the CallObserver the route hands down (`observerFor`). No
// AsyncLocalStorage: it would tax every await of every stream.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { redact as redactText, type Logger } from "./log.ts";
import type { CallObserver } from "./upstreams/types.ts";
import type { UsageMetadata } from "./hub.ts";

export type RequestLogMode = "off" | "summary" | "full";

export interface RequestTrace {
  readonly id: string;
  readonly started: number;
  readonly full: boolean;
  method: string;
  path: string;
  model?: string;
  backend?: string;
  credential?: string;
  tokens?: number;
  /** Token counts for usage statistics (the last usage the upstream reported). */
  usage?: TokenUsage;
  /** The client key the request authenticated with (usage is kept per key). */
  keyId?: string;
  /** Streams: ms from the request to the first upstream chunk. */
  ttftMs?: number;
  clientRequest?: unknown;
  upstreamRequest?: string;
  upstreamResponse?: string;
  /** Streamed answers: resolves when the last byte went out (or the client left). */
  streamEnd?: Promise<void>;
}

export interface TokenUsage {
  input: number;
  /** Reasoning tokens included. */
  output: number;
  cached: number;
}

/** Records a Gemini usageMetadata on the trace (ignored when it carries no counts). */
export function recordUsage(trace: RequestTrace | undefined, metadata: UsageMetadata | undefined): void {
  if (!trace || !metadata || typeof metadata.totalTokenCount !== "number") return;
  trace.tokens = metadata.totalTokenCount;
  trace.usage = {
    input: metadata.promptTokenCount ?? 0,
    output: (metadata.candidatesTokenCount ?? 0) + (metadata.thoughtsTokenCount ?? 0),
    cached: metadata.cachedContentTokenCount ?? 0,
  };
}

const traces = new WeakMap<Request, RequestTrace>();

/** The trace of `request`, if request logging is on. */
export function traceOf(request: Request): RequestTrace | undefined {
  return traces.get(request);
}

/** What the executor says served the request: backend and credential id (never a secret). */
export function recordServed(trace: RequestTrace | undefined, served: { backend: string; credential: string }): void {
  if (!trace) return;
  trace.backend = served.backend;
  trace.credential = served.credential;
}

/** Full mode keeps the upstream request and answer. */
export function observerFor(trace: RequestTrace | undefined): CallObserver | undefined {
  if (!trace?.full) return undefined;
  return {
    request: (body) => { trace.upstreamRequest = body.length > MAX_STAGE_BYTES ? `${body.slice(0, MAX_STAGE_BYTES)}…(${body.length - MAX_STAGE_BYTES} more characters not kept)` : body; },
    response: (text) => { trace.upstreamResponse = text; },
  };
}

/** A streamed answer is logged when it ends: call the returned function then. */
export function streamEnded(trace: RequestTrace | undefined): (() => void) | undefined {
  if (!trace) return undefined;
  let resolve!: () => void;
  trace.streamEnd = new Promise<void>((done) => { resolve = done; });
  return resolve;
}

export interface RequestLogOptions {
  /** Told about every request once it is over (usage statistics), whatever the log mode. */
  onDone?: (trace: RequestTrace, status: number) => void;
  /** Told when a streamed answer starts and when it ends (the open-streams gauge). */
  onStream?: (open: boolean) => void;
  mode: RequestLogMode;
  dir: string;
  log: Logger;
}

/** Wraps a fetch handler so each request carries a trace and is logged when answered. */
export function withRequestLog(handler: (request: Request) => Response | Promise<Response>, options: RequestLogOptions) {
  if (options.mode === "off" && !options.onDone) return handler;
  return async (request: Request): Promise<Response> => {
    // request.url is not absolute when the Host header is malformed (the gate answers 400 then).
    const path = URL.parse(request.url)?.pathname ?? request.url.split("?")[0]!;
    const trace: RequestTrace = { id: crypto.randomUUID(), started: performance.now(), full: options.mode === "full", method: request.method, path };
    traces.set(request, trace);
    const response = await handler(request);
    if (trace.streamEnd && options.onStream) {
      options.onStream(true);
      void trace.streamEnd.then(() => options.onStream!(false));
    }
    const summary = () => {
      options.onDone?.(trace, response.status);
      if (options.mode === "off") return;
      options.log.info("request", {
        method: trace.method, path: trace.path, status: response.status, model: trace.model, upstream: trace.backend,
        credential: trace.credential, ms: Math.round(performance.now() - trace.started), tokens: trace.tokens, id: trace.id,
      });
    };
    // A request refused before its body was read (the gate) gets its access line, not a record.
    if (!trace.full || trace.clientRequest === undefined) {
      if (trace.streamEnd) void trace.streamEnd.then(summary);
      else summary();
      return response;
    }
    // Full mode: copy the answer as the client reads it (so a client that stops reading stops the
    // upstream too — no tee that drains it into memory), and write the record once it is over.
    const write = (clientResponse: string) => {
      summary();
      writeStages(trace, response, clientResponse, options.dir)
        .catch((error: Error) => options.log.warn("could not write the request log", { id: trace.id, error: error.message }));
    };
    if (!response.body) {
      write("");
      return response;
    }
    return new Response(copiedAsRead(response.body, write), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** A record keeps at most this much of each stage. */
export const MAX_STAGE_BYTES = 1024 * 1024;

/** `body`, passed on chunk by chunk as the reader pulls; `done` gets the first MAX_STAGE_BYTES. */
function copiedAsRead(body: ReadableStream<Uint8Array>, done: (text: string) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const kept: Uint8Array[] = [];
  let size = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done(Buffer.concat(kept).toString("utf8") + (size > MAX_STAGE_BYTES ? `…(${size - MAX_STAGE_BYTES} more bytes not kept)` : ""));
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: ended } = await reader.read();
        if (ended) {
          finish();
          controller.close();
          return;
        }
        if (size < MAX_STAGE_BYTES) kept.push(value.slice(0, MAX_STAGE_BYTES - size));
        size += value.byteLength;
        controller.enqueue(value);
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    async cancel(reason) {
      finish();
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

async function writeStages(trace: RequestTrace, response: Response, clientResponse: string, dir: string): Promise<void> {
  const record = {
    id: trace.id, method: trace.method, path: trace.path, status: response.status, model: trace.model,
    upstream: trace.backend, credential: trace.credential, duration_ms: Math.round(performance.now() - trace.started),
    client_request: redact(trace.clientRequest),
    upstream_request: redact(parseMaybe(trace.upstreamRequest)),
    upstream_response: redact(parseMaybe(trace.upstreamResponse)),
    client_response: redact(parseMaybe(clientResponse)),
  };
  // Records hold prompts and answers: readable by the gateway's user only.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, `${new Date().toISOString().slice(0, 10)}-${trace.id}.json`), `${redactText(JSON.stringify(record, null, 2))}\n`, { mode: 0o600 });
}

function parseMaybe(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const SECRET_KEYS = /^(api_?key|apiKey|key|password|access_token|refresh_token|client_secret|authorization)$/i;
const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)(?:;[\w=.-]+)*,([A-Za-z0-9+/=\s_-]{64,})$/;

/** Base64 media and secret-looking fields replaced by a short note; everything else kept. */
export function redact(value: unknown, key = ""): unknown {
  if (typeof value === "string") {
    if (SECRET_KEYS.test(key) && value !== "") return `${value.slice(0, 4)}…(${value.length} chars)`;
    const dataUrl = DATA_URL.exec(value);
    if (dataUrl) return `data:${dataUrl[1]};base64,<${dataUrl[2]!.length} chars redacted>`;
    if (key === "data" && value.length > 64) return `<${value.length} chars of base64 redacted>`;
    return value.length > 100_000 ? `${value.slice(0, 100_000)}…(truncated)` : value;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, redact(inner, name)]));
  }
  return value;
}
