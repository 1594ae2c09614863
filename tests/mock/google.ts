// A scripted mock of Google's OAuth token endpoint and the Code Assist v1internal API, faithful to
// docs/codeassist-protocol.md §12: envelope, project required, SSE framing with a blank line after
// every event, array-wrapped errors before a stream, thoughts only when asked, token expiry.
// Every call is recorded so tests can assert what jellycli sent and with which token.

export const MOCK_MODELS = [
  "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3-pro-preview", "gemini-3.1-pro-preview",
  "gemini-3-flash-preview", "gemini-3-flash", "gemini-3.8-flash", "gemini-3.1-flash-lite", "gemini-3.5-flash-lite",
];

export interface MockAccount {
  name: string;
  refreshToken: string;
  clientId?: string;
  clientSecret?: string;
  /** The Code Assist project; the account counts as onboarded when it has one. */
  project?: string;
  /** A new user: loadCodeAssist names no tier, onboarding assigns `project`. */
  needsOnboarding?: boolean;
  /** How many polls onboarding stays pending. */
  onboardPolls?: number;
  /** The token endpoint answers invalid_grant for this account. */
  revoked?: boolean;
  tokenLifetimeS?: number;
  /** Its e-mail (userinfo); `<name>@example.com` when not set. */
  email?: string;
  /** Code Assist refuses it: not licensed (ineligible tier), or it must verify itself at this URL first. */
  ineligible?: boolean;
  validationUrl?: string;
}

/** What the mock's consent screen does with the next authorization request. */
export type Consent = { account: string } | { error: string };

interface IssuedCode {
  account: string;
  clientId: string;
  redirectUri: string;
  challenge: string;
  used: boolean;
}

export type Scripted =
  | { kind: "error"; status: number; body?: unknown; headers?: Record<string, string> }
  /** `gate`: the answer is held back until it resolves (tests that need "before the answer existed"). */
  | { kind: "reply"; text?: string; chunks?: string[]; thoughts?: string; delayMs?: number; finishReason?: string; gate?: Promise<unknown> }
  | { kind: "drop"; chunks: string[] }
  /** Raw response parts, one array per stream event (joined for unary calls). */
  | { kind: "parts"; events: any[][]; finishReason?: string; groundingMetadata?: unknown; delayMs?: number }
  | { kind: "hang" }
  /** 200 headers, then the connection breaks before any body. */
  | { kind: "reset" };

export interface RecordedCall {
  method: string;
  path: string;
  /** The account the bearer token (or refresh token) belongs to, if any. */
  account?: string;
  token?: string;
  body?: any;
  at: number;
}

interface IssuedToken {
  account: string;
  expiresAt: number;
}

const GEMINI_CLI_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";
const GEMINI_CLI_CLIENT_SECRET = "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";

export class MockGoogle {
  readonly calls: RecordedCall[] = [];
  private readonly accounts = new Map<string, MockAccount>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly scripts = new Map<string, Scripted[]>();
  private readonly operations = new Map<string, { account: string; pollsLeft: number }>();
  private tokenCounter = 0;
  /** Thought signatures this mock has handed out; Gemini 3 requests must bring them back. */
  readonly issuedSignatures = new Set<string>();
  private server: ReturnType<typeof Bun.serve>;
  /** Hook for tests that need to see a connection closed from the other side. */
  aborted = 0;
  /** Streamed answers being sent right now. */
  openStreams = 0;
  /** Random faults for unscripted calls (the soak test): probabilities per call. */
  chaos: { rateLimit?: number; serverError?: number; dropMidStream?: number; refreshFailure?: number } = {};
  /** When set, the token endpoint answers every refresh with this status and body. */
  tokenFailure: { status: number; body: unknown } | undefined;
  /** Answers decided by what was asked (real clients make background calls a queue cannot foresee). */
  responder: ((model: string, contents: any[], tools: any[] | undefined) => Scripted | undefined) | undefined;
  /** The consent screen's answer: which account signs in, or an OAuth error (access_denied). */
  consent: Consent | undefined;
  /** Authorization requests that reached the consent screen, as sent. */
  readonly authorizations: URLSearchParams[] = [];
  private readonly codes = new Map<string, IssuedCode>();

