// HTTP plumbing shared by the upstreams: one AbortController per call chained to the client's
// signal, a deadline for the response headers, an idle deadline between body chunks, and no
// total timeout on a live stream.
import { GatewayError } from "../hub.ts";
import { networkError, parseGoogleError } from "./upstream-error.ts";
import type { CallObserver } from "./types.ts";
import { watchSilence, type Watch } from "../ticker.ts";

/** A whole non-streamed answer (an image-generation answer fits with room to spare). */
export const MAX_UNARY_BYTES = 32 * 1024 * 1024;
/** An error body: a Google or OpenAI error object is a few KB; past this it is not one. */
export const MAX_ERROR_BYTES = 64 * 1024;

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
  /** Aborts the call with this error (a deadline), which reads then throw. */
  fail: (reason: GatewayError) => void;
}

export type ErrorParser = (status: number, text: string, headers: Headers) => GatewayError;

export interface OpenOptions {
  parseError?: ErrorParser;
  /** Told what was sent and what came back (full request logs). */
  observe?: CallObserver;
}

export class Transport {
  constructor(private readonly options: TransportOptions) {}

  /**
   * Sends a streamed request (headers due within connect_timeout, then the idle deadline per read);
   * non-2xx answers become the GatewayError `parseError` makes of them.
   */
  async open(url: string, init: RequestInit, what: string, options: OpenOptions = {}): Promise<OpenedCall> {
    const { response, controller, deadline } = await this.send(url, init, what, this.options.connectTimeoutMs, options);
    deadline.stop();
    const { body, state } = this.bodyOf(response, controller, what, options);
    // Hanging up on an upstream that already finished would only cost an abort per call.
    return {
      response, body,
      abort: () => state.finished || controller.abort(),
      fail: (reason) => controller.abort(reason),
    };
  }

  /**
   * The whole body as text, up to MAX_UNARY_BYTES. A unary answer arrives all at once when
   * generation ends, so the headers and then the body each get the idle budget — one deadline,
   * restarted when the headers arrive, serves both.
   */
  async text(url: string, init: RequestInit, what: string, options: OpenOptions = {}): Promise<{ response: Response; text: string }> {
    const { response, controller, deadline } = await this.send(url, init, what, this.options.idleTimeoutMs, options);
    deadline.touch();
    try {
      const declared = Number(response.headers.get("content-length") ?? Number.NaN);
      if (declared > MAX_UNARY_BYTES) {
        controller.abort();
        throw tooLarge(what);
      }
      if (declared >= 0 && !options.observe?.response) {
        // Length known and within bounds: one native read.
        try {
          return { response, text: await response.text() };
        } catch (error) {
          throw networkError(whyFailed(controller, error), `${what} (reading the answer)`);
        }
      }
    } finally {
      deadline.stop();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of this.bodyOf(response, controller, what, options).body) {
      size += chunk.byteLength;
      if (size > MAX_UNARY_BYTES) {
        controller.abort();
        throw tooLarge(what);
      }
      chunks.push(chunk);
    }
    return { response, text: Buffer.concat(chunks).toString("utf8") };
  }

  /**
   * One call up to its response headers: its own AbortController, linked to the client's signal,
   * and a silence deadline that aborts it (the caller stops or restarts it once headers arrived).
   */
  private async send(url: string, init: RequestInit, what: string, deadlineMs: number, options: OpenOptions): Promise<{ response: Response; controller: AbortController; deadline: Watch }> {
    const controller = new AbortController();
    // The client's signal reaches this call through one listener rather than a composite signal
    // (AbortSignal.any) per call. Bun never fires a request's signal once it was answered, so the
    // listener dies with the request.
    const client = init.signal;
    if (client?.aborted) controller.abort(client.reason);
    else client?.addEventListener("abort", () => controller.abort(client.reason), { once: true });
    let headersArrived = false;
    const deadline = watchSilence(deadlineMs, () => controller.abort(timeoutReason(headersArrived ? `${what} (reading the answer)` : what)));
    const observe = options.observe;
    if (observe?.request && typeof init.body === "string") observe.request(init.body);
    let response: Response;
    try {
      response = await this.options.fetch(url, { ...init, signal: controller.signal });
      headersArrived = true;
    } catch (error) {
      deadline.stop();
      throw networkError(whyFailed(controller, error), what);
    }
    if (!response.ok) {
      deadline.stop();
      // Bounded in size and in time: an upstream that drips its error body one byte a second
      // gets connect_timeout to say what went wrong, then is parsed on what it said.
      const text = await this.readError(response, controller);
      observe?.response?.(text);
      throw (options.parseError ?? parseGoogleError)(response.status, text, response.headers);
    }
    return { response, controller, deadline };
  }

