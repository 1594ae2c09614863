// HTTP plumbing shared by the upstreams: one AbortController per call chained to the client's
// signal, a deadline for the response headers, an idle deadline between body chunks, and no
// total timeout on a live stream.
import { GatewayError } from "../hub.ts";
import { networkError, parseGoogleError } from "./upstream-error.ts";
import type { CallObserver } from "./types.ts";

export interface TransportOptions {
  fetch: typeof fetch;
  /** Until the response headers arrive (a stream's first byte). */
  connectTimeoutMs: number;
  /** Longest silence allowed inside a body, and for a unary answer to arrive at all. */
  idleTimeoutMs: number;
}

export interface OpenedCall {
  response: Response;
  /** Body bytes, each read bounded by the idle timeout; aborts the call when left early. */
  body: AsyncGenerator<Uint8Array>;
  abort: () => void;
}

export type ErrorParser = (status: number, text: string, headers: Headers) => GatewayError;

export interface OpenOptions {
  /** A unary answer arrives all at once when generation ends, so its wait is the idle budget. */
  unary?: boolean;
  parseError?: ErrorParser;
  /** Told what was sent and what came back (full request logs). */
  observe?: CallObserver;
}

export class Transport {
  constructor(private readonly options: TransportOptions) {}

  /** Sends the request; non-2xx answers become the GatewayError `parseError` makes of them. */
  async open(url: string, init: RequestInit, what: string, options: OpenOptions = {}): Promise<OpenedCall> {
    const controller = new AbortController();
    const signal = init.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
    const headerDeadline = options.unary ? this.options.idleTimeoutMs : this.options.connectTimeoutMs;
    const timer = setTimeout(() => controller.abort(timeoutReason(what)), headerDeadline);
    const observe = options.observe;
    if (observe?.request && typeof init.body === "string") observe.request(init.body);
    let response: Response;
    try {
      response = await this.options.fetch(url, { ...init, signal });
    } catch (error) {
      throw networkError(signal.reason instanceof GatewayError ? signal.reason : error, what);
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      observe?.response?.(text);
      throw (options.parseError ?? parseGoogleError)(response.status, text, response.headers);
    }
    const body = this.readBody(response, controller, what);
    return { response, body: observe?.response ? recordInto(observe.response, body) : body, abort: () => controller.abort() };
  }

  /** open() then the whole body as text. */
  async text(url: string, init: RequestInit, what: string, options: Omit<OpenOptions, "unary"> = {}): Promise<{ response: Response; text: string }> {
    const call = await this.open(url, init, what, { ...options, unary: true });
    const chunks: Uint8Array[] = [];
    for await (const chunk of call.body) chunks.push(chunk);
    return { response: call.response, text: Buffer.concat(chunks).toString("utf8") };
  }

  /** open() then the whole body as JSON. */
  async json<T>(url: string, init: RequestInit, what: string, options: Omit<OpenOptions, "unary"> = {}): Promise<T> {
    const { text } = await this.text(url, init, what, options);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new GatewayError({ status: 502, code: "bad_upstream_response", kind: "transient", message: `${what}: the upstream answered with invalid JSON` });
    }
  }

  private async *readBody(response: Response, controller: AbortController, what: string): AsyncGenerator<Uint8Array> {
    if (!response.body) return;
    const reader = response.body.getReader();
    let finished = false;
    try {
      for (;;) {
        const timer = setTimeout(() => controller.abort(timeoutReason(`${what} (no data for ${this.options.idleTimeoutMs / 1000} s)`)), this.options.idleTimeoutMs);
        let result: Awaited<ReturnType<typeof reader.read>>;
        try {
          result = await reader.read();
        } catch (error) {
          throw networkError(controller.signal.reason instanceof GatewayError ? controller.signal.reason : error, `${what} (reading the answer)`);
        } finally {
          clearTimeout(timer);
        }
        if (result.done) {
          finished = true;
          return;
        }
        yield result.value;
      }
    } finally {
      // The consumer stopped early (client gone, error downstream): hang up on the upstream too.
      if (!finished) controller.abort();
      reader.releaseLock();
    }
  }
}

/** Full request logging keeps a copy of what the upstream said, handed over when the body ends. */
async function* recordInto(record: (text: string) => void, body: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
  const decoder = new TextDecoder();
  let text = "";
  try {
    for await (const chunk of body) {
      text += decoder.decode(chunk, { stream: true });
      yield chunk;
    }
  } finally {
    record(text);
    await body.return(undefined);
  }
}

function timeoutReason(what: string): GatewayError {
  return new GatewayError({ status: 504, code: "timeout", kind: "transient", message: `${what} timed out` });
}
