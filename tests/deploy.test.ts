// The container files (issue 15): the compose file parses and has what several instances behind a
// streaming-safe proxy need; the Dockerfile is multi-stage, non-root, with /data and a health
// check the binary answers itself. (.ci/run builds the image when a Docker daemon is available.)
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MockGoogle } from "./mock/google.ts";
import { makeWorkspace, processEnv, spawnJellycli } from "./helpers.ts";

const ROOT = join(import.meta.dir, "..");
const MAIN = join(ROOT, "src", "main.ts");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

describe("docker-compose.yml", () => {
  const compose = Bun.YAML.parse(read("docker-compose.yml")) as any;
  test("Redis, two jellycli instances on it, a proxy in front", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["jellycli-1", "jellycli-2", "proxy", "redis"]);
    for (const name of ["jellycli-1", "jellycli-2"]) {
      const service = compose.services[name];
      expect(service.build).toBe(".");
      expect(service.environment.JELLYCLI_REDIS_URL).toBe("redis://redis:6379");
      expect(service.environment.JELLYCLI_PASSWORD).toContain("JELLYCLI_PASSWORD");
      // Their own data (state, database), shared credentials.
      expect(service.volumes).toEqual([`${name}-data:/data`, "credentials:/data/credentials"]);
    }
    expect(compose.services.proxy.volumes).toContain("./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro");
    expect(Object.keys(compose.volumes).sort()).toEqual(["credentials", "jellycli-1-data", "jellycli-2-data", "redis-data"]);
  });

  test("the proxy passes streams on as they come and waits long enough", () => {
    const nginx = read("deploy/nginx.conf");
    for (const directive of ["proxy_buffering off;", "proxy_read_timeout 3600s;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";', "server jellycli-1:7878", "server jellycli-2:7878"]) {
      expect(nginx).toContain(directive);
    }
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  test("multi-stage, non-root, a /data volume, a health check", () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toContain("bun install --frozen-lockfile --production");
    expect(dockerfile).toMatch(/^USER jellycli$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(dockerfile).toContain('HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["jellycli", "healthcheck"]');
  });

  test("`jellycli healthcheck` exits 0 against a running gateway and 1 when none answers", async () => {
    const mock = new MockGoogle();
    const workspace = makeWorkspace();
    const gateway = await spawnJellycli([process.execPath, MAIN], processEnv(mock, workspace), workspace.dir);
    try {
      const check = (bind: string) => Bun.spawn([process.execPath, MAIN, "healthcheck", "--bind-address", bind], { cwd: workspace.dir, env: { PATH: process.env.PATH ?? "" }, stdout: "pipe", stderr: "pipe" }).exited;
      expect(await check(new URL(gateway.url).host)).toBe(0);
      const unused = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const port = unused.port;
      unused.stop(true);
      expect(await check(`127.0.0.1:${port}`)).toBe(1);
    } finally {
      gateway.process.kill("SIGTERM");
      await gateway.process.exited;
      mock.stop();
    }
  });
});
