// The one client-auth guard. Passwords are compared through SHA-256 digests with a constant-time
// comparison, so neither the length nor a prefix of a password leaks through timing.
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

/** Routes registered after `.use(clientAuth(…))` on the same instance require a password. */
export function clientAuth(passwords: readonly string[]) {
  const matches = passwordMatcher(passwords);
  return new Elysia({ name: "auth.client", seed: digest(passwords.join("\n")).toString("hex") })
    .use(bearer())
    .onBeforeHandle({ as: "scoped" }, ({ bearer: token, headers }) => {
      if (passwords.length === 0) return;
      if (token === undefined && !headers.authorization) {
        throw new GatewayError({ status: 401, code: "missing_api_key", message: "Missing password: send it as `Authorization: Bearer <password>`.", scope: "request", retryable: false });
      }
      if (!matches(token)) {
        throw new GatewayError({ status: 401, code: "invalid_api_key", message: "Incorrect password provided.", scope: "request", retryable: false });
      }
    });
}
