// A backend is one upstream with the pool of credentials that pays for it: Code Assist with OAuth
// files (tokens refreshed, projects discovered), the Gemini API with keys, each OpenAI-compatible
// server with its keys. The executor only sees this interface.
import type { Logger } from "./log.ts";
import type { ApiKeyCredential, Credential } from "./pool/credential.ts";
import type { TokenSource } from "./pool/oauth.ts";
import type { Pool, PoolMember } from "./pool/pool.ts";
import type { CodeAssistUpstream } from "./upstreams/codeassist.ts";
import type { Upstream, UpstreamAuth } from "./upstreams/types.ts";

export interface Backend<T extends PoolMember = PoolMember, U extends Upstream = Upstream> {
  readonly name: string;
  readonly pool: Pool<T>;
  readonly upstream: U;
  auth(member: T, signal?: AbortSignal): Promise<UpstreamAuth>;
  /** Fresh auth after a 401, for credentials that can be refreshed. */
  reauth?(member: T, signal?: AbortSignal): Promise<UpstreamAuth>;
}

export class CodeAssistBackend implements Backend<Credential, CodeAssistUpstream> {
  readonly name = "codeassist";
  private readonly discovering = new Map<string, Promise<string>>();

  constructor(
    readonly pool: Pool<Credential>,
    readonly upstream: CodeAssistUpstream,
    private readonly tokens: TokenSource,
    private readonly log: Logger,
  ) {}

  async auth(credential: Credential, signal?: AbortSignal): Promise<UpstreamAuth> {
    const accessToken = await this.tokens.accessToken(credential);
    return { accessToken, projectId: await this.projectFor(credential, accessToken, signal) };
  }

  async reauth(credential: Credential, signal?: AbortSignal): Promise<UpstreamAuth> {
    const accessToken = await this.tokens.accessToken(credential, true);
    return { accessToken, projectId: await this.projectFor(credential, accessToken, signal) };
  }

  /** The file's project, else the cached one, else discovery (single-flight per credential). */
  private projectFor(credential: Credential, accessToken: string, signal?: AbortSignal): Promise<string> {
    const known = this.pool.projectOf(credential);
    if (known) return Promise.resolve(known);
    const pending = this.discovering.get(credential.id);
    if (pending) return pending;
    const discovery = this.upstream.discoverProject(accessToken, signal)
      .then((projectId) => {
        this.pool.setProject(credential.id, projectId);
        this.log.info("discovered the Code Assist project", { credential: credential.id, project: projectId });
        return projectId;
      })
      .finally(() => this.discovering.delete(credential.id));
    this.discovering.set(credential.id, discovery);
    return discovery;
  }
}

export class ApiKeyBackend<U extends Upstream = Upstream> implements Backend<ApiKeyCredential, U> {
  constructor(readonly name: string, readonly pool: Pool<ApiKeyCredential>, readonly upstream: U) {}

  async auth(credential: ApiKeyCredential): Promise<UpstreamAuth> {
    return { apiKey: credential.apiKey };
  }
}
