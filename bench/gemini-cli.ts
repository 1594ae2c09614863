// `bun run gemini-cli-check`: the real Gemini CLI (installed on demand into a temp folder with npm)
// against jellycli, backed by the mock Code Assist and by the mock OpenAI-compatible server:
// a plain prompt, and a tool loop (read_file, then the answer). Not part of `bun test`: it needs
// the npm registry and takes a minute.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MockGoogle } from "../tests/mock/google.ts";
import { MockOpenAI } from "../tests/mock/openai.ts";
import { addReadyAccount, makeWorkspace, startGateway, testConfig } from "../tests/helpers.ts";

const VERSION = process.env.GEMINI_CLI_VERSION ?? "0.61.0";
const root = join(tmpdir(), `jellycli-gemini-cli-${VERSION}`);
const binary = join(root, "node_modules", ".bin", "gemini");
if (!existsSync(binary)) {
  mkdirSync(root, { recursive: true });
  console.log(`installing @google/gemini-cli@${VERSION} into ${root} …`);
  const install = Bun.spawnSync(["npm", "install", "--no-audit", "--no-fund", `@google/gemini-cli@${VERSION}`], { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (install.exitCode !== 0) throw new Error("npm install failed");
}
const home = join(root, "home");
mkdirSync(join(home, ".gemini"), { recursive: true });
writeFileSync(join(home, ".gemini", "settings.json"), JSON.stringify({ security: { auth: { selectedType: "gemini-api-key" } } }));
writeFileSync(join(root, "notes.txt"), "The secret word is jellyfish.\n");

async function run(name: string, backend: "codeassist" | "openai", script: (google: MockGoogle, openai: MockOpenAI) => void, expected: string): Promise<boolean> {
  const google = new MockGoogle();
  const openai = new MockOpenAI(["sk-check"]);
  const workspace = makeWorkspace();
  addReadyAccount(google, workspace, "cli");
  const gateway = await startGateway(testConfig(google, workspace, {
    password: "check-pw", default_model: "gemini-2.5-flash",
    openai_upstreams: backend === "openai" ? [{ name: "kimi", base_url: openai.baseURL, api_keys: ["sk-check"], models: ["gemini-*"], model_mapping: {}, profile: "kimi" }] : [],
  }));
  script(google, openai);
  const child = Bun.spawn([binary, "-p", "What is the secret word in notes.txt?", "-m", "gemini-2.5-flash"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: home, GEMINI_CLI_TRUST_WORKSPACE: "true", GOOGLE_GEMINI_BASE_URL: gateway.url, GEMINI_API_KEY: "check-pw", NO_COLOR: "1", CI: "1" },
    stdout: "pipe", stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill(), 120_000);
  const [code, out] = await Promise.all([child.exited, new Response(child.stdout).text()]);
  clearTimeout(timer);
  await gateway.stop();
  google.stop();
  openai.stop();
  const ok = code === 0 && out.includes(expected);
  console.log(`${ok ? "ok  " : "FAIL"} ${name}: exit ${code}, printed ${JSON.stringify(out.trim().slice(0, 120))}`);
  return ok;
}

const readCall = { functionCall: { name: "read_file", args: { file_path: join(root, "notes.txt") } } };
const results = [
  await run("plain prompt via Code Assist", "codeassist", (google) => google.script("cli", { kind: "reply", text: "Hello from the pool." }), "Hello from the pool."),
  await run("tool loop via Code Assist", "codeassist", (google) => google.script("cli", { kind: "parts", events: [[readCall]] }, { kind: "reply", text: "The word is jellyfish." }), "The word is jellyfish."),
  await run("tool loop via an OpenAI-compatible upstream (kimi profile)", "openai", (_, openai) => openai.script(
    { kind: "tools", reasoning: "I should read the file.", calls: [{ name: "read_file", arguments: JSON.stringify(readCall.functionCall.args) }] },
    { kind: "text", text: "The word is jellyfish." }), "The word is jellyfish."),
];
process.exit(results.every(Boolean) ? 0 : 1);
