// `bun run attack`: the hostile-client and hostile-upstream attacks of the security review, run
// against jellycli as its own process, all on 127.0.0.1. For each attack it prints what the
// attacker got back, jellycli's peak RSS, and the longest event-loop stall — measured as the
// slowest answer to GET /health, polled every 25 ms while the attack runs. Bounded in time; exits
// non-zero if jellycli dies.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MockGoogle } from "../tests/mock/google.ts";
import { HostileServer } from "../tests/mock/hostile.ts";
import { addReadyAccount, makeWorkspace, processEnv, spawnJellycli } from "../tests/helpers.ts";

const PASSWORD = "attack-pw";
const only = process.env.ATTACK_ONLY?.split(",");
const mock = new MockGoogle();
const hostile = new HostileServer();
const workspace = makeWorkspace();
addReadyAccount(mock, workspace, "victim");
const env = {
  ...processEnv(mock, workspace),
  JELLYCLI_PASSWORD: PASSWORD,
  JELLYCLI_LOG_LEVEL: "error",
  JELLYCLI_LOG_REQUESTS: "full",
  JELLYCLI_LOG_DIR: join(workspace.dir, "logs"),
  JELLYCLI_CONNECT_TIMEOUT_S: "5",
  JELLYCLI_IDLE_TIMEOUT_S: "5",
  JELLYCLI_HEALTH_CHECK_INTERVAL_S: "0",
  // The image attacks must reach the loopback image server to measure the byte budget.
  JELLYCLI_REMOTE_IMAGES_ALLOW_PRIVATE: "true",
  JELLYCLI_OPENAI_UPSTREAMS: JSON.stringify([{ name: "hostile", base_url: hostile.baseURL, api_keys: ["sk-hostile-secret-key-123456"], models: ["hostile-*"] }]),
};
const gateway = await spawnJellycli([process.execPath, join(import.meta.dir, "..", "src", "main.ts")], env, workspace.dir);
const auth = { authorization: `Bearer ${PASSWORD}`, "content-type": "application/json" };

const rssKiB = () => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gateway.process.pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

/** Runs `attack` while sampling RSS and /health latency; returns what it saw. */
async function measure(name: string, attack: (signal: AbortSignal) => Promise<string>, limitMs = 20_000) {
  if (only && !only.includes(name)) return;
  let peak = rssKiB();
  let stall = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      const started = performance.now();
      await fetch(`${gateway.url}/health`, { signal: AbortSignal.timeout(limitMs) }).then((response) => response.arrayBuffer()).catch(() => {});
      stall = Math.max(stall, performance.now() - started);
      peak = Math.max(peak, rssKiB());
      await Bun.sleep(25);
    }
  })();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), limitMs);
  const started = performance.now();
  let result: string;
  try {
    result = await attack(controller.signal);
  } catch (error) {
    result = `client error: ${(error as Error).name}: ${(error as Error).message.slice(0, 80)}`;
  }
  clearTimeout(timer);
  const took = performance.now() - started;
  await Bun.sleep(300);
  running = false;
  await sampler;
  console.log(`${name.padEnd(20)} ${result.slice(0, 70).padEnd(70)} ${(took / 1000).toFixed(2).padStart(6)} s  peak RSS ${(peak / 1024).toFixed(0).padStart(5)} MiB  longest stall ${stall.toFixed(0).padStart(6)} ms`);
}

const post = (path: string, body: unknown, signal: AbortSignal, headers: Record<string, string> = auth) =>
  fetch(`${gateway.url}${path}`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body), signal });
const summary = async (response: Response) => `${response.status} ${(await response.text()).replace(/\s+/g, " ").slice(0, 60)}`;
const chatBody = (extra: Record<string, unknown>) => ({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }], ...extra });

/** 7 levels × 8 properties, each pointing at the next level: small to send, huge once inlined. */
function schemaBomb() {
  const defs: Record<string, unknown> = {};
  for (let level = 0; level < 7; level++) {
    const properties: Record<string, unknown> = {};
    for (let index = 0; index < 8; index++) properties[`p${index}`] = level === 6 ? { type: "string" } : { $ref: `#/$defs/l${level + 1}` };
    defs[`l${level}`] = { type: "object", properties };
  }
  return { type: "object", properties: { root: { $ref: "#/$defs/l0" } }, $defs: defs };
}

