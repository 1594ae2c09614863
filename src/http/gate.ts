// What every request passes before its body is read or a route runs, from headers alone: a sane
// Host (loopback only when there is no password, so a web page cannot reach the gateway through
// DNS rebinding), CORS preflights for the configured origins, the password, and a JSON content
// type on POSTs (which also forces browsers into a preflight). A refusal costs no body read.
import { GatewayError } from "../hub.ts";
import { passwordMatcher, presentedPasswords } from "./auth.ts";
import { errorResponse, type Surface } from "./errors.ts";
import { keyAllows, keyRefusal, type KeyRecord, type KeyRing } from "../store/keys.ts";

const keysByRequest = new WeakMap<Request, KeyRecord>();

/** The models a request may see listed: all, or those its client key allows. */
export function modelsFor(request: Request, models: string[]): string[] {
  const key = keysByRequest.get(request);
  return key ? models.filter((model) => keyAllows(key, model)) : models;
}

/** The client key a request authenticated with (undefined: the password, or no auth at all). */
export function keyOf(request: Request): KeyRecord | undefined {
  return keysByRequest.get(request);
}

export interface GateOptions {
  passwords: readonly string[];
  /** Client API keys (store/keys.ts); with any key present, every request must authenticate. */
  keys?: KeyRing;
  now?: () => number;
  /** A key's rpm window: shared through Redis when there is one (shared/keys.ts), else the KeyRing's own. */
  throttle?: (key: KeyRecord, now: number) => number | Promise<number>;
  /** Origins allowed to call from a browser; "*" for any (refused by config without a password). */
  corsOrigins: readonly string[] | "*";
  surfaceOf: (path: string) => Surface;
}

/** Paths anyone may call: load balancers probe them. */
const PUBLIC_PATHS = new Set(["/health", "/"]);
/** Outside /admin/ but authenticated by routes/admin.ts. */
const ADMIN_PATHS = new Set(["/admin", "/metrics", "/oauth2/callback"]);
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;
const ALLOWED_HEADERS = "authorization, content-type, x-goog-api-key, x-api-key, x-goog-api-client, anthropic-version, anthropic-beta, openai-organization, openai-project, x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout";
const EXPOSED_HEADERS = "retry-after, retry-after-ms, x-jellycli-fallback-model, x-request-id";

export function gate(handler: (request: Request, url: URL) => Response | Promise<Response>, options: GateOptions): (request: Request) => Promise<Response> {
  const matches = passwordMatcher(options.passwords);
  const now = options.now ?? Date.now;
  return async (request) => {
    const open = options.passwords.length === 0 && (options.keys?.size ?? 0) === 0;
    // Bun builds request.url from the Host header: a malformed one leaves it relative.
    const url = URL.parse(request.url);
    const origin = request.headers.get("origin");
    const cors = corsHeaders(origin, options.corsOrigins);
    const refuse = (error: GatewayError) => withHeaders(errorResponse(error, options.surfaceOf(url?.pathname ?? request.url)), cors);

    const host = request.headers.get("host") ?? url?.host ?? "";
    if (!url || !HOST.test(host)) return refuse(GatewayError.invalidRequest("The Host header is missing or malformed."));
    if (open && !isLoopbackHost(host)) {
      return refuse(new GatewayError({ status: 403, code: "host_not_allowed", message: `Host "${host}" is refused: without a password jellycli answers only to loopback names (set a password to serve other names).` }));
    }
    if (request.method === "OPTIONS") {
      if (!origin || !cors) return refuse(new GatewayError({ status: 403, code: "cors_not_allowed", message: "Cross-origin requests are not enabled for this origin (cors_origins)." }));
      return new Response(null, { status: 204, headers: { ...cors, "access-control-allow-methods": "GET, POST, OPTIONS", "access-control-allow-headers": request.headers.get("access-control-request-headers") ?? ALLOWED_HEADERS, "access-control-max-age": "600" } });
    }
    // The admin API has its own authentication (routes/admin.ts); so has the OAuth callback (its state).
    if (!open && !PUBLIC_PATHS.has(url.pathname) && !url.pathname.startsWith("/admin/") && !ADMIN_PATHS.has(url.pathname)) {
      const candidates = presentedPasswords(request.headers, url);
      if (candidates.length === 0) {
        return refuse(new GatewayError({ status: 401, code: "missing_api_key", message: "Missing password: send it as `Authorization: Bearer <password>` (or `x-goog-api-key` / `?key=` for Gemini clients)." }));
      }
      if (!candidates.some(matches)) {
        const key = options.keys ? candidates.map((candidate) => options.keys!.find(candidate)).find((found) => found !== undefined) : undefined;
        if (!key) return refuse(new GatewayError({ status: 401, code: "invalid_api_key", message: "Incorrect password or API key provided." }));
        const refusal = keyRefusal(key, now());
        if (refusal) return refuse(new GatewayError({ status: 401, code: "invalid_api_key", message: refusal }));
        const waitMs = options.throttle ? await options.throttle(key, now()) : options.keys!.throttle(key, now());
        if (waitMs > 0) return refuse(new GatewayError({ status: 429, code: "rate_limit_exceeded", retryAfterMs: waitMs, message: `This API key is limited to ${key.rpm} requests per minute.` }));
        keysByRequest.set(request, key);
      }
    }
    if (request.method === "POST" && !/^application\/json\s*(;|$)/i.test(request.headers.get("content-type") ?? "")) {
      return refuse(new GatewayError({ status: 415, code: "unsupported_media_type", message: "Send the request body as JSON, with `Content-Type: application/json`." }));
    }
    return withHeaders(await handler(request, url), cors);
  };
}

/** localhost, *.localhost, 127.0.0.0/8 and ::1, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function corsHeaders(origin: string | null, allowed: readonly string[] | "*"): Record<string, string> | undefined {
  if (!origin || (allowed !== "*" && !allowed.includes(origin))) return undefined;
  return { "access-control-allow-origin": allowed === "*" ? "*" : origin, "access-control-expose-headers": EXPOSED_HEADERS, vary: "Origin" };
}

function withHeaders(response: Response, headers: Record<string, string> | undefined): Response {
  if (!headers) return response;
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}
