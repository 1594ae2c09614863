// Inputs built to make translators do quadratic or exponential work. Each must be answered —
// translated or refused with a 400 naming the field — in time linear in its size.
import { describe, expect, test } from "bun:test";
import { parseToolArguments, repairJson } from "../src/formats/openai/arguments.ts";
import { openAIRequestToHub } from "../src/formats/openai/request.ts";
import { hubRequestToOpenAI } from "../src/formats/openai/upstream/request.ts";
import { GatewayError, type Content } from "../src/hub.ts";
import { nestingDepth } from "../src/http/app.ts";
import { isPublicAddress } from "../src/http/ip-filter.ts";
import { inlineRemoteImages } from "../src/http/remote-images.ts";

const translate = (body: Record<string, unknown>) => openAIRequestToHub({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }], ...body } as never, { model: "gemini-2.5-flash" });
const refusal = (run: () => unknown): GatewayError => {
  try {
    run();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error("expected a GatewayError");
};

describe("linear translators", () => {
  test("tool-call arguments with 100,000 spaces before a bareword are repaired, not backtracked over", () => {
    const text = `{"a": x${" ".repeat(100_000)}y`;
    expect(parseToolArguments(text)).toEqual({ a: `x${" ".repeat(100_000)}y` });
    expect(repairJson('{"city": 北京, "ok": true, "n": nul')).toBe('{"city": "北京", "ok": true, "n": "nul"}');
    expect(repairJson('{"a": "b: c", "d": [1, 2')).toBe('{"a": "b: c", "d": [1, 2]}');
  });

  test("8,000 tool names that sanitise to the same string each get their own name", () => {
    const tools = Array.from({ length: 8000 }, (_, index) => ({ type: "function", function: { name: String.fromCodePoint(0x4e00 + index), parameters: { type: "object" } } }));
    const { request, toolNames } = translate({ tools });
    const declared = (request.tools![0]!.functionDeclarations as { name: string }[]).map((declaration) => declaration.name);
    expect(new Set(declared).size).toBe(8000);
    expect(toolNames.toOpenAI(declared[7999]!)).toBe(String.fromCodePoint(0x4e00 + 7999));
  });

  test("20,000 tool calls pair with 20,000 results given in reverse order", () => {
    const calls = Array.from({ length: 20_000 }, (_, index) => ({ id: `c${index}`, type: "function", function: { name: "f", arguments: "{}" } }));
    const results = calls.map((call) => ({ role: "tool", tool_call_id: call.id, content: `result ${call.id}` })).reverse();
    const { request } = translate({ messages: [{ role: "user", content: "go" }, { role: "assistant", content: null, tool_calls: calls }, ...results] });
    const responses = request.contents[2]!.parts.map((part) => part.functionResponse!);
    expect(responses).toHaveLength(20_000);
    expect(responses[12_345]).toMatchObject({ id: "c12345", response: { output: "result c12345" } });
  });

  test("20,000 Gemini function calls pair with their responses on the way to an OpenAI server", () => {
    const calls = Array.from({ length: 20_000 }, (_, index) => ({ functionCall: { name: "f", id: `g${index}`, args: {} } }));
    const contents: Content[] = [
      { role: "user", parts: [{ text: "go" }] },
      { role: "model", parts: calls },
      { role: "user", parts: calls.map((call) => ({ functionResponse: { name: "f", response: { output: call.functionCall.id } } })) },
    ];
    const { body } = hubRequestToOpenAI({ contents }, { model: "m", profile: "generic", stream: false });
    const tools = (body.messages as { role: string; tool_call_id?: string; content?: string }[]).filter((message) => message.role === "tool");
    expect(tools).toHaveLength(20_000);
    expect(tools[19_999]).toMatchObject({ tool_call_id: "g19999", content: "g19999" });
  });

  test("a $defs bomb (7 levels × 8 references) is refused with a 400 naming the field", () => {
    const defs: Record<string, unknown> = {};
    for (let level = 0; level < 7; level++) {
      const properties: Record<string, unknown> = {};
      for (let index = 0; index < 8; index++) properties[`p${index}`] = level === 6 ? { type: "string" } : { $ref: `#/$defs/l${level + 1}` };
      defs[`l${level}`] = { type: "object", properties };
    }
    const parameters = { type: "object", properties: { root: { $ref: "#/$defs/l0" } }, $defs: defs };
    const error = refusal(() => translate({ tools: [{ type: "function", function: { name: "f", parameters } }] }));
    expect(error.status).toBe(400);
    expect(error.param).toBe("tools[0].function.parameters");
    // Three levels of the same shape (585 nodes) are fine.
    const small = { type: "object", properties: { root: { $ref: "#/$defs/l4" } }, $defs: defs };
    expect(translate({ tools: [{ type: "function", function: { name: "f", parameters: small } }] }).request.tools).toHaveLength(1);
  });

  test("unclosed <think> tags are stripped in one pass", () => {
    const text = "<think>".repeat(50_000) + "answer";
    const { request } = openAIRequestToHub({ model: "m", messages: [{ role: "user", content: "q" }, { role: "assistant", content: text }, { role: "user", content: "more" }] } as never, { model: "gemini-2.5-flash", reasoningField: "think_tags" });
    expect(request.contents[1]!.parts[0]!.text).toBe(text);
    const closed = openAIRequestToHub({ model: "m", messages: [{ role: "user", content: "q" }, { role: "assistant", content: "<think>x</think>\n answer" }, { role: "user", content: "more" }] } as never, { model: "gemini-2.5-flash", reasoningField: "think_tags" });
    expect(closed.request.contents[1]!.parts[0]!.text).toBe("answer");
  });

  test("nesting depth is measured without recursion, strings skipped", () => {
    expect(nestingDepth(`${"[".repeat(100_000)}${"]".repeat(100_000)}`)).toBe(100_000);
    expect(nestingDepth('{"a": "[[[[{{{{", "b": [1, {"c": "\\\\"]"}]}')).toBe(3);
  });
});

describe("isPublicAddress", () => {
  test.each([
    ["8.8.8.8", true], ["93.184.216.34", true], ["2606:4700:4700::1111", true], ["::ffff:8.8.8.8", true],
    ["127.0.0.1", false], ["127.255.0.9", false], ["0.0.0.0", false], ["10.1.2.3", false], ["172.16.0.1", false], ["172.31.255.255", false],
    ["192.168.1.1", false], ["169.254.169.254", false], ["100.64.0.1", false], ["100.127.255.255", false], ["224.0.0.1", false], ["255.255.255.255", false],
    ["::1", false], ["::", false], ["fe80::1", false], ["fc00::1", false], ["fd12:3456::1", false], ["ff02::1", false],
    ["::ffff:127.0.0.1", false], ["::ffff:7f00:1", false], ["::ffff:10.0.0.1", false], ["64:ff9b::a9fe:a9fe", false], ["2002:7f00:1::", false],
    ["172.32.0.1", true], ["100.128.0.1", true], ["not-an-ip", false],
  ])("%s → %p", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe("remote images: no SSRF", () => {
  const PUBLIC = "93.184.216.34";
  const png = () => new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), { headers: { "content-type": "image/png" } });
  const messages = (...urls: string[]) => [{ role: "user", content: urls.map((url) => ({ type: "image_url", image_url: { url } })) }];
  function harness(route: (url: URL) => Response, addresses: Record<string, string[]> = {}) {
    const seen: string[] = [];
    const options = {
      maxBytes: 1024, timeoutMs: 1000, allowPrivate: false,
      resolve: async (host: string) => addresses[host] ?? [PUBLIC],
      fetch: (async (input: URL | string) => {
        const url = new URL(String(input));
        seen.push(url.hostname);
        return route(url);
      }) as typeof fetch,
    };
    return { seen, options };
  }
  const refused = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => undefined, (caught) => caught);
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  };

  test.each(["http://127.0.0.1/x.png", "http://2130706433/x.png", "http://[::ffff:127.0.0.1]/x.png", "http://[::1]:8080/x.png", "http://169.254.169.254/latest/meta-data", "http://0x7f.1/x.png"])("%s is refused without a connection", async (url) => {
    const { seen, options } = harness(png);
    const error = await refused(inlineRemoteImages(messages(url), options));
    expect(error.status).toBe(400);
    expect(error.param).toBe("messages[0].content[0].image_url.url");
    expect(seen).toEqual([]);
  });

  test("a name that resolves to a private address is refused", async () => {
    const { seen, options } = harness(png, { "intranet.example": ["10.0.0.5"], "mixed.example": [PUBLIC, "192.168.0.2"] });
    expect((await refused(inlineRemoteImages(messages("http://intranet.example/a.png"), options))).message).toContain("private or local network");
    await refused(inlineRemoteImages(messages("https://mixed.example/a.png"), options));
    expect(seen).toEqual([]);
  });

  test("credentials in the URL are refused", async () => {
    const { seen, options } = harness(png);
    expect((await refused(inlineRemoteImages(messages("http://user@images.example/a.png"), options))).message).toContain("credentials");
    expect(seen).toEqual([]);
  });

  test("the connection goes to the address that was checked, the name in Host", async () => {
    const { seen, options } = harness(png);
    const [message] = await inlineRemoteImages(messages("https://images.example/a.png"), options) as any[];
    expect(message.content[0].image_url.url).toBe("data:image/png;base64,iVBORw==");
    expect(seen).toEqual([PUBLIC]);
  });

  test("a redirect to an internal address is checked again and refused; more than three redirects too", async () => {
    const toInternal = harness((url) => (url.pathname === "/a.png" ? new Response(null, { status: 302, headers: { location: "http://127.0.0.1:9/secret" } }) : png()));
    await refused(inlineRemoteImages(messages("https://images.example/a.png"), toInternal.options));
    expect(toInternal.seen).toEqual([PUBLIC]);
    const loop = harness(() => new Response(null, { status: 302, headers: { location: "/again" } }));
    expect((await refused(inlineRemoteImages(messages("https://images.example/a.png"), loop.options))).message).toContain("more than 3 redirects");
  });

  test("the remote status is not told to the client", async () => {
    const { options } = harness(() => new Response("secret admin page", { status: 403 }));
    const error = await refused(inlineRemoteImages(messages("https://images.example/a.png"), options));
    expect(error.message).not.toContain("403");
    expect(error.message).not.toContain("secret");
  });

  test("a byte budget for all images together, and a cap on how many", async () => {
    const { options } = harness(() => new Response(new Uint8Array(600), { headers: { "content-type": "image/png" } }));
    expect((await refused(inlineRemoteImages(messages("https://a.example/1.png", "https://a.example/2.png"), options))).message).toContain("exceed 1024 bytes together");
    const many = Array.from({ length: 17 }, (_, index) => `https://a.example/${index}.png`);
    expect((await refused(inlineRemoteImages(messages(...many), options))).message).toContain("At most 16 images");
  });
});
