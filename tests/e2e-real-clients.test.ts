// The real clients (issue 14), each against jellycli and the mock Google, running one tool for
// real: Claude Code (`@anthropic-ai/claude-code`, Anthropic Messages) and Codex CLI
// (`@openai/codex`, `wire_api = "responses"`). The mock answers by what it is asked: a call to
// the client's shell tool first, then a summary of the tool's result.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, makeWorkspace, startGateway, testConfig, type Running } from "./helpers.ts";

const BIN = join(import.meta.dir, "..", "node_modules", ".bin");
const PASSWORD = "real-clients-password";
let mock: MockGoogle;
let gateway: Running;

/** The shell tool's call first (whatever the client named it), then the tool's output back in words. */
function shellThenSummary(shellTool: string, args: Record<string, unknown>) {
  return (_model: string, contents: any[], tools: any[] | undefined) => {
    const last = contents.at(-1);
    const result = last?.parts?.find((part: any) => part.functionResponse)?.functionResponse;
    if (result) return { kind: "reply" as const, text: `The tool said: ${JSON.stringify(result.response)}` };
    const declared = (tools ?? []).flatMap((tool: any) => tool.functionDeclarations ?? []).some((declaration: any) => declaration.name === shellTool);
    return declared ? { kind: "parts" as const, events: [[{ functionCall: { name: shellTool, args } }]] } : undefined;
  };
}

async function run(command: string[], env: Record<string, string>, cwd: string) {
  const child = Bun.spawn(command, { cwd, env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill(), 90_000);
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  mock = new MockGoogle();
  const workspace = makeWorkspace();
  addReadyAccount(mock, workspace, "alice");
  gateway = await startGateway(testConfig(mock, workspace, { password: PASSWORD, health_check_interval_s: 0 }));
});
afterAll(async () => {
  mock.responder = undefined;
  await gateway.stop();
  mock.stop();
});

describe("real clients", () => {
  test("Claude Code answers a prompt and runs its Bash tool through jellycli", async () => {
    mock.responder = shellThenSummary("Bash", { command: "echo claude-$((40+2))", description: "Print a marker" });
    const before = mock.generateCalls().length;
    const home = makeWorkspace().dir;
    const { code, stdout, stderr } = await run([join(BIN, "claude"), "-p", "Run the marker command with Bash and report its output", "--allowedTools", "Bash", "--model", "claude-sonnet-4-5"], {
      ANTHROPIC_BASE_URL: gateway.url, ANTHROPIC_API_KEY: PASSWORD,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", DISABLE_AUTOUPDATER: "1", DISABLE_TELEMETRY: "1", DISABLE_ERROR_REPORTING: "1",
    }, home);
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
    // claude-42 exists only if Claude Code really ran the command the mock asked for.
    expect(stdout).toContain("claude-42");
    const calls = mock.generateCalls().slice(before);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.every((call) => call.body.model === "gemini-2.5-pro" || call.body.model === "gemini-2.5-flash")).toBe(true);
  }, 120_000);

  test("Codex CLI (wire_api = responses) runs a shell command through jellycli", async () => {
    mock.responder = shellThenSummary("exec_command", { cmd: "echo codex-$((40+2))" });
    const before = mock.generateCalls().length;
    const home = makeWorkspace().dir;
    mkdirSync(join(home, ".codex"), { recursive: true });
    writeFileSync(join(home, ".codex", "config.toml"), [
      'model = "gemini-2.5-pro"', 'model_provider = "jellycli"', "", "[model_providers.jellycli]", 'name = "jellycli"',
      `base_url = "${gateway.url}/v1"`, 'wire_api = "responses"', 'env_key = "JELLYCLI_KEY"', "",
      // No plugin catalogue sync at start: it would reach for github.com and chatgpt.com.
      "[features]", "plugins = false", "",
    ].join("\n"));
    const { code, stdout, stderr } = await run([join(BIN, "codex"), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "Run the marker command in the shell and report its output"], {
      CODEX_HOME: join(home, ".codex"), JELLYCLI_KEY: PASSWORD, RUST_LOG: "warn",
    }, home);
    expect({ code, stderr: code === 0 ? "" : stderr.slice(-2000) }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain("codex-42");
    const calls = mock.generateCalls().slice(before);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.at(-1)!.body.request.contents.at(-1).parts[0].functionResponse.name).toBe("exec_command");
  }, 120_000);
});
