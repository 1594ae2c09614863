// Forced full collections: only while many streams are open, spaced so they take a small share of
// the time, and never with few streams.
import { expect, test } from "bun:test";
import { collectionDue, HEAP_DEFAULTS, startHeapHygiene } from "../src/heap.ts";

test("due only with many streams open, spaced by the pause it cost", () => {
  const options = { minStreams: 256, maxShare: 0.03, minIntervalMs: 2_000 };
  const cases: [now: number, lastAt: number, pauseMs: number, streams: number, due: boolean][] = [
    [10_000, 0, 0, 255, false], // few streams: the collector's own schedule
    [10_000, 0, 0, 256, true],
    [1_999, 0, 0, 5_000, false], // never more often than minIntervalMs
    [2_000, 0, 0, 5_000, true],
    [2_000, 0, 70, 5_000, false], // a 70 ms pause → at most one per 2.33 s
    [2_334, 0, 70, 5_000, true],
    [10_000, 0, 300, 5_000, true],
    [9_999, 0, 300, 5_000, false],
  ];
  for (const [now, at, pauseMs, streams, due] of cases) expect([now, at, pauseMs, streams, collectionDue(now, { at, pauseMs }, streams, options)]).toEqual([now, at, pauseMs, streams, due]);
  expect(HEAP_DEFAULTS.minStreams).toBeGreaterThan(32); // the throughput bench's 32 connections never trigger it
});

test("the timer collects while streams are open and stops when told", async () => {
  let streams = 0;
  const collected: number[] = [];
  const hygiene = startHeapHygiene({ openStreams: () => streams, minStreams: 2, minIntervalMs: 0, checkEveryMs: 10, collect: () => {}, onCollect: (_, open) => collected.push(open) });
  await Bun.sleep(60);
  expect(collected).toEqual([]);
  streams = 3;
  await Bun.sleep(60);
  expect(collected.length).toBeGreaterThan(0);
  expect(collected.every((open) => open === 3)).toBe(true);
  hygiene.stop();
  const count = collected.length;
  await Bun.sleep(40);
  expect(collected.length).toBe(count);
});
