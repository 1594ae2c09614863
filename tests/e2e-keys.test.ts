// Client API keys end to end: made with the CLI beside a running gateway, used on both surfaces,
// refused in each surface's format (unknown, revoked, model outside the allow-list, over rpm), and
// stored only as a hash in a 0600 database.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, readJson, startGateway, testConfig, type Running, type Workspace } from "./helpers.ts";

const MAIN = join(import.meta.dir, "..", "src", "main.ts");
let mock: MockGoogle;
let workspace: Workspace;
let gateway: Running;
const database = () => join(workspace.dir, "jellycli.db");

async function cli(...args: string[]) {
  const child = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd: workspace.dir, stdout: "pipe", stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", JELLYCLI_DATABASE: database(), JELLYCLI_CREDENTIALS_DIR: workspace.credentialsDir, JELLYCLI_STATE_FILE: workspace.stateFile },
  });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}
const createKey = async (...options: string[]) => {
  const { code, stdout } = await cli("keys", "create", ...options);
  expect(code).toBe(0);
  return { key: /(jk-[0-9A-Za-z]{43})/.exec(stdout)![1]!, id: /Created (key_\w+)/.exec(stdout)![1]! };
};
/** A running gateway follows the database within 2 s. */
const settle = () => Bun.sleep(2200);
const native = (key: string, model = "gemini-2.5-flash") => fetch(`${gateway.url}/v1beta/models/${model}:generateContent`, {
  method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": key },
  body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
});

beforeEach(async () => {
  mock = new MockGoogle();
  workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "a");
  gateway = await startGateway(testConfig(mock, workspace, { health_check_interval_s: 0, usage_flush_interval_s: 0.1 }));
});
afterEach(async () => {
  await gateway.stop();
  mock.stop();
});

