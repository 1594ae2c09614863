// OAuth access tokens for pool credentials: refreshed at the token endpoint when they expire
// within five minutes (google-auth-library's eager threshold), single-flight per credential, and
// written back to the credential's own file.
import { GatewayError } from "../hub.ts";
import { renderRefreshed, saveCredentialFile, type Credential, type FreshToken } from "./credential.ts";

export const EAGER_REFRESH_MS = 5 * 60 * 1000;

export interface TokenSourceOptions {
  tokenUrl: string;
  fetch?: typeof fetch;
  now?: () => number;
  timeoutMs?: number;
  onWriteError?: (credential: Credential, error: Error) => void;
}

export class TokenSource {
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly fetch: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: TokenSourceOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
  }

  /** A usable access token, refreshed first when missing, expiring, or when `force` is set. */
  accessToken(credential: Credential, force = false): Promise<string> {
    const fresh = credential.accessToken && credential.expiresAt !== undefined && credential.expiresAt - this.now() > EAGER_REFRESH_MS;
    if (fresh && !force) return Promise.resolve(credential.accessToken!);
    return this.refresh(credential);
  }

  /** Concurrent callers for one credential share a single request to the token endpoint. */
  refresh(credential: Credential): Promise<string> {
    const pending = this.inFlight.get(credential.id);
    if (pending) return pending;
    const started = this.refreshNow(credential).finally(() => this.inFlight.delete(credential.id));
    this.inFlight.set(credential.id, started);
    return started;
  }

  private async refreshNow(credential: Credential): Promise<string> {
    const body = new URLSearchParams({
      refresh_token: credential.refreshToken,
      client_id: credential.clientId,
      client_secret: credential.clientSecret,
      grant_type: "refresh_token",
    });
    let response: Response;
    try {
      response = await this.fetch(this.options.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8", accept: "application/json" },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new GatewayError({ status: 502, message: `token refresh failed: ${(error as Error).message}`, scope: "transient" });
    }
    const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok || typeof payload.access_token !== "string") {
      const code = typeof payload.error === "string" ? payload.error : `http_${response.status}`;
      const description = typeof payload.error_description === "string" ? `: ${payload.error_description}` : "";
      const invalidGrant = code === "invalid_grant";
      throw new GatewayError({
        status: invalidGrant ? 401 : response.status >= 500 ? 502 : 401,
        code,
        reason: code,
        message: `token refresh rejected (${code}${description})`,
        scope: invalidGrant || response.status < 500 ? "credential" : "transient",
        retryable: true,
      });
    }
    const { access_token, expires_in, refresh_token: _ignored, ...extra } = payload;
    const lifetimeSeconds = typeof expires_in === "number" ? expires_in : 3600;
    const token: FreshToken = { accessToken: access_token as string, expiresAt: this.now() + lifetimeSeconds * 1000, extra };
    const content = renderRefreshed(credential, token);
    credential.accessToken = token.accessToken;
    credential.expiresAt = token.expiresAt;
    credential.raw = content;
    // The new token is usable even if the file cannot be written; the next refresh tries again.
    await saveCredentialFile(credential, content).catch((error: Error) => this.options.onWriteError?.(credential, error));
    return token.accessToken;
  }
}
