// OpenAI-compatible servers (Kimi, DeepSeek, Ollama, vLLM …). Gemini-shaped requests are
// translated by formats/openai/upstream; OpenAI-shaped ones are forwarded untouched (passthrough).
import { hubRequestToOpenAI, type UpstreamProfile } from "../formats/openai/upstream/request.ts";
import { openAIResponseToHub } from "../formats/openai/upstream/response.ts";
import { openAIStreamToHub } from "../formats/openai/upstream/stream.ts";
import { estimateTokens } from "../formats/token-estimate.ts";
import type { CountTokensResponse, GenerateContentResponse } from "../hub.ts";
import { sseJson } from "./sse-parse.ts";
import { Transport, type TransportOptions } from "./transport.ts";
import type { PassthroughCall, RawAnswer, Upstream, UpstreamAuth, UpstreamCall } from "./types.ts";
import { openAIEventError, parseOpenAIError } from "./upstream-error.ts";

export interface OpenAICompatOptions extends TransportOptions {
  name: string;
  baseURL: string;
  profile: UpstreamProfile;
}

export class OpenAICompatUpstream implements Upstream {
  private readonly transport: Transport;
  private readonly url: string;
  private readonly base: string;

  constructor(private readonly options: OpenAICompatOptions) {
    this.transport = new Transport(options);
    this.base = options.baseURL.replace(/\/+$/, "");
    this.url = `${this.base}/chat/completions`;
  }

  async generate(call: UpstreamCall): Promise<GenerateContentResponse> {
    const { body, toolNames } = hubRequestToOpenAI(call.request, { model: call.model, profile: this.options.profile, stream: false });
    const response = await this.transport.json<Record<string, unknown>>(this.url, this.init(body, call.auth.apiKey, call.signal), `${this.options.name} chat/completions`, { parseError: parseOpenAIError, observe: call.observe });
    return openAIResponseToHub(response, { toolNames, modelVersion: call.model });
  }

  async stream(call: UpstreamCall): Promise<AsyncIterable<GenerateContentResponse>> {
    const { body, toolNames } = hubRequestToOpenAI(call.request, { model: call.model, profile: this.options.profile, stream: true });
    const opened = await this.transport.open(this.url, this.init(body, call.auth.apiKey, call.signal), `${this.options.name} chat/completions`, { parseError: parseOpenAIError, observe: call.observe });
    return openAIStreamToHub(sseJson(opened.body, openAIEventError, (chunk) => chunk), { toolNames, modelVersion: call.model });
  }

  /** OpenAI servers cannot count Gemini requests: a local estimate, never a 404. */
  async countTokens(call: UpstreamCall): Promise<CountTokensResponse> {
    const totalTokens = estimateTokens(call.request);
    return { totalTokens, promptTokensDetails: [{ modality: "TEXT", tokenCount: totalTokens }] };
  }

  /** GET /models: free, and refused exactly when the key is. */
  async probe(auth: UpstreamAuth, signal?: AbortSignal): Promise<void> {
    const headers: Record<string, string> = auth.apiKey ? { authorization: `Bearer ${auth.apiKey}` } : {};
    await this.transport.json(`${this.options.baseURL.replace(/\/+$/, "")}/models`, { method: "GET", headers, signal }, `${this.options.name} models`, { parseError: parseOpenAIError });
  }

  /**
   * An OpenAI client's request, forwarded as it is: nothing is lost to a round trip through Gemini
   * JSON. A unary answer is read whole here, so a connection that breaks mid-body is still an
   * error the executor can fail over; a stream is handed on as it arrives.
   */
  async passthrough(call: PassthroughCall): Promise<RawAnswer> {
    const body: Record<string, unknown> = { ...call.body, model: call.model };
    const streamed = body.stream === true;
    const endpoint = call.endpoint ?? "chat/completions";
    const url = `${this.base}/${endpoint}`;
    const what = `${this.options.name} ${endpoint}`;
    const init = this.init(body, call.auth.apiKey, call.signal);
    const options = { parseError: parseOpenAIError, observe: call.observe };
    if (!streamed) {
      const { response, text } = await this.transport.text(url, init, what, options);
      const bytes = new TextEncoder().encode(text);
      return { contentType: response.headers.get("content-type") ?? "application/json", streamed, body: (async function* () { yield bytes; })() };
    }
    const opened = await this.transport.open(url, init, what, options);
    return { contentType: opened.response.headers.get("content-type") ?? "text/event-stream", streamed, body: opened.body };
  }

  private init(body: unknown, apiKey: string | undefined, signal?: AbortSignal): RequestInit {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    // Local servers (Ollama) often need no key at all.
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    return { method: "POST", headers, body: JSON.stringify(body), signal };
  }
}
