// Embeddings (issue 14): the `openai` SDK's embeddings.create and the Gemini SDK's embedContent
// → jellycli → the mock Gemini API's batchEmbedContents; never Code Assist.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { GoogleGenAI } from "@google/genai";
import { MockGoogle, mockEmbedding } from "./mock/google.ts";
import { addReadyAccount, makeWorkspace, readJson, startGateway, testConfig, type Running } from "./helpers.ts";

let mock: MockGoogle;
let gateway: Running;
let openai: OpenAI;

beforeAll(async () => {
  mock = new MockGoogle();
  const workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "alice");
  mock.addApiKey("AIza-embed-key", "keys");
  gateway = await startGateway(testConfig(mock, workspace, { gemini_api_keys: ["AIza-embed-key"], gemini_api_endpoint: mock.url, health_check_interval_s: 0 }));
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await gateway.stop();
  mock.stop();
});

describe("OpenAI embeddings", () => {
  test("one string; the SDK's default base64 decodes to the upstream's exact float32 values", async () => {
    const result = await openai.embeddings.create({ model: "gemini-embedding-001", input: "hello world" });
    expect(result.object).toBe("list");
    expect(result.model).toBe("gemini-embedding-001");
    expect(result.data).toHaveLength(1);
    expect(result.data[0]!.embedding).toEqual(mockEmbedding("hello world", 8));
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
    const call = mock.calls.at(-1)!;
    expect(call.path).toBe("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    expect(mock.generateCalls().filter((entry) => entry.path.startsWith("/v1internal"))).toHaveLength(0);
  });

  test("many, as floats; 150 inputs in two upstream batches, order kept; dimensions", async () => {
    const inputs = Array.from({ length: 150 }, (_, index) => `text number ${index}`);
    const before = mock.embedBatches.length;
    const response = await fetch(`${gateway.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gemini-embedding-001", input: inputs, encoding_format: "float", dimensions: 4 }) });
    const body = await readJson(response);
    expect(body.data.map((entry: { index: number }) => entry.index)).toEqual(inputs.map((_, index) => index));
    body.data.forEach((entry: { embedding: number[] }, index: number) => expect(entry.embedding).toEqual(mockEmbedding(inputs[index]!, 4)));
    expect(mock.embedBatches.slice(before).sort()).toEqual([100, 50]);
    const few = await openai.embeddings.create({ model: "gemini-embedding-001", input: ["a b", "c d"], dimensions: 3 });
    expect(few.data.map((entry) => entry.embedding)).toEqual([mockEmbedding("a b", 3), mockEmbedding("c d", 3)]);
  });

  test("token-id arrays and empty input are 400; a gateway without a Gemini API key says why with 503", async () => {
    for (const input of [[1, 2, 3], [[1, 2]], [], ""]) {
      const response = await fetch(`${gateway.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gemini-embedding-001", input }) });
      expect(response.status).toBe(400);
      expect((await readJson(response)).error.param).toBe("input");
    }
    const bare = await startGateway(testConfig(mock, makeWorkspace(), { health_check_interval_s: 0 }));
    try {
      const response = await fetch(`${bare.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gemini-embedding-001", input: "x" }) });
      expect(response.status).toBe(503);
      expect((await readJson(response)).error.message).toContain("gemini_api_keys");
    } finally {
      await bare.stop();
    }
  });

  test("listed by /v1/models and /v1beta/models", async () => {
    const list = await openai.models.list();
    expect(list.data.map((model) => model.id)).toContain("gemini-embedding-001");
    const native = await readJson(await fetch(`${gateway.url}/v1beta/models/gemini-embedding-001`));
    expect(native.supportedGenerationMethods).toEqual(["embedContent", "batchEmbedContents"]);
  });
});

describe("Gemini-native embeddings", () => {
  test("@google/genai embedContent (one and several) through :batchEmbedContents; :embedContent directly", async () => {
    const ai = new GoogleGenAI({ apiKey: "unused", httpOptions: { baseUrl: gateway.url } });
    const one = await ai.models.embedContent({ model: "gemini-embedding-001", contents: "sky is blue" });
    expect(one.embeddings![0]!.values).toEqual(mockEmbedding("sky is blue", 8));
    const several = await ai.models.embedContent({ model: "gemini-embedding-001", contents: ["one", "two"], config: { outputDimensionality: 5 } });
    expect(several.embeddings!.map((entry) => entry.values)).toEqual([mockEmbedding("one", 5), mockEmbedding("two", 5)]);
    const direct = await readJson(await fetch(`${gateway.url}/v1beta/models/gemini-embedding-001:embedContent`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ content: { parts: [{ text: "direct" }] } }) }));
    expect(direct.embedding.values).toEqual(mockEmbedding("direct", 8));
  });
});

describe("OpenAI-compatible upstreams", () => {
  test("a model the upstream claims is forwarded to its /embeddings", async () => {
    const server = Bun.serve({
      hostname: "127.0.0.1", port: 0,
      fetch: async (request) => {
        const body = await request.json() as { model: string; input: string };
        return Response.json({ object: "list", data: [{ object: "embedding", index: 0, embedding: [0.5, 0.25] }], model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 }, path: new URL(request.url).pathname });
      },
    });
    const local = await startGateway(testConfig(mock, makeWorkspace(), { health_check_interval_s: 0, openai_upstreams: [{ name: "local", base_url: `http://127.0.0.1:${server.port}/v1`, api_keys: [], models: ["nomic-*"], model_mapping: {}, profile: "ollama" }] }));
    try {
      const answer = await readJson(await fetch(`${local.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "nomic-embed-text", input: "x" }) }));
      expect(answer).toMatchObject({ model: "nomic-embed-text", path: "/v1/embeddings", data: [{ embedding: [0.5, 0.25] }] });
    } finally {
      await local.stop();
      server.stop(true);
    }
  });
});
