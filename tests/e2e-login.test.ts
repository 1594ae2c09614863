// Adding accounts by logging in (issue 12): `jellycli login` in both modes against the mock
// Google's consent screen, token endpoint (PKCE, redirect URI, client checked) and Code Assist;
// refusals write nothing; a running gateway serves with the new account by itself.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MockGoogle } from "./mock/google.ts";
import { chat, makeWorkspace, processEnv, readJson, startGateway, testConfig, type Workspace } from "./helpers.ts";

const MAIN = join(import.meta.dir, "..", "src", "main.ts");
let mock: MockGoogle;

beforeAll(() => {
  mock = new MockGoogle();
});
afterAll(() => mock.stop());

interface Login {
  child: ReturnType<typeof Bun.spawn>;
  /** The authorization address the command printed. */
  url: string;
  finish: () => Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Starts `jellycli login …` and waits for the address it prints. */
async function startLogin(workspace: Workspace, args: string[] = []): Promise<Login> {
  const child = Bun.spawn([process.execPath, MAIN, "login", ...args], {
    cwd: workspace.dir, env: { PATH: process.env.PATH ?? "", HOME: workspace.dir, ...processEnv(mock, workspace) }, stdin: "pipe", stdout: "pipe", stderr: "pipe",
  });
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let stdout = "";
  const deadline = Date.now() + 15_000;
  while (!/^\s+(http\S+)$/m.test(stdout)) {
    if (Date.now() > deadline) throw new Error(`no address printed:\n${stdout}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`login exited early:\n${stdout}\n${await new Response(child.stderr as ReadableStream).text()}`);
    stdout += decoder.decode(value, { stream: true });
  }
  const url = /^\s+(http\S+)$/m.exec(stdout)![1]!;
  return {
    child, url,
    finish: async () => {
      const rest = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          stdout += decoder.decode(value, { stream: true });
        }
      })();
      const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr as ReadableStream).text(), rest]);
      return { code, stdout, stderr };
    },
  };
}

const jsonFiles = (workspace: Workspace) => readdirSync(workspace.credentialsDir).filter((name) => name.endsWith(".json"));

describe("jellycli login", () => {
  test("browser flow: the consent screen redirects to the loopback listener; a running gateway then serves with the new account", async () => {
    const workspace = makeWorkspace();
    const running = await startGateway(testConfig(mock, workspace, { credentials_poll_s: 0.1 }));
    try {
      mock.addAccount({ name: "dana", refreshToken: "1//refresh-dana-login", project: "project-dana", email: "Dana@Example.com" });
      mock.consent = { account: "dana" };
      const login = await startLogin(workspace);
      const asked = new URL(login.url);
      expect(asked.origin + asked.pathname).toBe(mock.authUrl);
      expect(asked.searchParams.get("redirect_uri")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth2callback$/);
      expect(Object.fromEntries([...asked.searchParams].filter(([name]) => ["access_type", "prompt", "code_challenge_method", "response_type"].includes(name))))
        .toEqual({ access_type: "offline", prompt: "consent", code_challenge_method: "S256", response_type: "code" });
      expect(asked.searchParams.get("state")!.length).toBeGreaterThanOrEqual(32);

      // The "browser": follows Google's redirect back to the command's listener.
      const page = await fetch(login.url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Account added");
      const { code, stdout } = await login.finish();
      expect(code).toBe(0);
      expect(stdout).toContain("Logged in as Dana@Example.com: project project-dana, tier free-tier.");

      const path = join(workspace.credentialsDir, "dana@example.com.json");
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const file = JSON.parse(readFileSync(path, "utf8"));
      expect(file).toMatchObject({ refresh_token: "1//refresh-dana-login", project_id: "project-dana", email: "Dana@Example.com", tier: "free-tier" });
      // The code exchange carried PKCE and the same redirect URI and client as the consent request.
      const exchange = mock.calls.find((call) => call.path === "/token" && call.body?.grant_type === "authorization_code" && call.account === "dana")!;
      expect(exchange.body.redirect_uri).toBe(asked.searchParams.get("redirect_uri"));
      expect(exchange.body.code_verifier.length).toBe(128);

      // Picked up by the running gateway without a restart, and used.
      let answer: Response | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        answer = await chat(running.url, { model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] });
        if (answer.status === 200) break;
        await Bun.sleep(100);
      }
      expect(answer!.status).toBe(200);
      expect(mock.generateCalls().at(-1)!.account).toBe("dana");
    } finally {
      await running.stop();
    }
  });

  test("--no-browser: Google's code page, the code pasted on standard input; a new account is onboarded", async () => {
    const workspace = makeWorkspace();
    mock.addAccount({ name: "erin", refreshToken: "1//refresh-erin-login", project: "project-erin", needsOnboarding: true });
    mock.consent = { account: "erin" };
    const login = await startLogin(workspace, ["--no-browser"]);
    expect(new URL(login.url).searchParams.get("redirect_uri")).toBe("https://codeassist.google.com/authcode");
    const redirect = await fetch(login.url, { redirect: "manual" });
    const landing = new URL(redirect.headers.get("location")!);
    expect(landing.origin + landing.pathname).toBe("https://codeassist.google.com/authcode");
    (login.child.stdin as import("bun").FileSink).write(`${landing.searchParams.get("code")}\n`);
    (login.child.stdin as import("bun").FileSink).end();
    const { code, stdout, stderr } = await login.finish();
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain("Logged in as erin@example.com: project project-erin, tier free-tier.");
    expect(JSON.parse(readFileSync(join(workspace.credentialsDir, "erin@example.com.json"), "utf8")).project_id).toBe("project-erin");
    expect(mock.calls.some((call) => call.path === "/v1internal:onboardUser" && call.account === "erin")).toBe(true);
  });

  test("--no-browser also takes the whole address the browser ended on; another login's address is refused", async () => {
    const workspace = makeWorkspace();
    mock.addAccount({ name: "fay", refreshToken: "1//refresh-fay-login", project: "project-fay" });
    mock.consent = { account: "fay" };
    const stale = await startLogin(workspace, ["--no-browser"]);
    const staleAddress = (await fetch(stale.url, { redirect: "manual" })).headers.get("location")!;
    stale.child.kill();
    await stale.finish();

    const login = await startLogin(workspace, ["--no-browser"]);
    (login.child.stdin as import("bun").FileSink).write(`${staleAddress}\n`);
    (login.child.stdin as import("bun").FileSink).end();
    const refused = await login.finish();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("belongs to another login");
    expect(jsonFiles(workspace)).toEqual([]);

    const again = await startLogin(workspace, ["--no-browser"]);
    const address = (await fetch(again.url, { redirect: "manual" })).headers.get("location")!;
    (again.child.stdin as import("bun").FileSink).write(`${address}\n`);
    (again.child.stdin as import("bun").FileSink).end();
    expect((await again.finish()).code).toBe(0);
    expect(jsonFiles(workspace)).toEqual(["fay@example.com.json"]);
  });

  const refusals: [string, () => void, RegExp][] = [
    ["an account Code Assist does not serve (ineligible tier)", () => {
      mock.addAccount({ name: "gus", refreshToken: "1//refresh-gus", ineligible: true });
      mock.consent = { account: "gus" };
    }, /not eligible for Gemini Code Assist[\s\S]*Standard or Enterprise[\s\S]*See: https:\/\//],
    ["an account Google wants verified, with its link", () => {
      mock.addAccount({ name: "hal", refreshToken: "1//refresh-hal", validationUrl: "https://accounts.google.com/signin/continue?mock=hal" });
      mock.consent = { account: "hal" };
    }, /verify itself[\s\S]*See: https:\/\/accounts\.google\.com\/signin\/continue\?mock=hal/],
    ["a sign-in the person cancelled (access_denied)", () => {
      mock.consent = { error: "access_denied" };
    }, /cancelled \(access_denied\)/],
    ["a code Google no longer honours (invalid_grant)", () => {
      mock.addAccount({ name: "ivy", refreshToken: "1//refresh-ivy", project: "p-ivy", revoked: true });
      mock.consent = { account: "ivy" };
    }, /invalid_grant/],
  ];
  for (const [name, arrange, reason] of refusals) {
    test(`refused: ${name} → exit 1, the reason printed, no file written`, async () => {
      const workspace = makeWorkspace();
      arrange();
      const login = await startLogin(workspace);
      const page = await fetch(login.url);
      expect(page.status).toBe(400);
      expect(await page.text()).toContain("Account not added");
      const { code, stderr } = await login.finish();
      expect(code).toBe(1);
      expect(stderr).toMatch(/login failed, nothing was saved/);
      expect(stderr).toMatch(reason);
      expect(existsSync(workspace.credentialsDir) ? jsonFiles(workspace) : []).toEqual([]);
    });
  }

  test("gives up after --timeout with a clear message", async () => {
    const workspace = makeWorkspace();
    const login = await startLogin(workspace, ["--timeout", "0.3"]);
    const { code, stderr } = await login.finish();
    expect(code).toBe(1);
    expect(stderr).toContain("no answer from Google");
    void readJson;
  });
});
