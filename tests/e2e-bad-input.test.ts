// Bad input is answered in the OpenAI error format with the right status, and the server lives on.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/http/app.ts";
import { createLogger } from "../src/log.ts";
import { Pool } from "../src/pool/pool.ts";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, startGateway, testConfig, type Running , readJson } from "./helpers.ts";

let mock: MockGoogle;
let gateway: Running;

beforeAll(async () => {
  mock = new MockGoogle();
  const workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "a");
  gateway = await startGateway(testConfig(mock, workspace, { max_body_bytes: 4096 }));
});

afterAll(async () => {
  await gateway.stop();
  mock.stop();
});

async function expectOpenAIError(response: Response, status: number, messagePart: string, param?: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toStartWith("application/json");
  const body = await readJson(response);
  expect(Object.keys(body)).toEqual(["error"]);
  const error = body.error;
  expect(typeof error.message).toBe("string");
  expect(error.message).toContain(messagePart);
  expect(typeof error.type).toBe("string");
  expect(Object.keys(error).sort()).toEqual(["code", "message", "param", "type"]);
  if (param !== undefined) expect(error.param).toBe(param);
  return error;
}

describe("malformed requests", () => {
  test("malformed JSON → 400", async () => {
    const error = await expectOpenAIError(await chat(gateway.url, '{"model": "gemini-2.5-pro", "messages": ['), 400, "not valid JSON");
    expect(error.type).toBe("invalid_request_error");
  });

  test("an empty body → 400", async () => {
    await expectOpenAIError(await chat(gateway.url, ""), 400, "empty");
  });

  test("missing model → 400 naming model", async () => {
    await expectOpenAIError(await chat(gateway.url, { messages: [{ role: "user", content: "hi" }] }), 400, "model", "model");
  });

  test("model of the wrong type → 400 naming model", async () => {
    await expectOpenAIError(await chat(gateway.url, { model: 42, messages: [{ role: "user", content: "hi" }] }), 400, "model", "model");
  });

  test("missing messages → 400 naming messages", async () => {
    await expectOpenAIError(await chat(gateway.url, { model: "gemini-2.5-pro" }), 400, "messages", "messages");
  });

  test("messages of the wrong type → 400 naming messages", async () => {
    await expectOpenAIError(await chat(gateway.url, { model: "gemini-2.5-pro", messages: "hi" }), 400, "messages", "messages");
  });

  test("empty messages → 400", async () => {
    await expectOpenAIError(await chat(gateway.url, { model: "gemini-2.5-pro", messages: [] }), 400, "messages", "messages");
  });

  test("a message without a role → 400 naming the message", async () => {
    await expectOpenAIError(await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ content: "hi" }] }), 400, "messages[0]", "messages[0].role");
  });

  test("a wrong-typed sampling field → 400 naming it", async () => {
    await expectOpenAIError(await chat(gateway.url, { model: "gemini-2.5-pro", temperature: "hot", messages: [{ role: "user", content: "hi" }] }), 400, "temperature", "temperature");
  });

  test("a JSON array instead of an object → 400", async () => {
    await expectOpenAIError(await chat(gateway.url, "[1,2]"), 400, "");
  });

  test("a body over max_body_bytes → 413", async () => {
    const big = { model: "gemini-2.5-pro", messages: [{ role: "user", content: "x".repeat(10_000) }] };
    const error = await expectOpenAIError(await chat(gateway.url, big), 413, "max_body_bytes");
    expect(error.code).toBe("request_too_large");
  });

  test("a chunked body over max_body_bytes (no content-length) → 413", async () => {
    const encoder = new TextEncoder();
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode('{"model":"gemini-2.5-pro","messages":[{"role":"user","content":"'));
        for (let index = 0; index < 10; index++) controller.enqueue(encoder.encode("y".repeat(1000)));
        controller.enqueue(encoder.encode('"}]}'));
        controller.close();
      },
    });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await expectOpenAIError(response, 413, "max_body_bytes");
  });

  test("an unknown route → 404", async () => {
    const error = await expectOpenAIError(await fetch(`${gateway.url}/v1/engines`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }), 404, "/v1/engines");
    expect(error.type).toBe("invalid_request_error");
  });

  test("after all of that the server still answers", async () => {
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "still there?" }] });
    expect(response.status).toBe(200);
    expect((await readJson(response)).choices[0].message.content).toBe("Echo: still there?");
  });
});

describe("upstream and internal failures", () => {
  test("an upstream 4xx keeps its status and message", async () => {
    mock.script("a", { kind: "error", status: 403, body: { error: { code: 403, message: "The caller does not have permission", status: "PERMISSION_DENIED" } } });
    // With one credential the 403 is final: the client hears it as the upstream said it.
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    const error = await expectOpenAIError(response, 403, "The caller does not have permission");
    expect(error.type).toBe("permission_error");
  });

  test("an unexpected exception → 500 with a request id, logged with the stack and no secrets", async () => {
    const lines: string[] = [];
    const log = createLogger("debug", (line) => lines.push(line));
    const boom = {
      passthrough: () => undefined,
      generate: () => {
        throw new TypeError("cannot read properties of undefined (token ya29.secret-token-value)");
      },
    };
    const app = createApp({
      executor: boom as never, pools: [{ name: "codeassist", pool: new Pool([], new Map(), { callsPerRotation: 1 }) }], passwords: [], corsOrigins: [], listedModels: () => ["m"],
      maxBodyBytes: 1 << 20, keepaliveMs: 1000, fakeStreamKeepaliveMs: 1000, version: "test", log, now: Date.now,
      reasoningField: "reasoning_content", schemaProfile: "json_schema", remoteImages: null,
    });
    const response = await app.fetch(new Request("http://localhost/v1/chat/completions", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }),
    }));
    const error = await expectOpenAIError(response, 500, "request id");
    const requestId = response.headers.get("x-request-id")!;
    expect(error.message).toContain(requestId);
    expect(error.message).not.toContain("ya29");
    expect(lines.join("")).toContain(requestId);
    expect(lines.join("")).toContain("TypeError");
    expect(lines.join("")).not.toContain("secret-token-value");
  });
});
