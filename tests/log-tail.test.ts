import { expect, test } from "bun:test";
import { LogTail } from "../src/log-tail.ts";

test("the tail keeps the newest entries, oldest first, and pages by cursor", () => {
  const tail = new LogTail(1000);
  const entry = (index: number) => ({ at: index, method: "POST", path: "/v1/chat/completions", status: 200, ms: index });
  for (let index = 1; index <= 1500; index++) tail.push(entry(index));
  const all = tail.after(0);
  expect(all).toHaveLength(1000);
  expect(all[0]!.cursor).toBe(501);
  expect(all.at(-1)!.cursor).toBe(1500);
  expect(tail.after(1495).map((item) => item.cursor)).toEqual([1496, 1497, 1498, 1499, 1500]);
  expect(tail.after(1500)).toEqual([]);
});
