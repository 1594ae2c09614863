// `jellycli login`: adds a Google account to credentials_dir without copying files. By default a
// listener on 127.0.0.1:<free port>/oauth2callback receives the browser's redirect; with
// --no-browser, Google shows the code on its own page and the person pastes it here. Nothing is
// written unless Google accepts the account (docs/codeassist-protocol.md §10.2, §10.3).
import { join } from "node:path";
import type { Config } from "../config.ts";
import { GatewayError } from "../hub.ts";
import { beginLogin, callbackError, completeLogin, loginFailure, loginPage, MANUAL_REDIRECT_URI, parseCallback, type CompleteLoginDeps, type LoginResult, type PendingLogin } from "../pool/login.ts";
import type { Sealer } from "../sealing.ts";
import { CodeAssistUpstream } from "../upstreams/codeassist.ts";

export interface LoginCommandOptions {
  noBrowser: boolean;
  project?: string;
  timeoutMs: number;
  sealer: Sealer;
  /** Opens the address in a browser where one is available; false when it could not. */
  openBrowser: (url: string) => boolean;
  /** The next line a person types (--no-browser). */
  readLine: () => Promise<string | undefined>;
  print: (text: string) => void;
  printError: (text: string) => void;
}

export async function loginCommand(config: Config, options: LoginCommandOptions): Promise<number> {
  const deps: CompleteLoginDeps = {
    client: {
      authUrl: config.oauth_auth_url, tokenUrl: config.oauth_token_url, userinfoUrl: config.oauth_userinfo_url,
      clientId: config.oauth_client_id, clientSecret: config.oauth_client_secret, timeoutMs: config.connect_timeout_ms,
    },
    codeAssist: new CodeAssistUpstream({ fetch: globalThis.fetch, endpoint: config.code_assist_endpoint, connectTimeoutMs: config.connect_timeout_ms, idleTimeoutMs: config.idle_timeout_ms }),
    credentialsDir: config.credentials_dir,
    sealer: options.sealer,
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GatewayError({ status: 408, code: "timeout", message: `no answer from Google within ${Math.round(options.timeoutMs / 60_000) || 1} minutes; run jellycli login again` })), options.timeoutMs);
  });
  try {
    const result = await Promise.race([options.noBrowser ? pasteFlow(deps, options) : loopbackFlow(deps, options, timeout), timeout]);
    options.print([
      `Logged in as ${result.email}: project ${result.project}, tier ${result.tier}.`,
      `Saved ${join(config.credentials_dir, result.file)}${options.sealer.enabled ? " (encrypted)" : ""}; a running jellycli picks it up within credentials_poll_s (${config.credentials_poll_s} s).`,
    ].join("\n"));
    return 0;
  } catch (error) {
    const failure = loginFailure(error);
    options.printError(`jellycli: login failed, nothing was saved: ${failure.error}${failure.help_url ? `\n  See: ${failure.help_url}` : ""}`);
    return 1;
  } finally {
    clearTimeout(timer);
  }
}

/** The browser comes back to a one-shot listener on loopback, as Gemini CLI does. */
async function loopbackFlow(deps: CompleteLoginDeps, options: LoginCommandOptions, timeout: Promise<never>): Promise<LoginResult> {
  let settle!: { resolve: (result: LoginResult) => void; reject: (error: unknown) => void };
  const done = new Promise<LoginResult>((resolve, reject) => { settle = { resolve, reject }; });
  let pending: PendingLogin | undefined;
  let used = false;
  const server = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch: async (request) => {
      const url = new URL(request.url);
      // A browser also asks for /favicon.ico and the like: not the callback, not a failure.
      if (url.pathname !== "/oauth2callback" || !pending) return new Response("Not found", { status: 404 });
      if (used) return loginPage({ status: "error", error: "This login already finished; run jellycli login again for another account." });
      used = true;
      const input = parseCallback(url.search);
      try {
        if (input.state !== pending.state) throw GatewayError.invalidRequest("The answer's state does not match this login (a stale or forged address); run jellycli login again.");
        const refusal = callbackError(input);
        if (refusal) throw refusal;
        const result = await completeLogin(deps, pending, input.code!, { project: options.project });
        settle.resolve(result);
        return loginPage({ status: "done", account: result });
      } catch (error) {
        settle.reject(error);
        return loginPage(loginFailure(error));
      }
    },
  });
  try {
    pending = beginLogin(deps.client, `http://127.0.0.1:${server.port}/oauth2callback`);
    const opened = options.openBrowser(pending.url);
    options.print(`${opened ? "A browser should open; if it does not, open" : "Open"} this address to sign in with Google (waiting up to ${Math.round(options.timeoutMs / 60_000) || 1} minutes):\n\n  ${pending.url}\n`);
    return await Promise.race([done, timeout]);
  } finally {
    // The page with the outcome reaches the browser before the listener goes (at most 2 s).
    await Promise.race([server.stop(), Bun.sleep(2000)]);
    server.stop(true);
  }
}

/** No browser beside jellycli: Google shows the code, the person pastes it (or the whole address). */
async function pasteFlow(deps: CompleteLoginDeps, options: LoginCommandOptions): Promise<LoginResult> {
  const pending = beginLogin(deps.client, MANUAL_REDIRECT_URI);
  options.print(`Open this address in any browser, sign in with Google, then paste the code it shows here:\n\n  ${pending.url}\n`);
  const line = await options.readLine();
  if (line === undefined) throw GatewayError.invalidRequest("no code was entered");
  const input = parseCallback(line);
  if (input.state !== undefined && input.state !== pending.state) throw GatewayError.invalidRequest("The pasted address belongs to another login; run jellycli login again.");
  const refusal = callbackError(input);
  if (refusal) throw refusal;
  return completeLogin(deps, pending, input.code!, { project: options.project });
}