  constructor() {
    // Like the real API, a body the mock cannot make sense of is a 400, never a crash.
    this.server = Bun.serve({
      hostname: "127.0.0.1", port: 0, idleTimeout: 0,
      fetch: (request) => this.handle(request).catch(() => googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", false)),
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  get authUrl(): string {
    return `${this.url}/o/oauth2/v2/auth`;
  }

  get userinfoUrl(): string {
    return `${this.url}/userinfo`;
  }

  stop(): void {
    this.server.stop(true);
  }

  addAccount(account: MockAccount): MockAccount {
    this.accounts.set(account.name, account);
    return account;
  }

  account(name: string): MockAccount {
    const account = this.accounts.get(name);
    if (!account) throw new Error(`no mock account ${name}`);
    return account;
  }

  /** An access token for `account` valid for `lifetimeS` (negative: already expired). */
  issueToken(account: string, lifetimeS = 3600): string {
    const token = `ya29.mock-${account}-${++this.tokenCounter}-${crypto.randomUUID().slice(0, 8)}`;
    this.tokens.set(token, { account, expiresAt: Date.now() + lifetimeS * 1000 });
    return token;
  }

  revokeAccessToken(token: string): void {
    this.tokens.delete(token);
  }

  /** Queue responses for the next generate/stream calls made with `account`'s tokens. */
  script(account: string, ...responses: Scripted[]): void {
    this.scripts.set(account, [...(this.scripts.get(account) ?? []), ...responses]);
  }

  /** Forget queued responses (when a test scripted several accounts and only some were used). */
  clearScripts(): void {
    this.scripts.clear();
  }

  generateCalls(): RecordedCall[] {
    return this.calls.filter((call) => /:(generateContent|streamGenerateContent)$/.test(call.path));
  }

  /** Generation calls to the Gemini API (key-authenticated) only. */
  apiKeyCalls(): RecordedCall[] {
    return this.generateCalls().filter((call) => call.path.startsWith("/v1beta/"));
  }

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const text = request.method === "POST" ? await request.text() : "";
    const call: RecordedCall = { method: request.method, path, at: Date.now() };
    this.calls.push(call);

    if (path === "/token" && request.method === "POST") return this.token(new URLSearchParams(text), call);
    if (path === "/o/oauth2/v2/auth" && request.method === "GET") return this.authorize(url.searchParams);
    if (path === "/userinfo" && request.method === "GET") {
      const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
      const issued = bearer ? this.tokens.get(bearer) : undefined;
      if (!issued || issued.expiresAt <= Date.now()) return json({ error: { code: 401, message: "Request is missing required authentication credential.", status: "UNAUTHENTICATED" } }, 401);
      const account = this.account(issued.account);
      return json({ id: "1234567890", email: account.email ?? `${account.name}@example.com`, verified_email: true, picture: "https://example.invalid/p.png" });
    }
    if (path.startsWith("/v1beta/models/")) return this.geminiApi(request, path, text, call);
    if (path === "/v1beta/models" && request.method === "GET") {
      const key = request.headers.get("x-goog-api-key") ?? "";
      call.token = key;
      call.account = this.apiKeys.get(key);
      if (!call.account) return new Response(JSON.stringify(googleErrorBody(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com" }])), { status: 400, headers: { "content-type": "application/json" } });
      return json({ models: MOCK_MODELS.map((name) => ({ name: `models/${name}` })) });
    }

    const streaming = path === "/v1internal:streamGenerateContent";
    const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    call.token = bearer;
    const issued = bearer ? this.tokens.get(bearer) : undefined;
    if (!issued || issued.expiresAt <= Date.now()) {
      return googleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", streaming);
    }
    call.account = issued.account;
    const account = this.account(issued.account);
    if (request.headers.get("content-type") !== "application/json") return googleError(400, "INVALID_ARGUMENT", "content-type must be application/json", streaming);
    let body: any = {};
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        return googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", streaming);
      }
    }
    call.body = body;

    if (request.method === "GET" && path.startsWith("/v1internal/operations/")) return this.poll(path.slice("/v1internal/".length));
    switch (path) {
      case "/v1internal:loadCodeAssist":
        if (account.validationUrl) {
          return json({ allowedTiers: [{ id: "free-tier", isDefault: true }], ineligibleTiers: [{ reasonCode: "VALIDATION_REQUIRED", reasonMessage: "Verify your account to continue.", tierId: "free-tier", validationUrl: account.validationUrl }] });
        }
        if (account.ineligible) {
          // Code Assist for licensed accounts only: no tier open to this one.
          return json({ allowedTiers: [{ id: "standard-tier", userDefinedCloudaicompanionProject: true }], ineligibleTiers: [{ reasonCode: "INELIGIBLE_ACCOUNT", reasonMessage: "Your account is not eligible for Gemini Code Assist for individuals.", tierId: "free-tier", tierName: "Gemini Code Assist for individuals" }] });
        }
        return json(account.needsOnboarding
          ? { allowedTiers: [{ id: "free-tier", name: "Gemini Code Assist for individuals", isDefault: true }, { id: "standard-tier", userDefinedCloudaicompanionProject: true }] }
          : { currentTier: { id: "free-tier", name: "Gemini Code Assist for individuals" }, allowedTiers: [{ id: "free-tier", isDefault: true }], cloudaicompanionProject: account.project });
      case "/v1internal:onboardUser":
        return this.onboard(account, body);
      case "/v1internal:countTokens":
        if (!/^models\//.test(body?.request?.model ?? "")) return googleError(400, "INVALID_ARGUMENT", "request.model must start with models/", false);
        return json({ totalTokens: countWords(body.request.contents) });
      case "/v1internal:generateContent":
      case "/v1internal:streamGenerateContent":
        if (streaming && url.searchParams.get("alt") !== "sse") return googleError(400, "INVALID_ARGUMENT", "alt=sse required by this mock", true);
        return this.generate(account, body, streaming, request.signal);
    }
    return googleError(404, "NOT_FOUND", `no mock route ${request.method} ${path}`, false);
  }

  /** The size of every embedding batch the mock Gemini API received. */
  readonly embedBatches: number[] = [];

  /** API keys of the mock Gemini API, mapped to the account they bill. */
  private readonly apiKeys = new Map<string, string>();

  /** A Gemini API key (x-goog-api-key); its calls are recorded under `account`. */
  removeApiKey(key: string): void {
    this.apiKeys.delete(key);
  }

  addApiKey(key: string, account: string): void {
    if (!this.accounts.has(account)) this.addAccount({ name: account, refreshToken: `unused-${account}`, project: `apikey-${account}` });
    this.apiKeys.set(key, account);
  }

  /** generativelanguage.googleapis.com: the same generation, no envelope, key auth. */
  private async geminiApi(request: Request, path: string, text: string, call: RecordedCall): Promise<Response> {
    const [, model, method] = /^\/v1beta\/models\/(.+):(\w+)$/.exec(path) ?? [];
    const key = request.headers.get("x-goog-api-key") ?? new URL(request.url).searchParams.get("key") ?? "";
    call.token = key;
    const accountName = this.apiKeys.get(key);
    if (!accountName) {
      return new Response(JSON.stringify(googleErrorBody(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com" }])), { status: 400, headers: { "content-type": "application/json" } });
    }
    call.account = accountName;
    const account = this.account(accountName);
    const body = JSON.parse(text || "{}");
    call.body = body;
    if (method === "batchEmbedContents" || method === "embedContent") {
      const requests: any[] = method === "embedContent" ? [body] : body.requests ?? [];
      if (requests.length > 100) return googleError(400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch", false);
      if (method === "batchEmbedContents" && requests.some((request) => request.model !== `models/${model}`)) return googleError(400, "INVALID_ARGUMENT", "requests[].model must match the URL's model", false);
      if (!String(model).includes("embedding")) return googleError(400, "INVALID_ARGUMENT", `models/${model} is not an embedding model`, false);
      this.embedBatches.push(requests.length);
      const embeddings = requests.map((request) => ({ values: mockEmbedding(request.content?.parts?.map((part: any) => part.text ?? "").join("") ?? "", request.outputDimensionality ?? 8) }));
      return json(method === "embedContent" ? { embedding: embeddings[0] } : { embeddings });
    }
    if (method === "countTokens") {
      const contents = body.generateContentRequest?.contents ?? body.contents ?? [];
      return json({ totalTokens: countWords(contents) });
    }
    const streaming = method === "streamGenerateContent";
    // Same generation as Code Assist, then the envelope comes off, as the real API has none.
    const inner = await this.generate(account, { model, project: account.project, request: body }, streaming, request.signal);
    if (!inner.ok) return inner;
    if (!streaming) {
      const envelope = await inner.json() as any;
      return json(envelope.response);
    }
    const encoder = new TextEncoder();
    let buffer = "";
    const unwrap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        buffer += new TextDecoder().decode(chunk);
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const envelope = JSON.parse(event.replace(/^data: /, ""));
          controller.enqueue(encoder.encode(`data: ${JSON.stringify({ ...envelope.response, responseId: envelope.traceId })}\r\n\r\n`));
        }
      },
    });
    return new Response(inner.body!.pipeThrough(unwrap), { headers: { "content-type": "text/event-stream" } });
  }

  /** The consent screen: checks the request like Google (client, redirect URI, scopes, PKCE), then redirects with a code or an error. */
  private authorize(query: URLSearchParams): Response {
    this.authorizations.push(query);
    const redirectUri = query.get("redirect_uri") ?? "";
    const loopback = /^http:\/\/127\.0\.0\.1:\d+\/[\w/]*$/.test(redirectUri);
    if (query.get("client_id") !== GEMINI_CLI_CLIENT_ID) return new Response("Error 401: invalid_client", { status: 401 });
    if (!loopback && redirectUri !== "https://codeassist.google.com/authcode") return new Response("Error 400: redirect_uri_mismatch", { status: 400 });
    const scopes = (query.get("scope") ?? "").split(" ");
    const wanted = ["https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/userinfo.profile"];
    const challenge = query.get("code_challenge") ?? "";
    const ok = query.get("response_type") === "code" && wanted.every((scope) => scopes.includes(scope)) && query.get("access_type") === "offline"
      && query.get("code_challenge_method") === "S256" && /^[A-Za-z0-9_-]{43}$/.test(challenge) && (query.get("state") ?? "").length >= 22;
    if (!ok) return new Response("Error 400: invalid_request", { status: 400 });
    const back = new URL(redirectUri);
    back.searchParams.set("state", query.get("state")!);
    const consent = this.consent;
    if (!consent || "error" in consent) {
      back.searchParams.set("error", consent?.error ?? "access_denied");
    } else {
      const code = `4/mock-code-${crypto.randomUUID()}`;
      this.codes.set(code, { account: consent.account, clientId: GEMINI_CLI_CLIENT_ID, redirectUri, challenge, used: false });
      back.searchParams.set("code", code);
      back.searchParams.set("scope", wanted.join(" "));
    }
    return new Response(null, { status: 302, headers: { location: back.toString() } });
  }

  private exchangeCode(form: URLSearchParams, call: RecordedCall): Response {
    const issued = this.codes.get(form.get("code") ?? "");
    if (!issued || issued.used) return json({ error: "invalid_grant", error_description: "Malformed auth code." }, 400);
    issued.used = true;
    if (form.get("client_id") !== issued.clientId || form.get("client_secret") !== GEMINI_CLI_CLIENT_SECRET) return json({ error: "invalid_client", error_description: "Unauthorized" }, 401);
    if (form.get("redirect_uri") !== issued.redirectUri) return json({ error: "redirect_uri_mismatch", error_description: "Bad Request" }, 400);
    const verifier = form.get("code_verifier") ?? "";
    const challenge = new Bun.CryptoHasher("sha256").update(verifier).digest("base64url");
    if (verifier.length < 43 || challenge !== issued.challenge) return json({ error: "invalid_grant", error_description: "Invalid code verifier." }, 400);
    const account = this.account(issued.account);
    call.account = account.name;
    if (account.revoked) return json({ error: "invalid_grant", error_description: "Account has been deleted" }, 400);
    const lifetime = account.tokenLifetimeS ?? 3599;
    return json({
      access_token: this.issueToken(account.name, lifetime), expires_in: lifetime, refresh_token: account.refreshToken,
      scope: "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.profile",
      token_type: "Bearer", id_token: "eyJhbGciOiJSUzI1NiJ9.mock.signature",
    });
  }

  private token(form: URLSearchParams, call: RecordedCall): Response {
    call.body = Object.fromEntries(form);
    if (form.get("grant_type") === "authorization_code") return this.exchangeCode(form, call);
    if (form.get("grant_type") !== "refresh_token") return json({ error: "unsupported_grant_type" }, 400);
    if (Math.random() < (this.chaos.refreshFailure ?? 0)) return json({ error: "internal_failure", error_description: "chaos" }, 503);
    if (this.tokenFailure) return json(this.tokenFailure.body, this.tokenFailure.status);
    const account = [...this.accounts.values()].find((candidate) => candidate.refreshToken === form.get("refresh_token"));
    call.account = account?.name;
    const clientOk = account && form.get("client_id") === (account.clientId ?? GEMINI_CLI_CLIENT_ID) && form.get("client_secret") === (account.clientSecret ?? GEMINI_CLI_CLIENT_SECRET);
    if (!account || account.revoked) return json({ error: "invalid_grant", error_description: "Token has been expired or revoked." }, 400);
    if (!clientOk) return json({ error: "invalid_client", error_description: "The OAuth client was not found." }, 401);
    const lifetime = account.tokenLifetimeS ?? 3599;
    return json({
      access_token: this.issueToken(account.name, lifetime),
      expires_in: lifetime,
      scope: "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.profile",
      token_type: "Bearer",
      id_token: "eyJhbGciOiJSUzI1NiJ9.mock.signature",
    });
  }

  private onboard(account: MockAccount, body: any): Response {
    if (!body?.tierId) return googleError(400, "INVALID_ARGUMENT", "tierId is required", false);
    if (body.tierId === "free-tier" && body.cloudaicompanionProject) return googleError(412, "FAILED_PRECONDITION", "Precondition Failed", false);
    const name = `operations/${crypto.randomUUID().slice(0, 8)}`;
    const pollsLeft = account.onboardPolls ?? 0;
    if (pollsLeft === 0) return json(this.finishOnboarding(account, name));
    this.operations.set(name, { account: account.name, pollsLeft });
    return json({ name, done: false });
  }

  private poll(name: string): Response {
    const operation = this.operations.get(name);
    if (!operation) return googleError(404, "NOT_FOUND", `operation ${name} not found`, false);
    operation.pollsLeft--;
    if (operation.pollsLeft > 0) return json({ name, done: false });
    return json(this.finishOnboarding(this.account(operation.account), name));
  }

  private finishOnboarding(account: MockAccount, name: string) {
    account.needsOnboarding = false;
    return {
      name, done: true,
      response: {
        "@type": "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse",
        cloudaicompanionProject: { id: account.project, name: `projects/${account.project}` },
      },
    };
  }

  private async generate(account: MockAccount, body: any, streaming: boolean, signal: AbortSignal): Promise<Response> {
    if (!body.project) return googleError(500, "INTERNAL", "Internal error encountered.", streaming);
    if (body.project !== account.project) return googleError(403, "PERMISSION_DENIED", `Permission denied on project ${body.project}.`, streaming);
    if (!MOCK_MODELS.includes(body.model)) return googleError(404, "NOT_FOUND", `Requested entity was not found. (model ${body.model})`, streaming);
    const contents = body.request?.contents;
    if (!Array.isArray(contents) || contents.length === 0) return googleError(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified", streaming);
    if (contents.some((content: any) => !Array.isArray(content?.parts) || content.parts.length === 0)) {
      return googleError(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents.parts: contents.parts must not be empty.", streaming);
    }

    const invalid = validateHistory(body.model, contents, this.issuedSignatures);
    if (invalid) return googleError(400, "INVALID_ARGUMENT", invalid, streaming);

    const scripted = this.scripts.get(account.name)?.shift() ?? this.responder?.(body.model, contents, body.request?.tools) ?? this.chaosScript();
    if (scripted.kind === "parts") return this.replyWithParts(scripted, body, streaming);
    if (scripted.kind === "error") {
      const errorBody = scripted.body ?? { error: { code: scripted.status, message: `scripted ${scripted.status}`, status: "SCRIPTED" } };
      return new Response(JSON.stringify(streaming ? [errorBody] : errorBody, null, 2), {
        status: scripted.status, headers: { "content-type": "application/json", ...scripted.headers },
      });
    }
    if (scripted.kind === "reset") {
      // error() without a reason: the connection resets and Bun prints nothing (a passing test stays quiet).
      return new Response(new ReadableStream({ start: (controller) => controller.error() }), { headers: { "content-type": "application/json" } });
    }
    if (scripted.kind === "hang") {
      return new Promise<Response>((resolve) => signal.addEventListener("abort", () => {
        this.aborted++;
        resolve(new Response(null, { status: 499 }));
      }));
    }
    const includeThoughts = body.request?.generationConfig?.thinkingConfig?.includeThoughts === true;
    const traceId = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    const lastText = lastUserText(contents);
    const chunks = scripted.kind === "drop" ? scripted.chunks : scripted.chunks ?? [scripted.text ?? `Echo: ${lastText}`];
    const thoughts = scripted.kind === "reply" && includeThoughts && scripted.thoughts ? scripted.thoughts : undefined;
    const finishReason = scripted.kind === "reply" ? scripted.finishReason ?? "STOP" : "STOP";
    const prompt = countWords(contents);
    const candidates = chunks.reduce((sum, chunk) => sum + wordCount(chunk), 0);
    const usage = { promptTokenCount: prompt, candidatesTokenCount: candidates, totalTokenCount: prompt + candidates + (thoughts ? 5 : 0), ...(thoughts ? { thoughtsTokenCount: 5 } : {}) };
    const envelope = (parts: any[], last: boolean) => ({
      response: {
        candidates: [{ content: { role: "model", parts }, ...(last ? { finishReason } : {}) }],
        usageMetadata: last ? { ...usage, trafficType: "PROVISIONED_THROUGHPUT" } : { trafficType: "PROVISIONED_THROUGHPUT" },
        modelVersion: body.model,
        createTime: new Date().toISOString(),
        responseId: traceId,
      },
      traceId,
    });

    if (!streaming) {
      const parts = [...(thoughts ? [{ text: thoughts, thought: true }] : []), { text: chunks.join("") }];
      if (scripted.kind === "reply" && scripted.delayMs) await Bun.sleep(scripted.delayMs);
      if (scripted.kind === "reply" && scripted.gate) await scripted.gate;
      return json(envelope(parts, true));
    }
    const delayMs = scripted.kind === "reply" ? scripted.delayMs ?? 0 : 0;
    const drop = scripted.kind === "drop";
    const events = [...(thoughts ? [[{ text: thoughts, thought: true }]] : []), ...chunks.map((chunk) => [{ text: chunk }])];
    const encoder = new TextEncoder();
    const mock = this;
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        mock.openStreams++;
        try {
          await send(controller);
        } finally {
          mock.openStreams--;
        }
      },
    });
    async function send(controller: ReadableStreamDefaultController<Uint8Array>) {
      {
        for (const [index, parts] of events.entries()) {
          if (index > 0 && delayMs) await Bun.sleep(delayMs);
          if (signal.aborted) {
            mock.aborted++;
            return;
          }
          const last = index === events.length - 1 && !drop;
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(envelope(parts, last))}\n\n`));
        }
        if (drop) {
          await Bun.sleep(50); // let what was sent reach the client before the connection breaks
          controller.error(); // no reason given: the connection breaks and Bun prints nothing
        }
        else controller.close();
      }
    }
    signal.addEventListener("abort", () => mock.aborted++);
    return new Response(stream, { headers: { "content-type": "text/event-stream" } });
  }
  private chaosScript(): Scripted {
    const roll = Math.random();
    const { rateLimit = 0, serverError = 0, dropMidStream = 0 } = this.chaos;
    if (roll < rateLimit) {
      return { kind: "error", status: 429, body: googleErrorBody(429, "RESOURCE_EXHAUSTED", "chaos rate limit", [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1s" }]) };
    }
    if (roll < rateLimit + serverError) return { kind: "error", status: 500 };
    if (roll < rateLimit + serverError + dropMidStream) return { kind: "drop", chunks: ["partial ", "answer"] };
    if (Object.keys(this.chaos).length === 0) return { kind: "reply" };
    return { kind: "reply", chunks: ["soak ", "reply ", "text"], delayMs: Math.random() < 0.2 ? 200 : 0 };
  }

  private replyWithParts(scripted: Extract<Scripted, { kind: "parts" }>, body: any, streaming: boolean): Response {
    for (const part of scripted.events.flat()) if (part.thoughtSignature) this.issuedSignatures.add(part.thoughtSignature);
    const traceId = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    const usage = { promptTokenCount: countWords(body.request.contents), candidatesTokenCount: 7, totalTokenCount: countWords(body.request.contents) + 7 };
    const envelope = (parts: any[], last: boolean) => ({
      response: {
        candidates: [{
          content: { role: "model", parts },
          ...(last ? { finishReason: scripted.finishReason ?? "STOP" } : {}),
          ...(last && scripted.groundingMetadata ? { groundingMetadata: scripted.groundingMetadata } : {}),
        }],
        usageMetadata: last ? usage : { trafficType: "PROVISIONED_THROUGHPUT" },
        modelVersion: body.model,
      },
      traceId,
    });
    if (!streaming) return json(envelope(scripted.events.flat(), true));
    const encoder = new TextEncoder();
    const events = scripted.events;
    return new Response(new ReadableStream<Uint8Array>({
      async start(controller) {
        for (const [index, parts] of events.entries()) {
          if (index > 0 && scripted.delayMs) await Bun.sleep(scripted.delayMs);
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(envelope(parts, index === events.length - 1))}\n\n`));
        }
        controller.close();
      },
    }), { headers: { "content-type": "text/event-stream" } });
  }
}

