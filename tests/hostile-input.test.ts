// Inputs built to make translators do quadratic or exponential work. Each must be answered —
// translated or refused with a 400 naming the field — in time linear in its size.
import { describe, expect, test } from "bun:test";
import { parseToolArguments, repairJson } from "../src/formats/openai/arguments.ts";
import { openAIRequestToHub } from "../src/formats/openai/request.ts";
import { hubRequestToOpenAI } from "../src/formats/openai/upstream/request.ts";
import { GatewayError, type Content } from "../src/hub.ts";
import { nestingDepth } from "../src/http/app.ts";

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
