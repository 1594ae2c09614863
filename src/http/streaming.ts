// Streamed answers for every surface, decided in one place: a real upstream stream, or — for
// `-fake-stream` models — the whole answer fetched in one call while keep-alives hold the
// connection, then sent as one chunk (for clients behind proxies that cut long streams).
import type { Executor, ExecuteRequest } from "../executor.ts";
import type { GenerateContentResponse } from "../hub.ts";
import { parseModelName } from "../models.ts";
import type { RequestTrace } from "../request-log.ts";
import { recordServed, recordUsage } from "../request-log.ts";
import { fallbackHeader } from "./fallback-header.ts";

/** Clients and proxies with a 5 s header timeout must see headers and a first byte sooner. */
export const FAKE_STREAM_FIRST_BYTE_MS = 1_000;

export interface StreamTiming {
  keepaliveMs: number;
  fakeStreamKeepaliveMs: number;
}

export interface StreamedAnswer {
  chunks: AsyncIterable<GenerateContentResponse>;
  headers: Record<string, string>;
  keepaliveMs: number;
  /** Headers went out before any answer: send a keep-alive with them. */
  primeKeepalive: boolean;
}

/**
 * Resolves when the client should get its 200: a real stream once the upstream sent its first
 * chunk; a fake stream when the answer came (or, after FAKE_STREAM_FIRST_BYTE_MS, at once). A
 * refusal that comes before then rejects, so the client gets the real status.
 */
export async function streamedAnswer(executor: Executor, input: ExecuteRequest, timing: StreamTiming, trace: RequestTrace | undefined): Promise<StreamedAnswer> {
  if (!parseModelName(input.model).fakeStream) {
    const served = await executor.stream(trace ? { ...input, onChunk: (chunk) => countTokens(chunk, trace) } : input);
    recordServed(trace, served);
    if (trace) trace.ttftMs = performance.now() - trace.started;
    return { chunks: served.value, headers: fallbackHeader(served), keepaliveMs: timing.keepaliveMs, primeKeepalive: false };
  }
  const answer = executor.generate(input).then((served) => {
    recordServed(trace, served);
    if (trace) countTokens(served.value, trace);
    return served;
  });
  answer.catch(() => {}); // observed below; this only keeps an abandoned rejection quiet
  const early = await Promise.race([answer, Bun.sleep(Math.min(FAKE_STREAM_FIRST_BYTE_MS, timing.fakeStreamKeepaliveMs)).then(() => undefined)]);
  const whole = (async function* (): AsyncGenerator<GenerateContentResponse> {
    yield (early ?? (await answer)).value;
  })();
  return { chunks: whole, headers: early ? fallbackHeader(early) : {}, keepaliveMs: timing.fakeStreamKeepaliveMs, primeKeepalive: !early };
}

/** Streamed requests count their tokens too: the last usage the upstream reported. */
function countTokens(chunk: GenerateContentResponse, trace: RequestTrace): void {
  recordUsage(trace, chunk.usageMetadata);
}

