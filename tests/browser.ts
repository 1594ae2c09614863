// A real headless Chromium for the admin page's tests, driven by puppeteer-core. The browser is the
// system's (Debian package `chromium`; .ci/run installs it); CHROME_PATH names another.
import { existsSync } from "node:fs";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"];

export function chromiumPath(): string {
  const path = [process.env.CHROME_PATH, ...CANDIDATES].find((candidate) => candidate && existsSync(candidate));
  if (!path) throw new Error("No Chromium found: install it (apt-get install chromium) or set CHROME_PATH; the admin page's tests need a real browser.");
  return path;
}

export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(), headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--metrics-recording-only", "--disable-default-apps"],
  });
}

/** Waits until the page's text contains `text` (or matches it). */
export async function waitForText(page: Page, text: string | RegExp, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await page.evaluate(() => (globalThis as any).document.body.innerText as string);
    if (typeof text === "string" ? body.includes(text) : text.test(body)) return;
    if (Date.now() > deadline) throw new Error(`page never showed ${text}; it shows:\n${body.slice(0, 2000)}`);
    await Bun.sleep(50);
  }
}

/** Clicks the button (or link) whose visible text is `label`, inside `scope` when given. */
export async function clickText(page: Page, label: string, scope = "body"): Promise<void> {
  const clicked = await page.evaluate((label, scope) => {
    // Runs in the page (no DOM types on this side).
    const root = (globalThis as any).document.querySelector(scope);
    const target = [...(root?.querySelectorAll("button, a, label.button") ?? [])].find((element: any) => element.innerText.trim() === label) as any;
    target?.click();
    return target !== undefined;
  }, label, scope);
  if (!clicked) throw new Error(`no button "${label}" in ${scope}`);
}
