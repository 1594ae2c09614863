// Smoke test of the compiled executable (run by .ci/run after `bun run compile`): --version,
// generate-key, then one streamed and one non-streamed request through dist/jellycli against the
// mock Google, with the credential encrypted at rest; the admin page from the binary, in a real browser.
import { join } from "node:path";
import { MockGoogle } from "../mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, processEnv, spawnJellycli , readJson } from "../helpers.ts";
import { launchBrowser, waitForText } from "../browser.ts";

const binary = join(import.meta.dir, "..", "..", "dist", process.platform === "win32" ? "jellycli.exe" : "jellycli");
const version = Bun.spawnSync([binary, "--version"]);
if (version.exitCode !== 0 || !/^jellycli \d/.test(version.stdout.toString())) throw new Error(`--version failed: ${version.stderr}`);

const key = Bun.spawnSync([binary, "generate-key"]).stdout.toString().trim();
if (!/^[A-Za-z0-9_-]{43}$/.test(key)) throw new Error(`generate-key printed ${JSON.stringify(key)}`);

const mock = new MockGoogle();
const workspace = makeWorkspace();
addReadyAccount(mock, workspace, "smoke");
// With encryption at rest: the binary seals the file at start and serves from it.
const gateway = await spawnJellycli([binary], { ...processEnv(mock, workspace), JELLYCLI_ENCRYPTION_KEY: key }, workspace.dir);
try {
  const plain = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "binary" }] });
  const answer = await readJson(plain);
  if (answer.choices?.[0]?.message?.content !== "Echo: binary") throw new Error(`unexpected answer: ${JSON.stringify(answer)}`);
  const streamed = await (await chat(gateway.url, { model: "gemini-2.5-flash", stream: true, messages: [{ role: "user", content: "s" }] })).text();
  if (!streamed.includes('"content":"Echo: s"') || !streamed.trimEnd().endsWith("data: [DONE]")) throw new Error(`unexpected stream: ${streamed}`);
  const health = await readJson(await fetch(`${gateway.url}/health`));
  // The admin page comes from the assets built into the executable.
  const admin = await fetch(`${gateway.url}/admin`);
  const html = await admin.text();
  if (admin.status !== 200 || !admin.headers.get("content-security-policy")?.includes("script-src 'self'")) throw new Error(`GET /admin: ${admin.status}`);
  const assets = [...html.matchAll(/"(\/admin\/assets\/[^"]+)"/g)].map((match) => match[1]!);
  if (assets.length < 2) throw new Error(`the admin page names no assets: ${html}`);
  for (const asset of assets) if ((await fetch(`${gateway.url}${asset}`)).status !== 200) throw new Error(`${asset} is missing from the binary`);
  // And it runs: the compiled bundle in a real browser, without a console error.
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => { if (message.type() === "error") errors.push(message.text()); });
    await page.goto(`${gateway.url}/admin`);
    await waitForText(page, "Requests, 24 h", 10_000);
    if (errors.length > 0) throw new Error(`the admin page logged errors: ${errors.join("; ")}`);
  } finally {
    await browser.close();
  }
  if (!(await Bun.file(join(workspace.credentialsDir, "smoke.json")).text()).includes('"jellycli_sealed"')) throw new Error("the credential file was not encrypted");
  console.log(`binary smoke test ok: ${version.stdout.toString().trim()}, health ${JSON.stringify(health.credentials)}`);
} finally {
  gateway.process.kill("SIGTERM");
  await gateway.process.exited;
  mock.stop();
}
