// `bun run screenshots`: the admin page's screenshots in docs/screenshots/ (README shows two), taken
// in headless Chromium against jellycli and the mock Google with 30 days of sample usage seeded into
// the database. Also prints how long the page takes to become interactive on loopback.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MockGoogle, googleErrorBody } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, startGateway, testConfig } from "./helpers.ts";
import { clickText, launchBrowser, waitForText } from "./browser.ts";
import { openDatabase } from "../src/store/database.ts";
import { createKey } from "../src/store/keys.ts";

const out = join(import.meta.dir, "..", "docs", "screenshots");
mkdirSync(out, { recursive: true });
const mock = new MockGoogle();
const workspace = makeWorkspace();
for (const name of ["alice", "bob", "carol", "dave", "erin"]) addReadyAccount(mock, workspace, name);
const config = testConfig(mock, workspace, { admin_password: "screenshot-admin", health_check_interval_s: 0, usage_flush_interval_s: 0.05 });

// Sample history: three keys, four models, 30 days and the last 24 hours, from a fixed seed.
const db = openDatabase(config.database);
const created = ["laptop", "ci-runner", "open-webui"].map((name) => createKey(db, { name, rpm: name === "ci-runner" ? 120 : undefined, tokenBudget: name === "open-webui" ? 5_000_000 : undefined, budgetPeriod: "month" }));
const keys = created.map((entry) => entry.record.id);
let seed = 7;
const random = () => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647);
const models = ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-flash-preview", "gemini-2.5-flash-lite"];
const now = Date.now();
for (let day = 29; day >= 1; day--) {
  const date = new Date(now - day * 86_400_000).toISOString().slice(0, 10);
  for (const key of keys) for (const model of models) {
    const requests = Math.round(random() * 120 * (model === "gemini-2.5-flash" ? 3 : 1));
    db.run("INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [date, key, "alice.json", model, requests, Math.round(requests * 0.02), Math.round(requests * 0.005), requests * 900, requests * 350, requests * 120]);
  }
}
for (let hour = 23; hour >= 1; hour--) {
  const requests = Math.round(40 + random() * 160);
  db.run("INSERT INTO usage_hours VALUES (?, ?, ?, ?, ?)", [new Date(now - hour * 3_600_000).toISOString().slice(0, 13), requests, Math.round(requests * random() * 0.05), requests * 900, requests * 350]);
}
db.close();

const gateway = await startGateway(config);
const errorInfo = (reason: string, metadata: Record<string, string> = {}) => ({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "cloudcode-pa.googleapis.com", metadata });
mock.script("alice", { kind: "error", status: 429, body: googleErrorBody(429, "RESOURCE_EXHAUSTED", "Your quota will reset after 2400s.", [errorInfo("RATE_LIMIT_EXCEEDED"), { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "2400s" }]) });
mock.script("bob", { kind: "error", status: 403, body: googleErrorBody(403, "PERMISSION_DENIED", "Verify your account to continue.", [errorInfo("VALIDATION_REQUIRED", { validation_link: "https://accounts.google.com/signin/continue" })]) });
for (let index = 0; index < 12; index++) await chat(gateway.url, { model: models[index % models.length], messages: [{ role: "user", content: "hello there, how are you" }] }, { authorization: `Bearer ${created[index % created.length]!.key}` });
await Bun.sleep(200);

const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860, deviceScaleFactor: 1 });
  await page.goto(`${gateway.url}/admin`);
  await waitForText(page, "Admin password");
  await page.type("#password", "screenshot-admin");
  await page.keyboard.press("Enter");
  await waitForText(page, "Requests, 24 h");
  // Interactive: from navigation to the first numbers on screen, signed in (loopback, no cache).
  await page.goto("about:blank");
  const started = performance.now();
  await page.goto(`${gateway.url}/admin#/overview`);
  await waitForText(page, "Requests, 24 h");
  console.log(`overview interactive after ${Math.round(performance.now() - started)} ms`);
  await Bun.sleep(300);
  for (const route of ["overview", "credentials", "keys", "usage", "logs", "settings"]) {
    await page.goto(`${gateway.url}/admin#/${route}`);
    await Bun.sleep(700);
    if (route === "keys") {
      await page.type("#create-a-key-name", "new-laptop");
      await clickText(page, "Create key");
      await page.waitForSelector('input[aria-label="The new key"]');
    }
    await page.screenshot({ path: join(out, `${route}.png`), fullPage: route !== "logs" });
  }
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 1 });
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
  await page.goto(`${gateway.url}/admin#/credentials`);
  await Bun.sleep(700);
  await page.screenshot({ path: join(out, "credentials-phone-dark.png") });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await gateway.stop();
  mock.stop();
}
