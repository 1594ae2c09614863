import { describe, expect, test } from "bun:test";
import { parseSSE } from "../src/upstreams/sse-parse.ts";

async function* bytes(...pieces: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) yield typeof piece === "string" ? new TextEncoder().encode(piece) : piece;
}

async function collect(source: AsyncIterable<Uint8Array>) {
  const events = [];
  for await (const event of parseSSE(source)) events.push(event);
  return events;
}

describe("parseSSE", () => {
  test("events end at a blank line; data lines are joined with \\n", async () => {
    expect(await collect(bytes("data: a\n\ndata: b\ndata: c\n\n"))).toEqual([{ event: undefined, data: "a" }, { event: undefined, data: "b\nc" }]);
  });

  test("\\r\\n and \\r line endings, split anywhere, including between \\r and \\n", async () => {
    expect(await collect(bytes("data: one\r", "\n\r", "\ndata: two\r\r"))).toEqual([{ event: undefined, data: "one" }, { event: undefined, data: "two" }]);
  });

  test("a UTF-8 character split across chunks comes out whole", async () => {
    const encoded = new TextEncoder().encode('data: {"t":"你好👋"}\n\n');
    const pieces = Array.from(encoded, (byte) => new Uint8Array([byte]));
    expect((await collect(bytes(...pieces)))[0]!.data).toBe('{"t":"你好👋"}');
  });

  test("comments, id and retry lines are ignored; event names are kept", async () => {
    expect(await collect(bytes(": keep-alive\n\nid: 1\nretry: 5\nevent: error\ndata: x\n\n"))).toEqual([{ event: "error", data: "x" }]);
  });

  test("data without a space after the colon is still data", async () => {
    expect((await collect(bytes("data:{}\n\n")))[0]!.data).toBe("{}");
  });

  test("a last event with no blank line before EOF is still delivered", async () => {
    expect(await collect(bytes("data: a\n\ndata: tail"))).toEqual([{ event: undefined, data: "a" }, { event: undefined, data: "tail" }]);
    expect(await collect(bytes("data: a\n"))).toEqual([{ event: undefined, data: "a" }]);
  });

  test("an empty stream yields nothing", async () => {
    expect(await collect(bytes())).toEqual([]);
  });
});
