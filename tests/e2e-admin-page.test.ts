// The admin web page in a real headless Chromium (issue 13), against jellycli with the mock Google
// behind it: log in; credential states the traffic produced (cooling with its countdown, disabled
// with its link); disable one and see the mock stop receiving its traffic; create a key, read it
// once, use it with the openai SDK and see its usage; the live log; the Google login button. No
// console errors, no request to another host, no secret in anything the page receives.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import type { Browser, Page } from "puppeteer-core";
import { MockGoogle, googleErrorBody } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, startGateway, testConfig, type Running } from "./helpers.ts";
import { clickText, launchBrowser, waitForText } from "./browser.ts";

const ADMIN = "admin-password-for-the-page";
const VALIDATION_LINK = "https://accounts.google.com/signin/continue?mock=validate-b";
let mock: MockGoogle;
let gateway: Running;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
const requested: string[] = [];
const received: { url: string; method: string; body: string }[] = [];

const errorInfo = (reason: string, metadata: Record<string, string> = {}) => ({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "cloudcode-pa.googleapis.com", metadata });
const row = (id: string) => page.$eval(`tr[data-credential="${id}"]`, (element: any) => element.innerText);

beforeAll(async () => {
  mock = new MockGoogle();
  const workspace = makeWorkspace();
  for (const name of ["a", "b", "c", "d"]) addReadyAccount(mock, workspace, name);
  gateway = await startGateway(testConfig(mock, workspace, { admin_password: ADMIN, health_check_interval_s: 0, usage_flush_interval_s: 0.05, credentials_poll_s: 0.1 }));
  // The traffic makes the states: a is rate limited for an hour, b must verify itself, c serves.
  mock.script("a", { kind: "error", status: 429, body: googleErrorBody(429, "RESOURCE_EXHAUSTED", "You have exhausted your capacity on this model. Your quota will reset after 3600s.", [errorInfo("RATE_LIMIT_EXCEEDED"), { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "3600s" }]) });
  mock.script("b", { kind: "error", status: 403, body: googleErrorBody(403, "PERMISSION_DENIED", "Verify your account to continue.", [errorInfo("VALIDATION_REQUIRED", { validation_link: VALIDATION_LINK })]) });
  expect((await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hello" }] })).status).toBe(200);

  browser = await launchBrowser();
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  // The one refusal the test provokes (a wrong password) is the only error the browser may log.
  page.on("console", (message) => { if (message.type() === "error" && !message.location().url?.endsWith("/admin/api/login")) consoleErrors.push(`${message.text()} ${message.location().url ?? ""}`); });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  page.on("request", (request) => { requested.push(request.url()); });
  page.on("response", async (response) => {
    if ((response.headers()["content-type"] ?? "").includes("event-stream") || response.status() >= 300 && response.status() < 400) return;
    received.push({ url: response.url(), method: response.request().method(), body: await response.text().catch(() => "") });
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  mock?.stop();
});

describe("the admin page in a browser", () => {
  test("login, then the overview", async () => {
    await page.goto(`${gateway.url}/`);
    expect(new URL(page.url()).pathname).toBe("/admin");
    await waitForText(page, "Admin password");
    await page.type("#password", "wrong-password");
    await page.keyboard.press("Enter");
    await waitForText(page, "Wrong admin password");
    await page.$eval("#password", (input: any) => { input.value = ""; });
    await page.type("#password", ADMIN);
    await page.keyboard.press("Enter");
    await waitForText(page, "Requests, 24 h");
    await waitForText(page, "Last 30 days");
    expect(await page.$$eval(".chart canvas", (canvases) => canvases.length)).toBe(2);
    // a cools for one model only, so it still counts as usable.
    await waitForText(page, /Usable credentials\s+3 \/ 4\s+1 cooling · 1 disabled · 0 invalid/);
  }, 20_000);

  test("credentials: a cooling one counts down to its reset, a disabled one links to its fix", async () => {
    await page.goto(`${gateway.url}/admin#/credentials`);
    await page.waitForSelector('tr[data-credential="a.json"]');
    expect(await row("a.json")).toMatch(/cooling[\s\S]*gemini-2\.5-pro\s+in (59 min|1 h)/);
    expect(await row("b.json")).toMatch(/disabled[\s\S]*How to fix it/);
    expect(await page.$eval('tr[data-credential="b.json"] a', (link: any) => link.href)).toBe(VALIDATION_LINK);
    expect(await row("c.json")).toContain("active");
  }, 20_000);

  test("disabling one from the page stops its traffic", async () => {
    const calls = () => mock.generateCalls().filter((call) => call.account === "d").length;
    for (let index = 0; index < 4; index++) await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "before" }] });
    expect(calls()).toBeGreaterThan(0);
    await clickText(page, "Disable", 'tr[data-credential="d.json"]');
    await waitForText(page, "d.json disabled: it gets no traffic now.");
    expect(await row("d.json")).toContain("disabled");
    const before = calls();
    for (let index = 0; index < 6; index++) expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "after" }] })).status).toBe(200);
    expect(calls()).toBe(before);
  }, 20_000);

  let clientKey = "";
  test("a key is created, shown once, works with the openai SDK, and its usage appears", async () => {
    await page.goto(`${gateway.url}/admin#/keys`);
    await waitForText(page, "Create a key");
    await page.type("#create-a-key-name", "sdk-client");
    await page.type("#create-a-key-rpm", "100");
    await clickText(page, "Create key");
    await page.waitForSelector('input[aria-label="The new key"]');
    clientKey = await page.$eval('input[aria-label="The new key"]', (input: any) => input.value);
    expect(clientKey).toMatch(/^jk-[0-9A-Za-z]{43,}$/);
    await clickText(page, "Done");
    expect(await page.evaluate(() => (globalThis as any).document.body.innerHTML as string)).not.toContain(clientKey);

    const openai = new OpenAI({ apiKey: clientKey, baseURL: `${gateway.url}/v1` });
    const completion = await openai.chat.completions.create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "from the sdk" }] });
    expect(completion.choices[0]!.message.content).toBe("Echo: from the sdk");
    const deadline = Date.now() + 10_000;
    let text = "";
    while (Date.now() < deadline) {
      text = await page.$eval("tr[data-key]", (element: any) => element.innerText).catch(() => "");
      if (/sdk-client[\s\S]*100 rpm[\s\S]*\t1\t/.test(text)) break;
      await Bun.sleep(200);
    }
    expect(text).toMatch(/sdk-client[\s\S]*100 rpm[\s\S]*\t1\t/);
  }, 20_000);

  test("the log tail shows a request within 2 s", async () => {
    await page.goto(`${gateway.url}/admin#/logs`);
    await waitForText(page, "live");
    const openai = new OpenAI({ apiKey: clientKey, baseURL: `${gateway.url}/v1` });
    await openai.chat.completions.create({ model: "gemini-3-flash-preview", messages: [{ role: "user", content: "tail" }] });
    await waitForText(page, "gemini-3-flash-preview", 2_000);
  }, 20_000);

  test("the Google button completes a login against the mock", async () => {
    mock.addAccount({ name: "kim", refreshToken: "1//refresh-kim-page", project: "project-kim" });
    mock.consent = { account: "kim" };
    await page.goto(`${gateway.url}/admin#/credentials`);
    await waitForText(page, "Add an account with Google");
    const popup = new Promise<void>((resolve) => browser.once("targetcreated", () => resolve()));
    await clickText(page, "Add an account with Google");
    await popup;
    await waitForText(page, "Account added: kim@example.com (project project-kim, tier free-tier).", 10_000);
    await page.waitForSelector('tr[data-credential="kim@example.com.json"]');
  }, 20_000);

  test("credential files uploaded from the page are checked and added", async () => {
    const spare = makeWorkspace();
    addReadyAccount(mock, spare, "e");
    await page.goto(`${gateway.url}/admin#/credentials`);
    const input = await page.waitForSelector('input[type="file"]');
    await (input as any).uploadFile(join(spare.credentialsDir, "e.json"));
    await waitForText(page, "e.json added");
    await page.waitForSelector('tr[data-credential="e.json"]');
  }, 20_000);

  test("usage by model as a chart and a table, downloaded as CSV", async () => {
    const downloads = makeWorkspace().dir;
    const session = await page.createCDPSession();
    await session.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
    await page.goto(`${gateway.url}/admin#/usage`);
    await page.waitForSelector(".chart canvas");
    await page.select("section select", "model");
    await page.waitForSelector(".bars li");
    await waitForText(page, /gemini-2\.5-flash\s/);
    await clickText(page, "Download CSV");
    let csv = "";
    for (let attempt = 0; attempt < 50 && !csv; attempt++) {
      await Bun.sleep(100);
      const file = readdirSync(downloads).find((name) => name.endsWith(".csv"));
      if (file) csv = readFileSync(join(downloads, file), "utf8");
    }
    expect(csv.split("\r\n")[0]).toBe("model,requests,errors_4xx,errors_5xx,input_tokens,output_tokens,cached_tokens");
    expect(csv).toMatch(/\r\ngemini-2\.5-flash,\d+,0,0,\d+,\d+,0\r\n/);
  }, 20_000);

  test("settings show the version and the configuration with secrets masked", async () => {
    await page.goto(`${gateway.url}/admin#/settings`);
    await waitForText(page, "Effective configuration");
    await waitForText(page, /Version\s+\d+\.\d+\.\d+/);
    await waitForText(page, "admin_password");
    expect(await page.evaluate(() => (globalThis as any).document.body.innerText as string)).not.toContain(ADMIN);
  }, 20_000);

  test("small: under 300 KB compressed; fits a phone's width; follows the system's dark mode", async () => {
    const html = await fetch(`${gateway.url}/admin`, { headers: { "accept-encoding": "gzip" } });
    const text = await html.text();
    let total = Number(html.headers.get("content-length") ?? text.length);
    for (const [, asset] of text.matchAll(/"(\/admin\/assets\/[^"]+)"/g)) {
      const response = await fetch(`${gateway.url}${asset}`, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
      expect(response.headers.get("content-encoding")).toBe("gzip");
      total += (await response.arrayBuffer()).byteLength;
    }
    expect(total).toBeLessThan(300 * 1024);

    await page.setViewport({ width: 390, height: 800 });
    for (const route of ["overview", "credentials", "keys", "usage", "logs"]) {
      await page.goto(`${gateway.url}/admin#/${route}`);
      await Bun.sleep(150);
      // Wide tables scroll inside their own box; the page itself never scrolls sideways.
      expect([route, await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth as number)]).toEqual([route, 390]);
    }
    await page.setViewport({ width: 1280, height: 900 });
    const background = () => page.evaluate(() => (globalThis as any).getComputedStyle((globalThis as any).document.body).backgroundColor as string);
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
    const light = await background();
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    expect(await background()).not.toBe(light);
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
  }, 20_000);

  test("no console errors, no request to another host, no secret in anything the page received", async () => {
    expect(consoleErrors).toEqual([]);
    const origin = new URL(gateway.url).origin;
    expect(requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith("data:"))).toEqual([]);
    expect(received.length).toBeGreaterThan(10);
    const secrets = ["1//refresh-", "ya29.", ADMIN, "test-secret", "GOCSPX-"];
    for (const { url, method, body } of received) {
      for (const secret of secrets) expect([url, secret, body.includes(secret)]).toEqual([url, secret, false]);
      // The new key comes back once, in the answer that created it.
      if (!(method === "POST" && url.endsWith("/admin/api/keys"))) expect([url, body.includes(clientKey)]).toEqual([url, false]);
    }
  });
});
