// `bun run soak`: 200 concurrent clients, streamed and non-streamed, for 60 s (SOAK_SECONDS)
// against the mock Google with random 429s, 500s, refresh failures and mid-stream drops, with
// jellycli running as its own process. Each fault rate is a knob: SOAK_RATE_LIMIT (0.02),
// SOAK_SERVER_ERROR (0.05), SOAK_DROP (0.03), SOAK_REFRESH_FAILURE (0.05); SOAK_CLIENTS (200). Prints what the clients saw, latency and peak RSS; exits
// non-zero on a crash, an unanswered request, or an unparsable state or credential file.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { MockGoogle } from "../tests/mock/google.ts";
import { makeWorkspace, processEnv, spawnJellycli, writeGeminiCliCredential } from "../tests/helpers.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 200);
const CREDENTIALS = 5;
const REQUEST_TIMEOUT_MS = 60_000;

const mock = new MockGoogle();
const rate = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
mock.chaos = {
  rateLimit: rate("SOAK_RATE_LIMIT", 0.02),
  serverError: rate("SOAK_SERVER_ERROR", 0.05),
  dropMidStream: rate("SOAK_DROP", 0.03),
  refreshFailure: rate("SOAK_REFRESH_FAILURE", 0.05),
};
const workspace = makeWorkspace();
for (let index = 0; index < CREDENTIALS; index++) {
  // Tokens live a little over the 5-minute refresh margin, so refreshes keep happening.
  mock.addAccount({ name: `soak-${index}`, refreshToken: `1//rt-soak-${index}`, project: `p-${index}`, tokenLifetimeS: 305 });
  writeGeminiCliCredential(workspace, `soak-${index}.json`, { refreshToken: `1//rt-soak-${index}` });
}
const env = { ...processEnv(mock, workspace), JELLYCLI_STATE_FLUSH_INTERVAL_S: "1", JELLYCLI_LOG_LEVEL: "error", JELLYCLI_HEALTH_CHECK_INTERVAL_S: "0" };
const gateway = await spawnJellycli([process.execPath, join(import.meta.dir, "..", "src", "main.ts")], env, workspace.dir);
let stopping = false;
let crashed = false;
void gateway.process.exited.then(() => {
  if (!stopping) crashed = true;
});

let peakRssKiB = 0;
const sampler = setInterval(() => {
  try {
    const status = readFileSync(`/proc/${gateway.process.pid}/status`, "utf8");
    peakRssKiB = Math.max(peakRssKiB, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
  } catch { /* not Linux, or the process is gone */ }
}, 250);

const outcomes = new Map<string, number>();
const latencies: number[] = [];
const count = (kind: string) => outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
const deadline = Date.now() + SECONDS * 1000;

async function oneRequest(stream: boolean): Promise<void> {
  const started = performance.now();
  try {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gemini-2.5-flash", stream, messages: [{ role: "user", content: "soak" }] }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await response.text();
    latencies.push(performance.now() - started);
    if (response.status === 429) count(`http 429 (${/Every credential is cooling down/.test(body) ? "every credential cooling, Retry-After to the earliest reset" : "the upstream's own 429 after max_retries"})`);
    else if (response.status !== 200) count(`http ${response.status}`);
    else if (stream && body.includes('data: {"error"')) count("stream error in-band");
    else if (stream && !body.trimEnd().endsWith("data: [DONE]")) count("stream ended without [DONE] or error");
    else count("success");
  } catch (error) {
    count(`unanswered (${(error as Error).name})`);
  }
}

async function client(id: number): Promise<void> {
  for (let turn = 0; Date.now() < deadline && !crashed; turn++) await oneRequest((id + turn) % 2 === 0);
}

const startedAt = performance.now();
await Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(id)));
const elapsed = (performance.now() - startedAt) / 1000;
stopping = true;
gateway.process.kill("SIGTERM");
const exitCode = await gateway.process.exited;
clearInterval(sampler);
mock.stop();

const problems: string[] = [];
if (crashed) problems.push("jellycli exited during the soak");
if (exitCode !== 0) problems.push(`jellycli exited with ${exitCode} on SIGTERM`);
try {
  parse(readFileSync(workspace.stateFile, "utf8"));
} catch (error) {
  problems.push(`state file unparsable: ${(error as Error).message}`);
}
for (let index = 0; index < CREDENTIALS; index++) {
  try {
    JSON.parse(readFileSync(join(workspace.credentialsDir, `soak-${index}.json`), "utf8"));
  } catch (error) {
    problems.push(`credential file soak-${index}.json unparsable: ${(error as Error).message}`);
  }
}
const unanswered = [...outcomes].filter(([kind]) => kind.startsWith("unanswered")).reduce((sum, [, value]) => sum + value, 0);
if (unanswered > 0) problems.push(`${unanswered} unanswered requests`);

const total = [...outcomes.values()].reduce((sum, value) => sum + value, 0);
latencies.sort((a, b) => a - b);
const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]?.toFixed(1) ?? "n/a";
console.log(`soak: ${CLIENTS} clients, ${elapsed.toFixed(1)} s, ${CREDENTIALS} credentials, faults ${JSON.stringify(mock.chaos)}`);
console.log(`requests: ${total} (${(total / elapsed).toFixed(0)}/s)`);
console.log(`successes: ${outcomes.get("success") ?? 0}`);
for (const [kind, value] of [...outcomes].filter(([kind]) => kind !== "success").sort()) console.log(`client-visible ${kind}: ${value}`);
console.log(`latency ms: p50 ${percentile(50)}, p99 ${percentile(99)}`);
console.log(`peak RSS: ${(peakRssKiB / 1024).toFixed(1)} MiB`);
console.log(problems.length === 0 ? "soak: OK" : `soak: FAILED\n  ${problems.join("\n  ")}`);
process.exit(problems.length === 0 ? 0 : 1);
