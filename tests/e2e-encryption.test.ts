// Encryption at rest (issue 12): with an encryption_key every credential file and stored upstream
// key is sealed (plaintext ones in place at start, refreshed tokens, files dropped in later); no
// secret is left readable in any file under the data folders; a missing or wrong key refuses to
// start and changes nothing; rekey (also cut off half-way) and decrypt.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MockGoogle } from "./mock/google.ts";
import { addReadyAccount, chat, makeWorkspace, readJson, startGateway, testConfig, writeJellycliCredential, type Workspace } from "./helpers.ts";
import { createLogger, silentLogger } from "../src/log.ts";
import { envelopeOf, generateKey, Sealer } from "../src/sealing.ts";
import { rekey } from "../src/cli/secrets.ts";
import type { Config } from "../src/config.ts";

const MAIN = join(import.meta.dir, "..", "src", "main.ts");
const ADMIN = "admin-password-123";
const API_KEY = "AIza-runtime-added-key-0123456789";
let mock: MockGoogle;
let workspace: Workspace;

beforeEach(() => {
  mock = new MockGoogle();
  workspace = makeWorkspace();
  for (const name of ["a", "b"]) addReadyAccount(mock, workspace, name);
  mock.addApiKey("AIza-configured-key", "keys");
  mock.addApiKey(API_KEY, "keys");
});
afterEach(() => mock.stop());

const config = (overrides: Partial<Config> = {}) => testConfig(mock, workspace, { health_check_interval_s: 0, admin_password: ADMIN, gemini_api_keys: ["AIza-configured-key"], gemini_api_endpoint: mock.url, credentials_poll_s: 0.1, ...overrides });

/** Every file under the workspace (credentials, removed/, state, database, WAL, logs), as bytes. */
function everyFile(dir = workspace.dir): { path: string; bytes: Buffer }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? everyFile(path) : [{ path, bytes: readFileSync(path) }];
  });
}
const holding = (secret: string) => everyFile().filter(({ bytes }) => bytes.includes(secret)).map(({ path }) => path.slice(workspace.dir.length + 1));
const credentialFiles = () => Object.fromEntries(readdirSync(workspace.credentialsDir).filter((name) => name.endsWith(".json")).map((name) => [name, readFileSync(join(workspace.credentialsDir, name), "utf8")]));
const ask = (url: string) => chat(url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] });

