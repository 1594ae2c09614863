// `bun run bench`: what jellycli costs, measured against a bare pass-through on this machine.
// Starts a fast mock upstream, the floor (fetch + pipe, no parsing) and jellycli as the compiled
// binary with its default config, drives each with the same load (wrk when installed — Debian's
// `wrk` package — else a built-in loader), and prints one table. Options:
//   --duration S (5)  --connections N (32)  --warmup S (1, not counted)  --no-compile (use dist/jellycli as it is)
//   --streams N       instead: N concurrent streams against an upstream sending one event per
//                     second for --stream-seconds (30); peak RSS, keep-alive punctuality, completions
// Everything it starts is stopped at the end, on Ctrl-C too.
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = argv.indexOf(`--${name}`);
  return index >= 0 ? argv[index + 1] ?? fallback : fallback;
};
const DURATION = Number(option("duration", "5"));
const CONNECTIONS = Number(option("connections", "32"));
const STREAMS = argv.includes("--streams") ? Number(option("streams", "5000")) : 0;
const STREAM_SECONDS = Number(option("stream-seconds", "30"));
const ROOT = join(import.meta.dir, "..");
const BINARY = join(ROOT, "dist", "jellycli");
const children: ReturnType<typeof Bun.spawn>[] = [];
const stopAll = () => {
  for (const child of children) child.kill("SIGKILL");
};
process.on("SIGINT", () => {
  stopAll();
  process.exit(130);
});
process.on("exit", stopAll);

function freePort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

