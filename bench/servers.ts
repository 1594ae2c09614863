// The two servers `bun run bench` measures against, each run as its own process:
//   bun bench/servers.ts upstream PORT [EVENT_MS] [EVENTS]  a fast upstream in every shape jellycli
//       speaks (Code Assist, Gemini API, OpenAI-compatible) with fixed, realistic bodies; streams of
//       EVENTS events (15), EVENT_MS apart (0: at once)
//   bun bench/servers.ts floor PORT UPSTREAM_URL             a bare pass-through proxy: fetch + pipe,
//       no parsing — the floor a gateway cannot beat
const [mode, portText, third, fourth] = process.argv.slice(2);
const port = Number(portText);
const encoder = new TextEncoder();

const ANSWER = "The quick brown fox jumps over the lazy dog. ".repeat(6).trim();
const WORDS = ANSWER.split(" ");

function geminiChunk(text: string, last: boolean) {
  return {
    candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0, ...(last ? { finishReason: "STOP" } : {}) }],
    usageMetadata: last ? { promptTokenCount: 12, candidatesTokenCount: 54, totalTokenCount: 66 } : { trafficType: "PROVISIONED_THROUGHPUT" },
    modelVersion: "gemini-2.5-flash",
    responseId: "bench-response-id",
  };
}

function openAIChunk(text: string, last: boolean) {
  return { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1, model: "bench", choices: [{ index: 0, delta: last ? {} : { content: text }, finish_reason: last ? "stop" : null }] };
}

/** The text of `events` stream events: the answer split into that many pieces. */
function pieces(events: number): string[] {
  const size = Math.ceil(WORDS.length / events);
  return Array.from({ length: events }, (_, index) => `${WORDS.slice(index * size, (index + 1) * size).join(" ")} `);
}

function upstream(eventMs: number, events: number) {
  const parts = pieces(events);
  const envelope = (body: object) => ({ response: body, traceId: "bench-trace" });
  const unaryCodeAssist = JSON.stringify(envelope(geminiChunk(ANSWER, true)));
  const unaryGemini = JSON.stringify(geminiChunk(ANSWER, true));
  const unaryOpenAI = JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion", created: 1, model: "bench", choices: [{ index: 0, message: { role: "assistant", content: ANSWER }, finish_reason: "stop" }], usage: { prompt_tokens: 12, completion_tokens: 54, total_tokens: 66 } });
  const frames = (shape: "codeassist" | "gemini" | "openai") => parts.map((text, index) => {
    const last = index === parts.length - 1;
    const body = shape === "openai" ? openAIChunk(text, last) : shape === "gemini" ? geminiChunk(text, last) : envelope(geminiChunk(text, last));
    return encoder.encode(`data: ${JSON.stringify(body)}\n\n`);
  });
  const streams = { codeassist: frames("codeassist"), gemini: frames("gemini"), openai: [...frames("openai"), encoder.encode("data: [DONE]\n\n")] };
  const sse = (chunks: Uint8Array[]) => {
    if (eventMs === 0) return new Response(new Blob(chunks), { headers: { "content-type": "text/event-stream" } });
    let index = 0;
    return new Response(new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (index >= chunks.length) return controller.close();
        if (index > 0) await Bun.sleep(eventMs);
        controller.enqueue(chunks[index++]!);
      },
    }), { headers: { "content-type": "text/event-stream" } });
  };
  const json = (text: string) => new Response(text, { headers: { "content-type": "application/json" } });
  Bun.serve({
    port, hostname: "127.0.0.1", idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      await request.arrayBuffer();
      const path = url.pathname;
      if (path === "/v1internal:generateContent") return json(unaryCodeAssist);
      if (path === "/v1internal:streamGenerateContent") return sse(streams.codeassist);
      if (path.endsWith(":generateContent")) return json(unaryGemini);
      if (path.endsWith(":streamGenerateContent")) return sse(streams.gemini);
      if (path === "/v1/chat/completions") return request.headers.get("x-bench-stream") === "1" ? sse(streams.openai) : json(unaryOpenAI);
      if (path === "/token") return Response.json({ access_token: "ya29.bench", expires_in: 3599, token_type: "Bearer" });
      return new Response("not found", { status: 404 });
    },
  });
}

function floor(upstreamUrl: string) {
  Bun.serve({
    port, hostname: "127.0.0.1", idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const answer = await fetch(`${upstreamUrl}${url.pathname}${url.search}`, { method: request.method, headers: request.headers, body: request.body });
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },
  });
}

if (mode === "upstream") upstream(Number(third ?? 0), Number(fourth ?? 15));
else if (mode === "floor") floor(third!);
else {
  console.error("usage: bun bench/servers.ts upstream PORT [EVENT_MS] [EVENTS] | floor PORT UPSTREAM_URL");
  process.exit(2);
}
process.stdout.write("ready\n");
