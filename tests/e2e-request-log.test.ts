// Request logging: one summary line per request; in full mode, the four stages per request id on
// disk — with secrets and base64 media redacted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../src/log.ts";
import { MockGoogle } from "./mock/google.ts";
import { chat, makeWorkspace, readJson, startGateway, testConfig, type Running } from "./helpers.ts";

const KEY = "AIza-secret-key-0123456789abcdef";
const IMAGE = "iVBORw0KGgo".repeat(20);
let google: MockGoogle;
let workspace: ReturnType<typeof makeWorkspace>;
let gateway: Running;
const lines: string[] = [];

beforeAll(async () => {
  google = new MockGoogle();
  google.addApiKey(KEY, "logged");
  workspace = makeWorkspace();
  gateway = await startGateway(testConfig(google, workspace, {
    gemini_api_keys: [KEY], gemini_api_endpoint: google.url, log_requests: "full", log_dir: join(workspace.dir, "logs"),
  }), createLogger("info", (line) => lines.push(line)));
});

afterAll(async () => {
  await gateway.stop();
  google.stop();
});

describe("request logging", () => {
  test("a summary line names method, path, status, model, upstream, credential fingerprint, duration and tokens", async () => {
    const response = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "log me" }] });
    expect(response.status).toBe(200);
    await readJson(response);
    await Bun.sleep(100);
    const line = lines.find((entry) => entry.includes(" request ") && entry.includes("/v1/chat/completions"))!;
    expect(line).toMatch(/method=POST path=\/v1\/chat\/completions status=200 model=gemini-2.5-flash upstream=gemini_api credential=gemini-api:[0-9a-f]{8} ms=\d+ tokens=\d+/);
    expect(lines.join("")).not.toContain(KEY);
  });

  test("full mode writes the four stages per request, with the key and base64 media redacted", async () => {
    const response = await chat(gateway.url, {
      model: "gemini-2.5-flash", stream: true,
      messages: [{ role: "user", content: [{ type: "text", text: "see" }, { type: "image_url", image_url: { url: `data:image/png;base64,${IMAGE}` } }] }],
    });
    const body = await response.text();
    expect(body).toContain("data: [DONE]");
    await Bun.sleep(200);
    const files = readdirSync(join(workspace.dir, "logs"));
    const records = files.map((file) => JSON.parse(readFileSync(join(workspace.dir, "logs", file), "utf8")));
    const record = records.find((entry) => entry.client_request?.stream === true)!;
    expect(record).toMatchObject({ method: "POST", path: "/v1/chat/completions", status: 200, upstream: "gemini_api" });
    expect(record.client_request.messages[0].content[1].image_url.url).toMatch(/^data:image\/png;base64,<\d+ chars redacted>$/);
    expect(record.upstream_request.contents[0].parts[1].inlineData.data).toMatch(/redacted/);
    expect(typeof record.upstream_response).toBe("string");
    expect(record.client_response).toContain("data: [DONE]");
    const everything = files.map((file) => readFileSync(join(workspace.dir, "logs", file), "utf8")).join("");
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain(IMAGE);
  });
});