async function spawnReady(command: string[], env: Record<string, string> = {}, ready: RegExp = /ready/): Promise<ReturnType<typeof Bun.spawn>> {
  const child = Bun.spawn(command, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  children.push(child);
  let seen = "";
  const decoder = new TextDecoder();
  const watch = async (stream: ReadableStream<Uint8Array>) => {
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (seen.length < 10_000) seen += decoder.decode(value);
    }
  };
  void watch(child.stdout as ReadableStream<Uint8Array>);
  void watch(child.stderr as ReadableStream<Uint8Array>);
  const deadline = Date.now() + 20_000;
  while (!ready.test(seen)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${command.join(" ")} did not start:\n${seen}`);
    await Bun.sleep(5);
  }
  return child;
}

/** RSS of a process and its children (jellycli runs as a small parent plus the gateway itself). */
const rssMiB = (pid: number): number => {
  try {
    const own = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    return own + children.reduce((sum, child) => sum + rssMiB(child), 0);
  } catch {
    return 0;
  }
};

function compile(): void {
  const newest = (dir: string): number => Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
    entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs));
  if (argv.includes("--no-compile") && existsSync(BINARY)) return;
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs > newest(join(ROOT, "src"))) return;
  console.error("compiling dist/jellycli …");
  const result = Bun.spawnSync(["bun", "run", "compile"], { cwd: ROOT, stdout: "ignore", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error("bun run compile failed");
}

/** jellycli, compiled, default config: one credential with a valid token, pointed at the mock. */
async function startJellycli(upstreamUrl: string, extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "jellycli-bench-"));
  const credentials = join(dir, "credentials");
  Bun.spawnSync(["mkdir", "-p", credentials]);
  writeFileSync(join(credentials, "bench.json"), JSON.stringify({
    access_token: "ya29.bench-access-token", refresh_token: "1//bench-refresh-token", client_id: "bench.apps.googleusercontent.com",
    client_secret: "bench-secret", project_id: "bench-project", expiry: new Date(Date.now() + 24 * 3600_000).toISOString(),
  }));
  const port = freePort();
  const started = performance.now();
  const child = Bun.spawn([BINARY], {
    cwd: dir, stdout: "ignore", stderr: "ignore",
    env: { ...process.env, ...extraEnv, JELLYCLI_BIND_ADDRESS: `127.0.0.1:${port}`, JELLYCLI_CODE_ASSIST_ENDPOINT: upstreamUrl, JELLYCLI_OAUTH_TOKEN_URL: `${upstreamUrl}/token` },
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  let startupMs = Number.NaN;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await Bun.sleep(2)) {
    const ok = await fetch(`${url}/health`).then((response) => response.ok, () => false);
    if (ok) {
      startupMs = performance.now() - started;
      break;
    }
  }
  return { child, url, startupMs };
}

interface Scenario {
  name: string;
  stream: boolean;
  jellycli: { path: string; body: string };
  floor: { path: string; body: string };
}

const MESSAGES = [{ role: "system", content: "You are terse." }, { role: "user", content: "Say something about foxes and dogs." }];
const CONTENTS = { contents: [{ role: "user", parts: [{ text: "Say something about foxes and dogs." }] }], systemInstruction: { parts: [{ text: "You are terse." }] } };
const SCENARIOS: Scenario[] = [
  { name: "OpenAI chat", stream: false, jellycli: { path: "/v1/chat/completions", body: JSON.stringify({ model: "gemini-2.5-flash", messages: MESSAGES }) }, floor: { path: "/v1internal:generateContent", body: JSON.stringify({ model: "gemini-2.5-flash", project: "p", request: CONTENTS }) } },
  { name: "OpenAI chat, streamed", stream: true, jellycli: { path: "/v1/chat/completions", body: JSON.stringify({ model: "gemini-2.5-flash", messages: MESSAGES, stream: true }) }, floor: { path: "/v1internal:streamGenerateContent?alt=sse", body: JSON.stringify({ model: "gemini-2.5-flash", project: "p", request: CONTENTS }) } },
  { name: "Gemini native", stream: false, jellycli: { path: "/v1beta/models/gemini-2.5-flash:generateContent", body: JSON.stringify(CONTENTS) }, floor: { path: "/v1internal:generateContent", body: JSON.stringify({ model: "gemini-2.5-flash", project: "p", request: CONTENTS }) } },
  { name: "Gemini native, streamed", stream: true, jellycli: { path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body: JSON.stringify(CONTENTS) }, floor: { path: "/v1internal:streamGenerateContent?alt=sse", body: JSON.stringify({ model: "gemini-2.5-flash", project: "p", request: CONTENTS }) } },
];

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const hasWrk = Bun.spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0;

/** Seconds of the same load, not counted, before each measured run: the JIT compiles the hot path first. */
const WARMUP = Number(option("warmup", "1"));

async function load(url: string, body: string): Promise<Load> {
  if (hasWrk) {
    const script = join(mkdtempSync(join(tmpdir(), "jellycli-wrk-")), "post.lua");
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`);
    if (WARMUP > 0) Bun.spawnSync(["wrk", "-t2", `-c${CONNECTIONS}`, `-d${WARMUP}s`, "-s", script, url], { stdout: "ignore", stderr: "ignore" });
    const run = Bun.spawnSync(["wrk", "-t2", `-c${CONNECTIONS}`, `-d${DURATION}s`, "--latency", "-s", script, url], { stdout: "pipe", stderr: "pipe" });
    const out = run.stdout.toString();
    const ms = (label: string) => {
      const match = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
      if (!match) return Number.NaN;
      const value = Number(match[1]);
      return match[2] === "us" ? value / 1000 : match[2] === "s" ? value * 1000 : value;
    };
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), p50: ms("50"), p99: ms("99"), errors: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) };
  }
  // Without wrk: CONNECTIONS loops of fetch, WARMUP seconds uncounted, then DURATION seconds.
  const latencies: number[] = [];
  let errors = 0;
  const loop = (seconds: number, counted: boolean) => {
    const end = performance.now() + seconds * 1000;
    return Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body }).catch(() => undefined);
        await response?.arrayBuffer();
        if (!counted) continue;
        if (!response?.ok) errors++;
        latencies.push(performance.now() - started);
      }
    }));
  };
  await loop(WARMUP, false);
  await loop(DURATION, true);
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / DURATION, p50: latencies[Math.floor(latencies.length / 2)] ?? Number.NaN, p99: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN, errors };
}

