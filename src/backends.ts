// A backend is one upstream with the pool of credentials that pays for it: Code Assist with OAuth
// files (tokens refreshed, projects discovered), the Gemini API with keys, each OpenAI-compatible
// server with its keys. The executor and the health checks only see this interface.
import type { Logger } from "./log.ts";
import { emailOf, type ApiKeyCredential, type Credential } from "./pool/credential.ts";
import type { TokenSource } from "./pool/oauth.ts";
import type { Pool, PoolMember } from "./pool/pool.ts";
import { eligibilityError, type CodeAssistUpstream } from "./upstreams/codeassist.ts";
import type { Upstream, UpstreamAuth } from "./upstreams/types.ts";

export interface Backend<T extends PoolMember = PoolMember, U extends Upstream = Upstream> {
  readonly name: string;
  readonly pool: Pool<T>;
  readonly upstream: U;
  auth(member: T, signal?: AbortSignal): Promise<UpstreamAuth>;
  /** Fresh auth after a 401, for credentials that can be refreshed. */
  reauth?(member: T, signal?: AbortSignal): Promise<UpstreamAuth>;
  /** A cheap check that the credential works; throws a GatewayError when it does not. */
  probe(member: T, signal?: AbortSignal): Promise<ProbeInfo>;
}

/** What a successful probe learned about the account. */
export interface ProbeInfo {
  email?: string;
  tier?: string;
  project?: string;
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

  /** Token refresh (if due) + loadCodeAssist: also learns the tier, the project and the email. */
  async probe(credential: Credential, signal?: AbortSignal): Promise<ProbeInfo> {
    const accessToken = await this.tokens.accessToken(credential);
    const loaded = await this.upstream.loadCodeAssist(accessToken, signal);
    const problem = eligibilityError(loaded);
    if (problem) throw problem;
    const project = typeof loaded.cloudaicompanionProject === "string" ? loaded.cloudaicompanionProject : loaded.cloudaicompanionProject?.id ?? undefined;
    if (project && !this.pool.projectOf(credential)) this.pool.setProject(credential.id, project);
    return { email: emailOf(credential), tier: loaded.paidTier?.id ?? loaded.currentTier?.id ?? undefined, project };
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

  async probe(credential: ApiKeyCredential, signal?: AbortSignal): Promise<ProbeInfo> {
    await this.upstream.probe?.({ apiKey: credential.apiKey }, signal);
    return {};
  }
}
