// Credential files, the state file and the pool's rotation, at the module level.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GEMINI_CLI_CLIENT_ID, loadCredentials, parseCredential, renderRefreshed, type Credential } from "../src/pool/credential.ts";
import { Pool } from "../src/pool/pool.ts";
import { decodeState, encodeState, StateStore } from "../src/pool/state.ts";
import { emptyState } from "../src/pool/transitions.ts";
import { makeWorkspace } from "./helpers.ts";
import { parse } from "smol-toml";

describe("credential files", () => {
  test("jellycli's format", () => {
    const credential = parseCredential("a.json", "/x/a.json", JSON.stringify({
      access_token: "ya29.a", refresh_token: "1//r", client_id: "cid", client_secret: "cs", project_id: "p", expiry: "2026-11-23T10:00:00Z",
    })) as Credential;
    expect(credential).toMatchObject({ format: "jellycli", clientId: "cid", projectId: "p", accessToken: "ya29.a", expiresAt: Date.parse("2026-11-23T10:00:00Z") });
  });

  test("Gemini CLI's format, with a fractional expiry_date", () => {
    const credential = parseCredential("o.json", "/x/o.json", JSON.stringify({
      access_token: "ya29.b", refresh_token: "1//r", scope: "s", token_type: "Bearer", id_token: "e", expiry_date: 1769159945362.7791,
    })) as Credential;
    expect(credential).toMatchObject({ format: "gemini-cli", clientId: GEMINI_CLI_CLIENT_ID, expiresAt: 1769159945362.7791 });
  });

  test.each([
    ["{", "not valid JSON"],
    ["[]", "not a JSON object"],
    ['{"access_token":"x"}', 'missing "refresh_token"'],
    ['{"refresh_token":"r","client_id":"c"}', 'missing "client_secret"'],
    ['{"refresh_token":"r","expiry_date":"soon"}', "expiry_date"],
    ['{"refresh_token":"r","client_id":"c","client_secret":"s","expiry":"never"}', "RFC 3339"],
  ])("malformed %p → %p", (text, problem) => {
    expect(parseCredential("f.json", "/x/f.json", text)).toContain(problem);
  });

  test("a refresh is written back in the file's own format, unknown fields kept", () => {
    const jelly = parseCredential("a.json", "/x", JSON.stringify({ refresh_token: "1//r", client_id: "c", client_secret: "s", email: "me@x" })) as Credential;
    expect(renderRefreshed(jelly, { accessToken: "ya29.new", expiresAt: Date.parse("2026-11-23T11:00:00Z"), extra: { scope: "s" } })).toEqual({
      refresh_token: "1//r", client_id: "c", client_secret: "s", email: "me@x", access_token: "ya29.new", expiry: "2026-11-23T11:00:00.000Z",
    });
    const cli = parseCredential("o.json", "/x", JSON.stringify({ refresh_token: "1//r", expiry_date: 1 })) as Credential;
    expect(renderRefreshed(cli, { accessToken: "ya29.new", expiresAt: 5, extra: { id_token: "i", token_type: "Bearer" } })).toEqual({
      refresh_token: "1//r", expiry_date: 5, access_token: "ya29.new", id_token: "i", token_type: "Bearer",
    });
  });

  test("loadCredentials skips bad files with a reason and reads only *.json", async () => {
    const workspace = makeWorkspace();
    writeFileSync(join(workspace.credentialsDir, "good.json"), JSON.stringify({ refresh_token: "1//r" }));
    writeFileSync(join(workspace.credentialsDir, "bad.json"), "nope");
    writeFileSync(join(workspace.credentialsDir, "README.md"), "# hi");
    const { credentials, problems } = await loadCredentials(workspace.credentialsDir);
    expect(credentials.map((credential) => credential.id)).toEqual(["good.json"]);
    expect(problems).toEqual([{ file: "bad.json", problem: "not valid JSON" }]);
    expect((await loadCredentials(join(workspace.dir, "missing"))).credentials).toEqual([]);
  });
});