/** Median time from sending a streamed request to its first body byte, over sequential requests. */
async function timeToFirstByte(url: string, body: string, count = 300): Promise<number> {
  const samples: number[] = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
    const reader = response.body!.getReader();
    await reader.read();
    samples.push(performance.now() - started);
    while (!(await reader.read()).done) { /* drain */ }
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
const ratio = (value: number, floor: number) => (floor > 0 ? `${(value / floor).toFixed(2)}×` : "");

async function throughput(): Promise<void> {
  compile();
  const upstreamPort = freePort();
  await spawnReady(["bun", "bench/servers.ts", "upstream", String(upstreamPort)]);
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const floorPort = freePort();
  const floorProcess = await spawnReady(["bun", "bench/servers.ts", "floor", String(floorPort), upstreamUrl]);
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  const jellycli = await startJellycli(upstreamUrl);
  await Bun.sleep(1000);
  const idleRss = rssMiB(jellycli.child.pid);
  console.log(`bun run bench: ${DURATION} s per run, ${CONNECTIONS} connections, ${hasWrk ? "wrk" : "built-in loader (install wrk for steadier figures)"}; upstream answers at once, streams of 15 events`);
  console.log(`jellycli binary: /health answered ${fmt(jellycli.startupMs, 0)} ms after start; idle RSS ${fmt(idleRss)} MiB\n`);
  const rows: string[][] = [["scenario", "target", "rps", "p50 ms", "p99 ms", "errors", "rps vs floor"]];
  for (const scenario of SCENARIOS) {
    const floor = await load(`${floorUrl}${scenario.floor.path}`, scenario.floor.body);
    const ours = await load(`${jellycli.url}${scenario.jellycli.path}`, scenario.jellycli.body);
    rows.push([scenario.name, "floor", fmt(floor.rps, 0), fmt(floor.p50, 2), fmt(floor.p99, 2), String(floor.errors), ""]);
    rows.push(["", "jellycli", fmt(ours.rps, 0), fmt(ours.p50, 2), fmt(ours.p99, 2), String(ours.errors), ratio(ours.rps, floor.rps)]);
  }
  const floorTtfb = await timeToFirstByte(`${floorUrl}${SCENARIOS[1]!.floor.path}`, SCENARIOS[1]!.floor.body);
  const ourTtfb = await timeToFirstByte(`${jellycli.url}${SCENARIOS[1]!.jellycli.path}`, SCENARIOS[1]!.jellycli.body);
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) console.log(row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  "));
  console.log(`\ntime to first byte, streamed OpenAI chat (p50 of 300 sequential): floor ${fmt(floorTtfb, 2)} ms, jellycli ${fmt(ourTtfb, 2)} ms, added ${fmt(ourTtfb - floorTtfb, 2)} ms`);
  console.log(`RSS after load: jellycli ${fmt(rssMiB(jellycli.child.pid))} MiB, floor ${fmt(rssMiB(floorProcess.pid))} MiB`);
}

/**
 * N streams held open at once through jellycli, each 1 event per second for STREAM_SECONDS, with
 * keep-alives due every 0.4 s of silence between events. Raw sockets on the client side, so the
 * client is not what limits the count.
 */
async function streams(): Promise<void> {
  compile();
  const upstreamPort = freePort();
  await spawnReady(["bun", "bench/servers.ts", "upstream", String(upstreamPort), "1000", String(STREAM_SECONDS)]);
  const keepaliveMs = 400;
  const jellycli = await startJellycli(`http://127.0.0.1:${upstreamPort}`, { JELLYCLI_KEEPALIVE_S: String(keepaliveMs / 1000), JELLYCLI_LOG_REQUESTS: "off" });
  const port = Number(new URL(jellycli.url).port);
  const body = JSON.stringify({ model: "gemini-2.5-flash", stream: true, messages: MESSAGES });
  const request = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB(jellycli.child.pid));
  }, 200);
  let completed = 0;
  let failed = 0;
  const lateness: number[] = [];
  const opened = performance.now();
  await Promise.all(Array.from({ length: STREAMS }, (_, index) => new Promise<void>((resolve) => {
    let last = performance.now();
    let text = "";
    const done = (ok: boolean) => {
      if (ok) completed++;
      else failed++;
      resolve();
    };
    setTimeout(() => {
      Bun.connect({
        hostname: "127.0.0.1", port,
        socket: {
          open(socket) {
            socket.write(request);
            last = performance.now();
          },
          data(socket, chunk) {
            const now = performance.now();
            const piece = chunk.toString();
            // Silence before a keep-alive, beyond the interval, is how late it was.
            if (piece.includes(": keep-alive")) lateness.push(now - last - keepaliveMs);
            last = now;
            text = (text + piece).slice(-64);
            if (text.includes("data: [DONE]")) {
              socket.end();
              done(true);
            }
          },
          close() {
            if (!text.includes("data: [DONE]")) done(false);
          },
          error() {
            done(false);
          },
        },
      }).catch(() => done(false));
    }, (index % 1000) * 2); // open them over ~2 s, as clients arrive
  })));
  clearInterval(sampler);
  lateness.sort((a, b) => a - b);
  const quantile = (q: number) => lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))] ?? Number.NaN;
  console.log(`bun run bench --streams ${STREAMS}: each stream ${STREAM_SECONDS} events, one per second; keep-alive due after ${keepaliveMs} ms of silence`);
  console.log(`completed ${completed} of ${STREAMS} (${failed} failed) in ${fmt((performance.now() - opened) / 1000)} s`);
  console.log(`peak RSS ${fmt(peak)} MiB`);
  console.log(`keep-alives: ${lateness.length}; late by p50 ${fmt(quantile(0.5), 0)} ms, p99 ${fmt(quantile(0.99), 0)} ms, max ${fmt(lateness.at(-1) ?? Number.NaN, 0)} ms`);
}

try {
  await (STREAMS > 0 ? streams() : throughput());
} finally {
  stopAll();
}
process.exit(0);
