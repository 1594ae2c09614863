// Client passwords: where a request may present one — `Authorization: Bearer` (OpenAI SDKs),
// `x-goog-api-key` or `?key=` (Gemini SDKs and Gemini CLI), `x-api-key` (Anthropic), Basic auth — and a constant-time
// comparison through SHA-256 digests. http/gate.ts applies it before any body is read.
import { createHash, timingSafeEqual } from "node:crypto";

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
export function presentedPasswords(headers: Headers, url: URL): string[] {
  const found: string[] = [];
  const authorization = headers.get("authorization") ?? "";
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim();
  if (bearer) found.push(bearer);
  const googKey = headers.get("x-goog-api-key");
  if (googKey) found.push(googKey);
  // Anthropic SDKs and Claude Code send their key here.
  const anthropicKey = headers.get("x-api-key");
  if (anthropicKey) found.push(anthropicKey);
  const queryKey = url.searchParams.get("key");
  if (queryKey) found.push(queryKey);
  const basic = /^Basic\s+(.+)$/i.exec(authorization)?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, "base64").toString("utf8");
    found.push(decoded, decoded.slice(decoded.indexOf(":") + 1));
  }
  return found;
}