console.log(`attack               ${"what the attacker got".padEnd(70)} time      memory           event loop`);
await measure("idle", async () => "nothing");
await measure("schema-bomb", async (signal) => summary(await post("/v1/chat/completions", chatBody({ tools: [{ type: "function", function: { name: "f", parameters: schemaBomb() } }] }), signal)));
await measure("args-backtrack", async (signal) => summary(await post("/v1/chat/completions", chatBody({
  messages: [
    { role: "user", content: "go" },
    { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: `{"a": x${" ".repeat(100_000)}y` } }] },
    { role: "tool", tool_call_id: "c1", content: "done" },
  ],
}), signal)));
await measure("name-collisions", async (signal) => summary(await post("/v1/chat/completions", chatBody({
  tools: Array.from({ length: 8000 }, (_, index) => ({ type: "function", function: { name: String.fromCodePoint(0x4e00 + index), parameters: { type: "object" } } })),
}), signal)));
await measure("pairing-20k", async (signal) => {
  const calls = Array.from({ length: 20_000 }, (_, index) => ({ id: `c${index}`, type: "function", function: { name: "f", arguments: "{}" } }));
  return summary(await post("/v1/chat/completions", chatBody({
    messages: [{ role: "user", content: "go" }, { role: "assistant", content: null, tool_calls: calls }, ...calls.map((call) => ({ role: "tool", tool_call_id: call.id, content: "ok" })).reverse()],
  }), signal));
});
await measure("images-8x10MiB", async (signal) => summary(await post("/v1/chat/completions", chatBody({
  messages: [{ role: "user", content: Array.from({ length: 8 }, (_, index) => ({ type: "image_url", image_url: { url: `${hostile.url}/image/10?n=${index}` } })) }],
}), signal)));
await measure("unauth-8x18MiB", async (signal) => {
  const big = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"${"A".repeat(18 * 1024 * 1024)}"}]}`;
  const answers = await Promise.all(Array.from({ length: 8 }, () => post("/v1/chat/completions", big, signal, { "content-type": "application/json" }).then((response) => response.status).catch((error) => (error as Error).name)));
  return `statuses ${[...new Set(answers)].join(",")}`;
});
await measure("deep-nesting", async (signal) => summary(await post("/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":${"[".repeat(100_000)}${"]".repeat(100_000)}}]}]}`, signal)));
await measure("full-log-no-reader", async (signal) => {
  const response = await post("/v1/chat/completions", { model: "hostile-endless", stream: true, messages: [{ role: "user", content: "hi" }] }, signal);
  await Bun.sleep(8000); // headers read, body never read
  return `${response.status}, body left unread for 8 s`;
}, 12_000);
await measure("upstream-huge-unary", async (signal) => summary(await post("/v1/chat/completions", { model: "hostile-huge", messages: [{ role: "user", content: "hi" }] }, signal)));
await measure("upstream-huge-line", async (signal) => summary(await post("/v1beta/models/hostile-line:streamGenerateContent?alt=sse", { contents: [{ role: "user", parts: [{ text: "hi" }] }] }, signal)));
await measure("upstream-drip-error", async (signal) => summary(await post("/v1/chat/completions", { model: "hostile-drip", messages: [{ role: "user", content: "hi" }] }, signal)), 60_000);
await measure("upstream-malformed", async (signal) => summary(await post("/v1beta/models/hostile-malformed:streamGenerateContent?alt=sse", { contents: [{ role: "user", parts: [{ text: "hi" }] }] }, signal)));

const alive = gateway.process.exitCode === null;
gateway.process.kill("SIGTERM");
await gateway.process.exited;
mock.stop();
hostile.stop();
console.log(alive ? "attack: jellycli survived every attack" : "attack: FAILED — jellycli died");
process.exit(alive ? 0 : 1);