describe("encryption at rest", () => {
  test("a key set later seals every plaintext secret in place; nothing readable is left on disk; traffic and refreshes carry on", async () => {
    // First a gateway without a key, with an upstream key added at run time (stored in the database).
    const plain = await startGateway(config());
    const added = await fetch(`${plain.url}/admin/api/credentials`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ pool: "gemini_api", api_key: API_KEY }) });
    expect(added.status).toBe(201);
    await plain.stop();
    expect(holding("1//refresh-a")).toEqual(["credentials/a.json"]);

    const key = generateKey();
    const lines: string[] = [];
    const sealed = await startGateway(config({ encryption_key: key, log_level: "debug" }), createLogger("debug", (line) => lines.push(line)));
    try {
      for (const [name, text] of Object.entries(credentialFiles())) {
        expect([name, envelopeOf(text)?.kid]).toEqual([name, new Sealer(key).keyId]);
        expect(statSync(join(workspace.credentialsDir, name)).mode & 0o777).toBe(0o600);
      }
      for (const secret of ["1//refresh-a", "1//refresh-b", API_KEY]) expect([secret, holding(secret)]).toEqual([secret, []]);
      expect((await ask(sealed.url)).status).toBe(200);
      // An expired token is refreshed and written back sealed.
      mock.revokeAccessToken(mock.generateCalls().at(-1)!.token!);
      expect((await ask(sealed.url)).status).toBe(200);
      // A file dropped in by hand is sealed once picked up.
      addReadyAccount(mock, workspace, "c");
      for (let attempt = 0; attempt < 60 && !envelopeOf(credentialFiles()["c.json"]!); attempt++) await Bun.sleep(100);
      expect(envelopeOf(credentialFiles()["c.json"]!)).toBeDefined();
      const { credentials } = await readJson(await fetch(`${sealed.url}/admin/api/credentials`, { headers: { authorization: `Bearer ${ADMIN}` } }));
      expect(credentials.map((credential: { id: string }) => credential.id)).toContain("c.json");
      // The admin API's view of the configuration masks the key like every secret.
      const shown = await (await fetch(`${sealed.url}/admin/api/config`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
      expect(shown).toContain('"encryption_key"');
      expect(shown).not.toContain(key);
    } finally {
      await sealed.stop();
    }
    for (const secret of ["1//refresh-a", "1//refresh-c", API_KEY]) expect([secret, holding(secret)]).toEqual([secret, []]);
    // The key itself is in no log line and no file.
    expect(lines.join("")).not.toContain(key);
    expect(holding(key)).toEqual([]);
  });

  test("restart: works with the key; without it or with another one it refuses, names the files, and changes nothing", async () => {
    const key = generateKey();
    const first = await startGateway(config({ encryption_key: key }));
    await first.stop();
    const before = everyFile().filter(({ path }) => !path.endsWith("-wal") && !path.endsWith("-shm"));

    for (const wrong of [undefined, generateKey()]) {
      const error = await startGateway(config({ encryption_key: wrong }), silentLogger).then(() => undefined, (caught: Error) => caught);
      expect(error?.message).toContain("cannot start");
      expect(error?.message).toContain(join(workspace.credentialsDir, "a.json"));
      expect(error?.message).toContain(wrong ? "encrypted with another key" : "no encryption_key is set");
      if (wrong) expect(error?.message).not.toContain(wrong);
      expect(error?.message).not.toContain(key);
    }
    for (const { path, bytes } of before) expect([path, readFileSync(path).equals(bytes)]).toEqual([path, true]);

    const again = await startGateway(config({ encryption_key: key }));
    try {
      expect((await ask(again.url)).status).toBe(200);
    } finally {
      await again.stop();
    }
  });

  test("rekey: everything moves to the new key; cut off half-way, every file still opens with one of the two and a second run finishes", async () => {
    const oldKey = generateKey();
    const newKey = generateKey();
    writeJellycliCredential(workspace, "z-plain.json", { refreshToken: "1//refresh-z" });
    const first = await startGateway(config({ encryption_key: oldKey }));
    await fetch(`${first.url}/admin/api/credentials`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ pool: "gemini_api", api_key: API_KEY }) });
    await first.stop();

    // A crash after the first file.
    let written = 0;
    const crash = await rekey(config(), oldKey, newKey, { afterFile: () => { if (++written === 1) throw new Error("power cut"); } }).catch((error: Error) => error);
    expect((crash as Error).message).toBe("power cut");
    const both = new Sealer(newKey, oldKey);
    const kids = Object.values(credentialFiles()).map((text) => {
      expect(JSON.parse(both.open(text)).refresh_token).toMatch(/^1\/\//);
      return envelopeOf(text)!.kid;
    });
    expect(new Set(kids)).toEqual(new Set([new Sealer(newKey).keyId!, new Sealer(oldKey).keyId!]));
    expect((await startGateway(config({ encryption_key: newKey })).then(() => "started", (error: Error) => error.message))).toContain("cannot start");

    // The command line finishes the job; the new key starts the gateway, the old one no longer does.
    const run = Bun.spawn([process.execPath, MAIN, "rekey", "--from", oldKey, "--to", newKey], {
      cwd: workspace.dir, stdout: "pipe", stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", JELLYCLI_CREDENTIALS_DIR: workspace.credentialsDir, JELLYCLI_DATABASE: join(workspace.dir, "jellycli.db") },
    });
    const [code, stdout] = await Promise.all([run.exited, new Response(run.stdout).text()]);
    expect(code).toBe(0);
    expect(stdout).toContain("Re-encrypted 2 credential file(s) and 1 stored API key(s); 1 file(s) already used the new key.");
    for (const text of Object.values(credentialFiles())) expect(envelopeOf(text)!.kid).toBe(new Sealer(newKey).keyId!);
    expect(await startGateway(config({ encryption_key: oldKey })).then(() => "started", (error: Error) => error.message)).toContain("stored API key gemini_api:");
    const after = await startGateway(config({ encryption_key: newKey }));
    try {
      expect((await ask(after.url)).status).toBe(200);
      const { credentials } = await readJson(await fetch(`${after.url}/admin/api/credentials`, { headers: { authorization: `Bearer ${ADMIN}` } }));
      expect(credentials.filter((credential: { pool: string }) => credential.pool === "gemini_api")).toHaveLength(2);
    } finally {
      await after.stop();
    }
    for (const secret of ["1//refresh-z", API_KEY]) expect([secret, holding(secret)]).toEqual([secret, []]);
  });

  test("rekey refuses, changing nothing, when a file opens with neither key; decrypt prints one credential; generate-key makes keys", async () => {
    const key = generateKey();
    await (await startGateway(config({ encryption_key: key }))).stop();
    writeFileSync(join(workspace.credentialsDir, "stranger.json"), new Sealer(generateKey()).seal('{"refresh_token":"x"}'));
    const before = credentialFiles();
    const refused = await rekey(config(), key, generateKey()).catch((error: Error) => error.message);
    expect(refused).toContain("nothing was changed");
    expect(refused).toContain("stranger.json");
    expect(credentialFiles()).toEqual(before);

    const env = { PATH: process.env.PATH ?? "", JELLYCLI_ENCRYPTION_KEY: key };
    const decrypt = Bun.spawn([process.execPath, MAIN, "decrypt", join(workspace.credentialsDir, "a.json")], { cwd: workspace.dir, env, stdout: "pipe", stderr: "pipe" });
    const [code, text] = await Promise.all([decrypt.exited, new Response(decrypt.stdout).text()]);
    expect(code).toBe(0);
    expect(JSON.parse(text).refresh_token).toBe("1//refresh-a");
    const generate = Bun.spawn([process.execPath, MAIN, "generate-key"], { cwd: workspace.dir, env: { PATH: process.env.PATH ?? "" }, stdout: "pipe" });
    const generated = (await new Response(generate.stdout).text()).trim();
    expect(new Sealer(generated).keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(generated).not.toBe(generateKey());
  });
});
