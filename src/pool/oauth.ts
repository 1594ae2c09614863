// OAuth access tokens for pool credentials: refreshed at the token endpoint when they expire
// within five minutes (google-auth-library's eager threshold), single-flight per credential, and
// written back to the credential's own file.
import { networkError, parseTokenError } from "../upstreams/upstream-error.ts";
import type { Sealer } from "../sealing.ts";
import { renderRefreshed, saveCredentialFile, type Credential, type FreshToken } from "./credential.ts";

export const EAGER_REFRESH_MS = 5 * 60 * 1000;

export interface TokenSourceOptions {
  tokenUrl: string;
  fetch?: typeof fetch;
  now?: () => number;
  timeoutMs?: number;
  onWriteError?: (credential: Credential, error: Error) => void;
  /** Refreshed files are written back sealed when a key is set. */
  sealer?: Sealer;
  /** Several instances (shared/tokens.ts): one refresh per login across all of them. */
  coordinator?: RefreshCoordinator;
}

/** Runs a refresh so that only one instance asks Google; the others get its token. */
export interface RefreshCoordinator {
  refresh(credential: Credential, fetchToken: () => Promise<FreshToken>): Promise<FreshToken>;
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
    const token = this.options.coordinator
      ? await this.options.coordinator.refresh(credential, () => this.fetchToken(credential))
      : await this.fetchToken(credential);
    const content = renderRefreshed(credential, token);
    credential.accessToken = token.accessToken;
    credential.expiresAt = token.expiresAt;
    credential.raw = content;
    // The new token is usable even if the file cannot be written; the next refresh tries again.
    await saveCredentialFile(credential, content, this.options.sealer).catch((error: Error) => this.options.onWriteError?.(credential, error));
    return token.accessToken;
  }

  /** One refresh_token grant at Google's token endpoint. */
  private async fetchToken(credential: Credential): Promise<FreshToken> {
    const body = new URLSearchParams({
      refresh_token: credential.refreshToken,
      client_id: credential.clientId,
      client_secret: credential.clientSecret,
      grant_type: "refresh_token",
    });
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(this.options.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8", accept: "application/json" },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
      text = await response.text();
    } catch (error) {
      throw networkError(error, "token refresh");
    }
    let payload: Record<string, unknown> = {};
    try {
      payload = JSON.parse(text);
    } catch { /* judged below */ }
    if (!response.ok || typeof payload?.access_token !== "string") throw parseTokenError(response.status, text);
    const { access_token, expires_in, refresh_token: _ignored, ...extra } = payload;
    const lifetimeSeconds = typeof expires_in === "number" ? expires_in : 3600;
    return { accessToken: access_token as string, expiresAt: this.now() + lifetimeSeconds * 1000, extra };
  }
}