const SIGNATURE_SENTINEL = "skip_thought_signature_validator";

/** The checks real Gemini makes on a history (translation.md §2.2 steps 7–8). */
function validateHistory(model: string, contents: any[], issued: Set<string>): string | undefined {
  for (const [index, content] of contents.entries()) {
    const calls = (content.parts ?? []).filter((part: any) => part.functionCall);
    if (content.role !== "model" || calls.length === 0) continue;
    const next = contents[index + 1];
    const responses = next?.role === "user" ? next.parts.filter((part: any) => part.functionResponse).length : 0;
    if (responses !== calls.length) {
      return "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.";
    }
  }
  if (!model.startsWith("gemini-3")) return undefined;
  const loopStart = contents.findLastIndex((content: any) => content.role === "user" && content.parts.some((part: any) => typeof part.text === "string"));
  for (const content of contents.slice(loopStart + 1)) {
    const first = (content.parts ?? []).find((part: any) => part.functionCall);
    if (content.role !== "model" || !first) continue;
    const signature = first.thoughtSignature;
    if (signature !== SIGNATURE_SENTINEL && !issued.has(signature)) {
      return `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${first.functionCall.name}\`, position 1.`;
    }
  }
  return undefined;
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json; charset=UTF-8" } });
}

export function googleErrorBody(code: number, status: string, message: string, details?: unknown[]) {
  return { error: { code, message, status, ...(details ? { details } : {}) } };
}

function googleError(code: number, status: string, message: string, arrayWrapped: boolean): Response {
  const body = googleErrorBody(code, status, message);
  return new Response(JSON.stringify(arrayWrapped ? [body] : body, null, 2), { status: code, headers: { "content-type": "application/json; charset=UTF-8" } });
}

function lastUserText(contents: any[]): string {
  const user = [...contents].reverse().find((content) => content.role === "user");
  return (user?.parts ?? []).map((part: any) => part.text ?? "").join("");
}

const wordCount = (text: string) => text.split(/\s+/).filter(Boolean).length;

function countWords(contents: any[]): number {
  return contents.reduce((sum, content) => sum + (content.parts ?? []).reduce((inner: number, part: any) => inner + wordCount(part.text ?? ""), 0), 0);
}

/** A deterministic vector for `text`; every value is exact in float32 (a multiple of 1/256). */
export function mockEmbedding(text: string, dimensions: number): number[] {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.codePointAt(0)!) % 1_000_003;
  return Array.from({ length: dimensions }, (_, index) => (((hash + index * 7919) % 512) - 256) / 256);
}
