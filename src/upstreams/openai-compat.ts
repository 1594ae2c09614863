// OpenAI-compatible servers (Kimi, DeepSeek, Ollama, vLLM …). Gemini-shaped requests are
// translated by formats/openai/upstream; OpenAI-shaped ones are forwarded untouched (passthrough).
import { hubRequestToOpenAI, type UpstreamProfile } from "../formats/openai/upstream/request.ts";
import { openAIResponseToHub } from "../formats/openai/upstream/response.ts";
import { openAIStreamToHub } from "../formats/openai/upstream/stream.ts";
import { estimateTokens } from "../formats/token-estimate.ts";
import { GatewayError, type CountTokensResponse, type GenerateContentResponse } from "../hub.ts";
import { parseSSE } from "./sse-parse.ts";
import { Transport, type TransportOptions } from "./transport.ts";
import type { Upstream, UpstreamAuth, UpstreamCall } from "./types.ts";
import { parseOpenAIError } from "./upstream-error.ts";

export interface OpenAICompatOptions extends TransportOptions {
  name: string;
  baseURL: string;
  profile: UpstreamProfile;
}

export interface PassthroughCall {
  /** The client's OpenAI request body, parsed; only `model` is replaced. */
  body: Record<string, unknown>;
  model: string;
  apiKey?: string;
  signal?: AbortSignal;
}

export class OpenAICompatUpstream implements Upstream {
  private readonly transport: Transport;
  private readonly url: string;

  constructor(private readonly options: OpenAICompatOptions) {
    this.transport = new Transport(options);
    this.url = `${options.baseURL.replace(/\/+$/, "")}/chat/completions`;
  }

  async generate(call: UpstreamCall): Promise<GenerateContentResponse> {
    const { body, toolNames } = hubRequestToOpenAI(call.request, { model: call.model, profile: this.options.profile, stream: false });
    const response = await this.transport.json<Record<string, unknown>>(this.url, this.init(body, call.auth.apiKey, call.signal), `${this.options.name} chat/completions`, parseOpenAIError);
    return openAIResponseToHub(response, { toolNames, modelVersion: call.model });
  }

  async *stream(call: UpstreamCall): AsyncGenerator<GenerateContentResponse> {
    const { body, toolNames } = hubRequestToOpenAI(call.request, { model: call.model, profile: this.options.profile, stream: true });
    const opened = await this.transport.open(this.url, this.init(body, call.auth.apiKey, call.signal), `${this.options.name} chat/completions`, { parseError: parseOpenAIError });
    try {
      yield* openAIStreamToHub(this.chunks(opened.body), { toolNames, modelVersion: call.model });
    } finally {
      opened.abort();
    }
  }

  /** OpenAI servers cannot count Gemini requests: a local estimate, never a 404. */
  async countTokens(call: UpstreamCall): Promise<CountTokensResponse> {
    const totalTokens = estimateTokens(call.request);
    return { totalTokens, promptTokensDetails: [{ modality: "TEXT", tokenCount: totalTokens }] };
  }

  /** GET /models: free, and refused exactly when the key is. */
  async probe(auth: UpstreamAuth, signal?: AbortSignal): Promise<void> {
    const headers: Record<string, string> = auth.apiKey ? { authorization: `Bearer ${auth.apiKey}` } : {};
    await this.transport.json(`${this.options.baseURL.replace(/\/+$/, "")}/models`, { method: "GET", headers, signal }, `${this.options.name} models`, parseOpenAIError);
  }

  /** An OpenAI client's request, forwarded as it is: nothing is lost to a round trip through Gemini JSON. */
  async passthrough(call: PassthroughCall): Promise<Response> {
    const body: Record<string, unknown> = { ...call.body, model: call.model };
    const opened = await this.transport.open(this.url, this.init(body, call.apiKey, call.signal), `${this.options.name} chat/completions`, { unary: body.stream !== true, parseError: parseOpenAIError });
    const headers = new Headers({ "content-type": opened.response.headers.get("content-type") ?? "application/json" });
    if (body.stream === true) {
      headers.set("cache-control", "no-cache");
      headers.set("x-accel-buffering", "no");
    }
    const chunks = opened.body;
    return new Response(new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (error) {
          controller.error(error);
        }
      },
      async cancel() {
        await chunks.return(undefined);
      },
    }), { status: opened.response.status, headers });
  }

  private async *chunks(body: AsyncGenerator<Uint8Array>): AsyncGenerator<Record<string, unknown>> {
    for await (const event of parseSSE(body)) {
      if (event.data.trim() === "[DONE]") return;
      let chunk: Record<string, any>;
      try {
        chunk = JSON.parse(event.data);
      } catch {
        continue;
      }
      if (chunk.error) {
        const error = parseOpenAIError(typeof chunk.error.code === "number" ? chunk.error.code : 500, event.data);
        throw new GatewayError({ status: error.status >= 400 ? error.status : 500, message: error.message, scope: "transient", code: error.code });
      }
      yield chunk;
    }
  }

  private init(body: unknown, apiKey: string | undefined, signal?: AbortSignal): RequestInit {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    // Local servers (Ollama) often need no key at all.
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    return { method: "POST", headers, body: JSON.stringify(body), signal };
  }
}
