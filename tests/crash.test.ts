// What survives a hard crash and what a long silence does, with jellycli as its own process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { MockGoogle } from "./mock/google.ts";
import { chat, makeWorkspace, processEnv, readJson, spawnJellycli, writeGeminiCliCredential } from "./helpers.ts";

const MAIN = join(import.meta.dir, "..", "src", "main.ts");
let mock: MockGoogle;

beforeAll(() => {
  mock = new MockGoogle();
});
afterAll(() => mock.stop());

describe("kill -9", () => {
  test("during a burst: every credential file and the state file still parse, and a restart serves", async () => {
    const workspace = makeWorkspace();
    const names = ["a", "b", "c", "d", "e"];
    for (const name of names) {
      // Short-lived tokens keep refreshes (and credential file writes) going during the burst.
      mock.addAccount({ name: `k-${name}`, refreshToken: `1//rt-k-${name}`, project: `p-${name}`, tokenLifetimeS: 301 });
      writeGeminiCliCredential(workspace, `${name}.json`, { refreshToken: `1//rt-k-${name}` });
    }
    const env = { ...processEnv(mock, workspace), JELLYCLI_STATE_FLUSH_INTERVAL_S: "0.05", JELLYCLI_HEALTH_CHECK_INTERVAL_S: "0" };
    const first = await spawnJellycli([process.execPath, MAIN], env, workspace.dir);
    const burst = Array.from({ length: 150 }, (_, index) =>
      chat(first.url, { model: "gemini-2.5-flash", stream: index % 2 === 0, messages: [{ role: "user", content: `m${index}` }] })
        .then((response) => response.text()).catch(() => "cut"));
    await Bun.sleep(150);
    first.process.kill("SIGKILL");
    await first.process.exited;
    await Promise.all(burst);

    for (const name of names) {
      const file = JSON.parse(readFileSync(join(workspace.credentialsDir, `${name}.json`), "utf8"));
      expect(file.refresh_token).toBe(`1//rt-k-${name}`);
    }
    expect(readdirSync(workspace.credentialsDir).filter((entry) => entry.endsWith(".json")).sort()).toEqual(names.map((name) => `${name}.json`));
    if (existsSync(workspace.stateFile)) expect(() => parse(readFileSync(workspace.stateFile, "utf8"))).not.toThrow();

    const second = await spawnJellycli([process.execPath, MAIN], env, workspace.dir);
    try {
      const response = await chat(second.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "after" }] });
      expect(response.status).toBe(200);
      expect((await readJson(response)).choices[0].message.content).toBe("Echo: after");
      expect((await readJson(await fetch(`${second.url}/health`))).credentials.total).toBe(5);
    } finally {
      second.process.kill("SIGTERM");
      await second.process.exited;
    }
  }, 30_000);
});

describe("long silences", () => {
  test("a stream silent for 15 s (Bun cuts idle connections after 10–14 s by default) is not cut", async () => {
    const workspace = makeWorkspace();
    mock.addAccount({ name: "slow", refreshToken: "1//rt-slow", project: "p-slow" });
    writeGeminiCliCredential(workspace, "slow.json", { refreshToken: "1//rt-slow" });
    mock.script("slow", { kind: "reply", chunks: ["first ", "after fifteen seconds"], delayMs: 15_000 });
    // Keep-alives far apart, so only the server's own idle timeout could end the connection.
    const env = { ...processEnv(mock, workspace), JELLYCLI_HEALTH_CHECK_INTERVAL_S: "0", JELLYCLI_KEEPALIVE_S: "60" };
    const gateway = await spawnJellycli([process.execPath, MAIN], env, workspace.dir);
    try {
      const response = await chat(gateway.url, { model: "gemini-2.5-flash", stream: true, messages: [{ role: "user", content: "slow" }] });
      const body = await response.text();
      expect(body).toContain('"content":"after fifteen seconds"');
      expect(body.trimEnd().endsWith("data: [DONE]")).toBe(true);
    } finally {
      gateway.process.kill("SIGTERM");
      await gateway.process.exited;
    }
  }, 30_000);
});
