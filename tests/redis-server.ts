// A real redis-server for the multi-instance tests (Debian package `redis-server`; .ci/run installs
// it when missing), on a free port with its data in a temporary folder, so stopping and starting it
// keeps what was written (append-only file, synced on every write).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

export async function startRedis(): Promise<RedisServer> {
  const binary = Bun.which("redis-server");
  if (!binary) throw new Error("No redis-server: install it (apt-get install redis-server); the multi-instance tests need a real one.");
  const dir = mkdtempSync(join(tmpdir(), "jellycli-redis-"));
  const port = freePort();
  let child: ReturnType<typeof Bun.spawn> | undefined;
  const start = async () => {
    child = Bun.spawn([binary, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes"], { stdout: "ignore", stderr: "ignore" });
    for (let attempt = 0; attempt < 100; attempt++) {
      const ok = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((socket) => { socket.end(); return true; }, () => false);
      if (ok) return;
      await Bun.sleep(50);
    }
    throw new Error("redis-server did not start");
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    async stop() {
      child?.kill();
      await child?.exited;
    },
  };
}