  private async readError(response: Response, controller: AbortController): Promise<string> {
    const reader = response.body?.getReader();
    if (!reader) return "";
    const timer = setTimeout(() => void reader.cancel().catch(() => {}), this.options.connectTimeoutMs);
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      while (size < MAX_ERROR_BYTES) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.byteLength;
      }
    } catch { /* cut off or broken: parse what arrived */ } finally {
      clearTimeout(timer);
      controller.abort(); // the rest of the body is not wanted
    }
    return Buffer.concat(chunks).subarray(0, MAX_ERROR_BYTES).toString("utf8");
  }

  /** open() then the whole body as JSON. */
  async json<T>(url: string, init: RequestInit, what: string, options: OpenOptions = {}): Promise<T> {
    const { text } = await this.text(url, init, what, options);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new GatewayError({ status: 502, code: "bad_upstream_response", kind: "transient", message: `${what}: the upstream answered with invalid JSON` });
    }
  }

  /** The body as it is read (and recorded, for full request logs); `state.finished` once it all arrived. */
  private bodyOf(response: Response, controller: AbortController, what: string, options: OpenOptions): { body: AsyncGenerator<Uint8Array>; state: { finished: boolean } } {
    const state = { finished: false };
    const body = this.readBody(response, controller, what, state);
    return { body: options.observe?.response ? recordInto(options.observe.response, body) : body, state };
  }

  /** Body bytes; the idle deadline counts only while a read is pending, not while the consumer works. */
  private async *readBody(response: Response, controller: AbortController, what: string, state: { finished: boolean }): AsyncGenerator<Uint8Array> {
    if (!response.body) {
      state.finished = true;
      return;
    }
    const reader = response.body.getReader();
    const idle = watchSilence(this.options.idleTimeoutMs, () => controller.abort(timeoutReason(`${what} (no data for ${this.options.idleTimeoutMs / 1000} s)`)));
    try {
      for (;;) {
        idle.resume();
        let result: Awaited<ReturnType<typeof reader.read>>;
        try {
          result = await reader.read();
        } catch (error) {
          throw networkError(whyFailed(controller, error), `${what} (reading the answer)`);
        }
        idle.pause();
        if (result.done) {
          state.finished = true;
          return;
        }
        yield result.value;
      }
    } finally {
      idle.stop();
      // The consumer stopped early (client gone, error downstream): hang up on the upstream too.
      if (!state.finished) controller.abort();
      reader.releaseLock();
    }
  }
}

/** Full request logs keep a copy of what the upstream said (the first MAX_RECORD_BYTES). */
export const MAX_RECORD_BYTES = 1024 * 1024;

async function* recordInto(record: (text: string) => void, body: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
  const kept: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      if (size < MAX_RECORD_BYTES) kept.push(chunk.subarray(0, MAX_RECORD_BYTES - size));
      size += chunk.byteLength;
      yield chunk;
    }
  } finally {
    record(Buffer.concat(kept).toString("utf8") + (size > MAX_RECORD_BYTES ? `…(${size - MAX_RECORD_BYTES} more bytes not kept)` : ""));
    await body.return(undefined);
  }
}

/** Our own abort (a deadline) says why; anything else is what fetch threw. */
function whyFailed(controller: AbortController, error: unknown): unknown {
  return controller.signal.reason instanceof GatewayError ? controller.signal.reason : error;
}

function tooLarge(what: string): GatewayError {
  return new GatewayError({ status: 502, code: "bad_upstream_response", kind: "transient", message: `${what}: the upstream's answer is larger than ${MAX_UNARY_BYTES} bytes` });
}

function timeoutReason(what: string): GatewayError {
  return new GatewayError({ status: 504, code: "timeout", kind: "transient", message: `${what} timed out` });
}