describe("client API keys", () => {
  test("a key made by the CLI while the gateway runs works on both surfaces; without one, the gateway now asks for one", { timeout: 15_000 }, async () => {
    const { key } = await createKey("--name", "ci");
    await settle();
    const openai = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` });
    expect(openai.status).toBe(200);
    expect((await native(key)).status).toBe(200);
    const anonymous = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] });
    expect(anonymous.status).toBe(401);
    const unknown = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer jk-${"x".repeat(43)}` });
    expect(unknown.status).toBe(401);
    expect((await readJson(unknown)).error.type).toBe("authentication_error");
  });

  test("a model outside the allow-list is 403 naming it, and nothing reaches the upstream", async () => {
    const { key } = await createKey("--name", "flash-only", "--models", "gemini-2.5-flash,gemini-3-*");
    await settle();
    const refused = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` });
    expect(refused.status).toBe(403);
    expect((await readJson(refused)).error).toMatchObject({ param: "model", code: "model_not_allowed" });
    const nativeRefused = await native(key, "gemini-2.5-pro");
    expect(nativeRefused.status).toBe(403);
    expect((await readJson(nativeRefused)).error.status).toBe("PERMISSION_DENIED");
    expect(mock.generateCalls()).toHaveLength(0);
    // Variants follow their base model; patterns match by prefix.
    expect((await chat(gateway.url, { model: "gemini-2.5-flash-nothinking", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await native(key, "gemini-3-flash-preview")).status).toBe(200);
  });

  test("over rpm is 429 with Retry-After, in each surface's format", async () => {
    const { key } = await createKey("--name", "slow", "--rpm", "2");
    await settle();
    expect((await native(key)).status).toBe(200);
    expect((await native(key)).status).toBe(200);
    const third = await native(key);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await readJson(third)).error.status).toBe("RESOURCE_EXHAUSTED");
    expect(mock.generateCalls()).toHaveLength(2);
  });

  test("revoked with the CLI: refused within 2 s; list shows the prefix only; the database holds no key and is 0600", async () => {
    const { key, id } = await createKey("--name", "temp", "--expires", "2099-01-01");
    await settle();
    expect((await native(key)).status).toBe(200);
    const listed = await cli("keys", "list");
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain(`${key.slice(0, 7)}…${key.slice(-4)}`);
    expect(listed.stdout).not.toContain(key);
    expect((await cli("keys", "revoke", id)).code).toBe(0);
    await settle();
    const revoked = await native(key);
    expect(revoked.status).toBe(401);
    expect((await readJson(revoked)).error.message).toContain("revoked");
    expect(statSync(database()).mode & 0o777).toBe(0o600);
    for (const file of [database(), `${database()}-wal`]) {
      try {
        expect(readFileSync(file).includes(key)).toBe(false);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
  }, 15_000);

  test("usage per key and model, streamed and not, with the upstream's exact token counts; jellycli usage reports it", { timeout: 15_000 }, async () => {
    const { key, id } = await createKey("--name", "counted");
    await settle();
    const auth = { authorization: `Bearer ${key}` };
    // The mock answers "Echo: hi": 1 input token, 2 output tokens, for each of the three.
    expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, auth)).status).toBe(200);
    const streamed = await chat(gateway.url, { model: "gemini-2.5-flash", stream: true, messages: [{ role: "user", content: "hi" }] }, auth);
    expect(await streamed.text()).toContain("[DONE]");
    expect((await native(key)).status).toBe(200);
    await Bun.sleep(400); // one flush interval and then some
    const { code, stdout } = await cli("usage", "--by", "key,model");
    expect(code).toBe(0);
    const row = stdout.split("\n").find((line) => line.startsWith(id))!;
    expect(row.split(/\s+/)).toEqual([id, "gemini-2.5-flash", "3", "0", "0", "3", "6", "0"]);
  });

  test("a token budget, once spent, is 429 insufficient_quota / RESOURCE_EXHAUSTED; model lists show only allowed models", { timeout: 15_000 }, async () => {
    const { key } = await createKey("--name", "budgeted", "--budget", "5", "--period", "day", "--models", "gemini-2.5-flash");
    await settle();
    const auth = { authorization: `Bearer ${key}` };
    // Each answer costs 1 + 2 tokens: the second one passes the budget of 5, the third is refused.
    for (let index = 0; index < 2; index++) expect((await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, auth)).status).toBe(200);
    const refused = await chat(gateway.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }, auth);
    expect(refused.status).toBe(429);
    expect((await readJson(refused)).error.code).toBe("insufficient_quota");
    const nativeRefused = await native(key);
    expect(nativeRefused.status).toBe(429);
    expect((await readJson(nativeRefused)).error.status).toBe("RESOURCE_EXHAUSTED");
    expect(mock.generateCalls()).toHaveLength(2);
    const listed = (await readJson(await fetch(`${gateway.url}/v1/models`, { headers: auth }))).data.map((model: any) => model.id);
    expect(listed).toEqual(["gemini-2.5-flash", "gemini-2.5-flash-fake-stream"]); // variants follow their base model
    const nativeListed = (await readJson(await fetch(`${gateway.url}/v1beta/models`, { headers: { "x-goog-api-key": key } }))).models.map((model: any) => model.name);
    expect(nativeListed).toEqual(["models/gemini-2.5-flash", "models/gemini-2.5-flash-fake-stream"]);
  });

  test("keys and usage survive a restart, and a kill -9 leaves a readable database", { timeout: 20_000 }, async () => {
    const { key, id } = await createKey("--name", "durable");
    await settle();
    expect((await native(key)).status).toBe(200);
    await gateway.stop();
    gateway = await startGateway(testConfig(mock, workspace, { health_check_interval_s: 0, usage_flush_interval_s: 0.1 }));
    expect((await native(key)).status).toBe(200);
    await Bun.sleep(300);
    const usage = await cli("usage", "--by", "key");
    expect(usage.stdout.split("\n").find((line) => line.startsWith(id))!.split(/\s+/)[1]).toBe("2");
    // A separate gateway process killed mid-traffic: the database still opens and reads.
    const { spawnJellycli, processEnv } = await import("./helpers.ts");
    const spawned = await spawnJellycli([process.execPath, MAIN], { ...processEnv(mock, workspace), JELLYCLI_USAGE_FLUSH_INTERVAL_S: "0.05" }, workspace.dir);
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${spawned.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": key }, body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    }).then((response) => response.text())));
    spawned.process.kill("SIGKILL");
    await spawned.process.exited;
    const after = await cli("usage", "--by", "key");
    expect(after.code).toBe(0);
    expect(Number(after.stdout.split("\n").find((line) => line.startsWith(id))!.split(/\s+/)[1])).toBeGreaterThanOrEqual(2);
    expect((await cli("keys", "list")).stdout).toContain(id);
  });
});
