import { describe, expect, test } from "bun:test";
import { compact, percent, relative, span, toCsv } from "../src/admin/format.ts";

describe("numbers and times for people (admin page)", () => {
  test("compact numbers", () => {
    expect([0, 7, 999, 1000, 1234, 12_345, 999_499, 1_500_000, 27_000_000, 3.2e9, -1500].map(compact))
      .toEqual(["0", "7", "999", "1k", "1.2k", "12k", "999k", "1.5M", "27M", "3.2G", "-1.5k"]);
  });
  test("percentages", () => {
    expect([0, 0.0004, 0.0123, 0.25, 1].map(percent)).toEqual(["0%", "<0.1%", "1.2%", "25%", "100%"]);
  });
  test("spans and relative times", () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    expect(span(42_000)).toBe("42 s");
    expect(span(3 * 60_000 + 20_000)).toBe("3 min");
    expect(span(2 * 3_600_000 + 5 * 60_000)).toBe("2 h 5 min");
    expect(span(4 * 86_400_000 + 3 * 3_600_000 + 60_000)).toBe("4 d 3 h");
    expect(relative("2026-12-01T12:03:00Z", now)).toBe("in 3 min");
    expect(relative(now - 2 * 3_600_000, now)).toBe("2 h ago");
    expect(relative(now + 1_000, now)).toBe("just now");
    expect(relative(null, now)).toBe("never");
  });
  test("CSV: quoted where needed, CRLF lines", () => {
    expect(toCsv(["key", "requests"], [{ key: "a,b", requests: 1 }, { key: 'say "hi"', requests: 2 }, { key: "plain" }]))
      .toBe('key,requests\r\n"a,b",1\r\n"say ""hi""",2\r\nplain,\r\n');
  });
});
