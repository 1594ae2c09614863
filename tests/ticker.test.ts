// The one timer behind keep-alives and idle deadlines: watches fire after their silence, touches and
// pauses postpone them, and one watch that throws does not starve the others.
import { expect, test } from "bun:test";
import { TICK_MS, watchSilence } from "../src/ticker.ts";

test("fires after silence; touch and pause postpone; a throwing watch does not stop the others", async () => {
  const fired: string[] = [];
  // Registered first, so the tick meets it before the others.
  const broken = watchSilence(TICK_MS, () => {
    throw new Error("socket closed");
  });
  const quiet = watchSilence(TICK_MS, () => fired.push("quiet"));
  const busy = watchSilence(TICK_MS * 4, () => fired.push("busy"));
  const paused = watchSilence(TICK_MS, () => fired.push("paused"));
  paused.pause();
  const keepBusy = setInterval(() => busy.touch(), TICK_MS / 5);
  await Bun.sleep(TICK_MS * 3.5);
  clearInterval(keepBusy);
  for (const watch of [quiet, busy, paused, broken]) watch.stop();
  expect(fired.filter((name) => name === "quiet").length).toBeGreaterThanOrEqual(1);
  expect(fired).not.toContain("busy");
  expect(fired).not.toContain("paused");
});
