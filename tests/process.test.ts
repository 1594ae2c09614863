// jellycli as a process: the command line, refusals, and state written on SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, processEnv, spawnJellycli , readJson } from "./helpers.ts";

const MAIN = join(import.meta.dir, "..", "src", "main.ts");
let mock: MockGoogle;

beforeAll(() => {
  mock = new MockGoogle();
});
afterAll(() => mock.stop());

async function runToExit(args: string[], env: Record<string, string> = {}, cwd = makeWorkspace().dir) {
  const child = Bun.spawn([process.execPath, MAIN, ...args], { cwd, env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

describe("command line", () => {
  test("--version prints the version", async () => {
    const { code, stdout } = await runToExit(["--version"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^jellycli \d+\.\d+\.\d+/);
  });

  test("binding to the network without a password is refused with the reason", async () => {
    const { code, stderr } = await runToExit(["--bind-address", "0.0.0.0:0"]);
    expect(code).toBe(2);
    expect(stderr).toContain("without a password");
  });

  test("--help lists the subcommands, their options and every config key with its default", async () => {
    const { code, stdout } = await runToExit(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("jellycli check");
    expect(stdout).toContain("--bind-address (bind_address, default \"127.0.0.1:7878\")");
    expect(stdout).toContain("--fake-stream-keepalive-s");
  });

  test("a port already in use is one line naming the address and the key", async () => {
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken") });
    try {
      const { code, stderr } = await runToExit(["--bind-address", `127.0.0.1:${taken.port}`]);
      expect(code).toBe(2);
      expect(stderr).not.toContain("    at ");
      expect(stderr.trim().split("\n").at(-1)).toBe(`jellycli: cannot listen on 127.0.0.1:${taken.port}: the address is already in use (set bind_address, e.g. --bind-address 127.0.0.1:7879)`);
    } finally {
      taken.stop(true);
    }
  });

  test("the start line says where the configuration came from", async () => {
    const workspace = makeWorkspace();
    const gateway = await spawnJellycli([process.execPath, MAIN, "--log-level", "warn"], processEnv(mock, workspace), workspace.dir);
    expect(gateway.output()).toContain("(config: environment + flags)");
    gateway.process.kill("SIGTERM");
    await gateway.process.exited;
  });

  test("a bad config value exits non-zero naming the key and the file", async () => {
    const workspace = makeWorkspace();
    writeFileSync(join(workspace.dir, "config.toml"), "max_retries = \"lots\"\n");
    const { code, stderr } = await runToExit([], {}, workspace.dir);
    expect(code).toBe(2);
    expect(stderr).toContain("max_retries");
    expect(stderr).toContain("config.toml");
  });
});

describe("capacity", () => {
  test("more than Bun's default 256 upstream fetches run at once (300 open streams)", async () => {
    const workspace = makeWorkspace();
    addReadyAccount(mock, workspace, "wide");
    const gateway = await spawnJellycli([process.execPath, MAIN], processEnv(mock, workspace), workspace.dir);
    for (let index = 0; index < 300; index++) mock.script("wide", { kind: "reply", chunks: ["held ", "open"], delayMs: 1500 });
    const port = Number(new URL(gateway.url).port);
    const body = JSON.stringify({ model: "gemini-2.5-flash", stream: true, messages: [{ role: "user", content: "hi" }] });
    const request = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, mock.openStreams);
    }, 20);
    // Raw sockets: this test process is itself limited to 256 fetches.
    const done = await Promise.all(Array.from({ length: 300 }, () => new Promise<boolean>((resolve) => {
      let text = "";
      void Bun.connect({
        hostname: "127.0.0.1", port,
        socket: {
          open: (socket) => void socket.write(request),
          data: (socket, chunk) => {
            text += chunk.toString();
            if (text.includes("data: [DONE]")) {
              socket.end();
              resolve(true);
            }
          },
          close: () => resolve(text.includes("data: [DONE]")),
          error: () => resolve(false),
        },
      });
    })));
    clearInterval(sampler);
    expect(done.filter(Boolean)).toHaveLength(300);
    expect(peak).toBeGreaterThan(256);
    gateway.process.kill("SIGTERM");
    await gateway.process.exited;
  }, 30_000);
});

describe("lifecycle", () => {
  test("serves requests, and SIGTERM writes the state file before exiting", async () => {
    const workspace = makeWorkspace();
    addReadyAccount(mock, workspace, "proc");
    const gateway = await spawnJellycli([process.execPath, MAIN], processEnv(mock, workspace), workspace.dir);
    const response = await chat(gateway.url, { model: "gemini-2.5-pro", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(200);
    expect((await readJson(response)).choices[0].message.content).toBe("Echo: hi");
    // The flush interval is 60 s here, so only the shutdown path can have written it.
    expect(existsSync(workspace.stateFile)).toBe(false);
    gateway.process.kill("SIGTERM");
    expect(await gateway.process.exited).toBe(0);
    expect(parse(readFileSync(workspace.stateFile, "utf8")).credentials).toMatchObject({ "proc.json": { success_count: 1 } });
    expect(gateway.output()).not.toMatch(/ya29\.mock-proc-\d+-\w{8}/);
  });
});