describe("state file", () => {
  test("encode → decode round trip", () => {
    const states = new Map([
      ["a.json", { ...emptyState(), success_count: 3, error_count: 1, last_success_at: 1_700_000_000_000, last_error: '429 "quota"', project_id: "p", model_cooldowns: { "gemini-2.5-pro": 1_800_000_000_000 } }],
      ["b.json", { ...emptyState(), status: "invalid" as const, disabled_reason: "invalid_grant" }],
    ]);
    const text = encodeState(states);
    expect(decodeState(parse(text))).toEqual(states);
  });

  test("flush writes atomically and leaves no temp files; an unparsable file is moved aside", async () => {
    const workspace = makeWorkspace();
    const store = new StateStore(workspace.stateFile, { flushIntervalMs: 10 });
    store.attach(() => new Map([["a.json", { ...emptyState(), success_count: 1 }]]));
    await store.flush();
    expect(readdirSync(workspace.dir).sort()).toEqual(["credentials", "creds_state.toml"]);
    expect(readFileSync(workspace.stateFile, "utf8")).toStartWith("# creds_state.toml");

    writeFileSync(workspace.stateFile, "this is [ not toml");
    const warnings: string[] = [];
    const loaded = await new StateStore(workspace.stateFile, { flushIntervalMs: 10, onWarning: (message) => warnings.push(message) }).load();
    expect(loaded.size).toBe(0);
    expect(warnings[0]).toContain("moved to");
    expect(readdirSync(workspace.dir).some((name) => name.startsWith("creds_state.toml.unreadable-"))).toBe(true);
  });

  test("markDirty coalesces many changes into one write", async () => {
    const workspace = makeWorkspace();
    let snapshots = 0;
    const store = new StateStore(workspace.stateFile, { flushIntervalMs: 30 });
    store.attach(() => {
      snapshots++;
      return new Map();
    });
    for (let change = 0; change < 100; change++) store.markDirty();
    await Bun.sleep(100);
    expect(snapshots).toBe(1);
  });
});

describe("pool rotation", () => {
  const credential = (id: string) => ({ id }) as Credential;
  const NOW = 1_000;

  test("skips disabled and cooling credentials and those already tried", () => {
    const states = new Map([["b", { ...emptyState(), status: "disabled" as const }], ["c", { ...emptyState(), model_cooldowns: { m: NOW + 10 } }]]);
    const pool = new Pool(["a", "b", "c", "d"].map(credential), states, { callsPerRotation: 1 });
    expect(pool.pick("m", NOW)!.id).toBe("a");
    expect(pool.pick("m", NOW)!.id).toBe("d");
    expect(pool.pick("m", NOW, new Set(["a"]))!.id).toBe("d");
    expect(pool.pick("other", NOW)!.id).toBe("a");
    expect(pool.pick("m", NOW, new Set(["a", "d"]))).toBeUndefined();
  });

  test("unavailableError: 429 with the earliest reset when everything is cooling", () => {
    const states = new Map([["a", { ...emptyState(), model_cooldowns: { m: NOW + 5_000 } }], ["b", { ...emptyState(), model_cooldowns: { m: NOW + 9_000 } }]]);
    const error = new Pool(["a", "b"].map(credential), states, { callsPerRotation: 1 }).unavailableError("m", NOW);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 5_000 });
  });
});

describe("atomic writes on a full disk", () => {
  test("a write that fails (here: the file-size limit, as on a full disk) leaves no temp file and the old file intact", async () => {
    const { mkdtempSync, readdirSync, readFileSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "jellycli-efbig-"));
    writeFileSync(join(dir, "state.toml"), "old = true\n");
    const script = join(dir, "write.ts");
    writeFileSync(script, `import { writeFileAtomic } from ${JSON.stringify(join(import.meta.dir, "..", "src", "pool", "credential.ts"))};
await writeFileAtomic(${JSON.stringify(join(dir, "state.toml"))}, "x".repeat(200_000)).then(() => console.log("wrote"), (error) => console.log(error.code));`);
    // ulimit -f makes the kernel refuse the write (EFBIG), like a disk that is full.
    const run = Bun.spawnSync(["bash", "-c", `ulimit -f 50; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(script)}`]);
    expect(run.stdout.toString().trim()).toBe("EFBIG");
    expect(readdirSync(dir).sort()).toEqual(["state.toml", "write.ts"]);
    expect(readFileSync(join(dir, "state.toml"), "utf8")).toBe("old = true\n");
  });
});
