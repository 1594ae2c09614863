// A scripted mock of an OpenAI-compatible server (/v1/chat/completions): Bearer keys, SSE with
// `data: [DONE]`, tool calls streamed in fragments the way DeepSeek does, reasoning_content,
// a usage chunk when asked, OpenAI error bodies. Every call is recorded.

export type OpenAIScripted =
  | { kind: "text"; text?: string; reasoning?: string; chunks?: string[]; delayMs?: number; finishReason?: string }
  | { kind: "tools"; calls: { name: string; arguments: string; id?: string }[]; reasoning?: string; text?: string; fragmentSize?: number }
  | { kind: "error"; status: number; message?: string; code?: string; headers?: Record<string, string> }
  /** A stream that sends these text chunks, then breaks the connection. */
  | { kind: "drop"; chunks: string[] };

export interface OpenAIRecordedCall {
  path: string;
  key?: string;
  body: any;
  at: number;
}

export class MockOpenAI {
  readonly calls: OpenAIRecordedCall[] = [];
  private readonly keys = new Set<string>();
  private readonly scripts: OpenAIScripted[] = [];
  private server: ReturnType<typeof Bun.serve>;
  /** Whether requests without a key are served (like a local Ollama). */
  openAccess = false;

  constructor(keys: string[] = []) {
    for (const key of keys) this.keys.add(key);
    this.server = Bun.serve({
      hostname: "127.0.0.1", port: 0, idleTimeout: 0,
      fetch: (request) => this.handle(request).catch(() => error(400, "We could not parse the JSON body of your request.", "invalid_request_error")),
    });
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.server.port}/v1`;
  }

  stop(): void {
    this.server.stop(true);
  }

  /** Keys the server accepts can change while it runs (revoked, re-issued). */
  setKeys(keys: string[]): void {
    this.keys.clear();
    for (const key of keys) this.keys.add(key);
  }

  script(...responses: OpenAIScripted[]): void {
    this.scripts.push(...responses);
  }

  private async handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    const key = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    if (request.method === "GET" && path === "/v1/models") {
      this.calls.push({ path, key, body: undefined, at: Date.now() });
      if (!this.openAccess && (!key || !this.keys.has(key))) return error(401, "Incorrect API key provided.", "invalid_api_key");
      return Response.json({ object: "list", data: [{ id: "kimi-k2", object: "model", created: 1, owned_by: "mock" }] });
    }
    if (request.method !== "POST" || path !== "/v1/chat/completions") return error(404, `no route ${request.method} ${path}`, "not_found");
    let body: any;
    try {
      body = await request.json();
    } catch {
      return error(400, "We could not parse the JSON body of your request.", "invalid_json");
    }
    this.calls.push({ path, key, body, at: Date.now() });
    if (!this.openAccess && (!key || !this.keys.has(key))) return error(401, "Incorrect API key provided.", "invalid_api_key");
    if (!Array.isArray(body.messages) || body.messages.length === 0) return error(400, "messages must be a non-empty array", "invalid_request_error");
    const problem = checkToolPairing(body.messages);
    if (problem) return error(400, problem, "invalid_request_error");

    const scripted = this.scripts.shift() ?? { kind: "text" };
    if (scripted.kind === "error") return error(scripted.status, scripted.message ?? `scripted ${scripted.status}`, scripted.code ?? null, scripted.headers);
    const id = `chatcmpl-mock${this.calls.length}`;
    const lastUser = [...body.messages].reverse().find((message: any) => message.role === "user");
    const echo = `Echo: ${typeof lastUser?.content === "string" ? lastUser.content : JSON.stringify(lastUser?.content ?? "")}`;
    if (scripted.kind === "drop") return dropAfter(id, body.model, scripted.chunks);
    const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, completion_tokens_details: { reasoning_tokens: scripted.reasoning ? 3 : 0 } };

    if (body.stream !== true) {
      const message: any = { role: "assistant", content: scripted.kind === "text" ? (scripted.chunks?.join("") ?? scripted.text ?? echo) : scripted.text ?? null };
      if (scripted.reasoning) message.reasoning_content = scripted.reasoning;
      if (scripted.kind === "tools") message.tool_calls = scripted.calls.map((call, index) => ({ id: call.id ?? `call_mock_${index}`, type: "function", function: { name: call.name, arguments: call.arguments } }));
      const finish = scripted.kind === "tools" ? "tool_calls" : scripted.finishReason ?? "stop";
      return Response.json({ id, object: "chat.completion", created: 1, model: body.model, choices: [{ index: 0, message, finish_reason: finish }], usage });
    }

    const chunk = (delta: any, finish: string | null = null) => ({ id, object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] });
    const events: any[] = [chunk({ role: "assistant", content: "" })];
    if (scripted.reasoning) for (const piece of scripted.reasoning.match(/.{1,4}/gs) ?? []) events.push(chunk({ reasoning_content: piece }));
    if (scripted.kind === "text") {
      for (const piece of scripted.chunks ?? [scripted.text ?? echo]) events.push(chunk({ content: piece }));
      events.push(chunk({}, scripted.finishReason ?? "stop"));
    } else {
      if (scripted.text) events.push(chunk({ content: scripted.text }));
      // Fragments the way DeepSeek streams them: id/name first, then pieces of the arguments.
      scripted.calls.forEach((call, index) => {
        events.push(chunk({ tool_calls: [{ index, id: call.id ?? `call_mock_${index}`, type: "function", function: { name: call.name, arguments: "" } }] }));
        for (const piece of call.arguments.match(new RegExp(`.{1,${scripted.fragmentSize ?? 3}}`, "gs")) ?? []) {
          events.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
        }
      });
      events.push(chunk({}, "tool_calls"));
    }
    if (body.stream_options?.include_usage) events.push({ id, object: "chat.completion.chunk", created: 1, model: body.model, choices: [], usage });
    const delayMs = scripted.kind === "text" ? scripted.delayMs ?? 0 : 0;
    const encoder = new TextEncoder();
    return new Response(new ReadableStream<Uint8Array>({
      async start(controller) {
        for (const event of events) {
          if (delayMs) await Bun.sleep(delayMs);
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(event)}\n\n`));
        }
        controller.enqueue(encoder.encode("data: [DONE]\n\n"));
        controller.close();
      },
    }), { headers: { "content-type": "text/event-stream" } });
  }
}

function dropAfter(id: string, model: string, chunks: string[]): Response {
  const encoder = new TextEncoder();
  return new Response(new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const content of chunks) {
        controller.enqueue(encoder.encode(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`));
      }
      await Bun.sleep(50); // let what was sent reach the client before the connection breaks
      controller.error(); // no reason given: the connection breaks and Bun prints nothing
    },
  }), { headers: { "content-type": "text/event-stream" } });
}

/** Real servers reject an assistant tool_calls message whose calls are not all answered next. */
function checkToolPairing(messages: any[]): string | undefined {
  for (const [index, message] of messages.entries()) {
    if (message.role !== "assistant" || !Array.isArray(message.tool_calls)) continue;
    const ids = message.tool_calls.map((call: any) => call.id);
    const answered: string[] = [];
    for (const next of messages.slice(index + 1)) {
      if (next.role !== "tool") break;
      answered.push(next.tool_call_id);
    }
    if (ids.some((id: string) => !answered.includes(id))) {
      return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'.";
    }
  }
  return undefined;
}

function error(status: number, message: string, code: string | null, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { message, type: status === 429 ? "rate_limit_error" : "invalid_request_error", param: null, code } }, { status, headers });
}
