// The one client-auth guard. The password may come as `Authorization: Bearer` (OpenAI SDKs, via
// @elysiajs/bearer), `x-goog-api-key` or `?key=` (Gemini SDKs and Gemini CLI), or Basic auth.
// Passwords are compared through SHA-256 digests in constant time.
import { bearer } from "@elysiajs/bearer";
import { createHash, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { GatewayError } from "../hub.ts";

const digest = (value: string) => createHash("sha256").update(value).digest();

export function passwordMatcher(passwords: readonly string[]): (candidate: string | undefined) => boolean {
  const digests = passwords.map(digest);
  return (candidate) => {
    if (candidate === undefined || candidate === "") return false;
    const presented = digest(candidate);
    let matched = false;
    for (const expected of digests) matched = timingSafeEqual(presented, expected) || matched;
    return matched;
  };
}

/** Every password a request presents, in any of the accepted places. */
function presented(token: string | undefined, headers: Record<string, string | undefined>, url: string): string[] {
  const found: string[] = [];
  if (token) found.push(token);
  const googKey = headers["x-goog-api-key"];
  if (googKey) found.push(googKey);
  const queryKey = new URL(url).searchParams.get("key");
  if (queryKey) found.push(queryKey);
  const basic = /^Basic\s+(.+)$/i.exec(headers.authorization ?? "")?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, "base64").toString("utf8");
    found.push(decoded, decoded.slice(decoded.indexOf(":") + 1));
  }
  return found;
}

/** Routes registered after `.use(clientAuth(…))` on the same instance require a password. */
export function clientAuth(passwords: readonly string[]) {
  const matches = passwordMatcher(passwords);
  return new Elysia({ name: "auth.client", seed: digest(passwords.join("\n")).toString("hex") })
    .use(bearer())
    .onBeforeHandle({ as: "scoped" }, ({ bearer: token, headers, request }) => {
      if (passwords.length === 0) return;
      const candidates = presented(token, headers, request.url);
      if (candidates.length === 0) {
        throw new GatewayError({
          status: 401, code: "missing_api_key",
          message: "Missing password: send it as `Authorization: Bearer <password>` (or `x-goog-api-key` / `?key=` for Gemini clients).",
        });
      }
      if (!candidates.some(matches)) {
        throw new GatewayError({ status: 401, code: "invalid_api_key", message: "Incorrect password provided." });
      }
    });
}
