// Google Code Assist (cloudcode-pa v1internal), the backend Gemini CLI uses. The hub request is
// spliced into the {model, project, request} envelope, never re-translated, so fields we do not
// know pass through. Also owns project discovery (loadCodeAssist / onboardUser), per
// docs/codeassist-protocol.md §6.
import { GatewayError, type CountTokensResponse, type GenerateContentResponse } from "../hub.ts";
import { sseJson } from "./sse-parse.ts";
import { googleEventError } from "./upstream-error.ts";
import { Transport, type TransportOptions } from "./transport.ts";
import type { Upstream, UpstreamCall } from "./types.ts";

export interface CodeAssistOptions extends TransportOptions {
  endpoint: string;
  /** Gemini CLI polls a pending onboarding operation every 5 s. */
  onboardPollMs?: number;
  onboardMaxPolls?: number;
}

interface Envelope {
  response?: GenerateContentResponse;
  traceId?: string;
  [key: string]: unknown;
}

interface Tier {
  id?: string;
  isDefault?: boolean;
}

export interface LoadCodeAssistResponse {
  currentTier?: Tier | null;
  paidTier?: Tier | null;
  allowedTiers?: Tier[] | null;
  ineligibleTiers?: { reasonCode?: string; reasonMessage?: string; validationUrl?: string }[] | null;
  cloudaicompanionProject?: string | { id?: string } | null;
}

interface Operation {
  name?: string;
  done?: boolean;
  response?: { cloudaicompanionProject?: { id?: string } };
}

const CLIENT_METADATA = { ideType: "IDE_UNSPECIFIED", platform: "PLATFORM_UNSPECIFIED", pluginType: "GEMINI" };
const CLI_VERSION = "0.61.0";

export class CodeAssistUpstream implements Upstream {
  private readonly transport: Transport;
  private readonly base: string;

  constructor(private readonly options: CodeAssistOptions) {
    this.transport = new Transport(options);
    this.base = `${options.endpoint.replace(/\/+$/, "")}/v1internal`;
  }

  async generate(call: UpstreamCall): Promise<GenerateContentResponse> {
    const envelope = await this.transport.json<Envelope>(
      `${this.base}:generateContent`, this.init(call, envelopeBody(call)), "Code Assist generateContent", { observe: call.observe });
    return unwrap(envelope);
  }

  async stream(call: UpstreamCall): Promise<AsyncIterable<GenerateContentResponse>> {
    const opened = await this.transport.open(
      `${this.base}:streamGenerateContent?alt=sse`, this.init(call, envelopeBody(call), "*/*"), "Code Assist streamGenerateContent", { observe: call.observe });
    return sseJson(opened.body, googleEventError, (envelope) => unwrap(envelope as Envelope));
  }

  async countTokens(call: UpstreamCall): Promise<CountTokensResponse> {
    const body = { request: { model: `models/${call.model}`, contents: call.request.contents } };
    const result = await this.transport.json<CountTokensResponse>(`${this.base}:countTokens`, this.init(call, body), "Code Assist countTokens");
    return { ...result, totalTokens: typeof result.totalTokens === "number" ? result.totalTokens : 0 };
  }

  /** The account's tier and project as Code Assist sees them: the cheap call health checks use. */
  async loadCodeAssist(accessToken: string, signal?: AbortSignal): Promise<LoadCodeAssistResponse> {
    const call = { model: "", auth: { accessToken }, signal };
    return this.transport.json<LoadCodeAssistResponse>(`${this.base}:loadCodeAssist`, this.init(call, { metadata: CLIENT_METADATA }), "Code Assist loadCodeAssist");
  }

  /** The Code Assist project of the account behind `accessToken`, onboarding it when new. */
  async discoverProject(accessToken: string, signal?: AbortSignal): Promise<string> {
    const call = { model: "", auth: { accessToken }, signal };
    const loaded = await this.loadCodeAssist(accessToken, signal);

    if (loaded.currentTier) {
      const project = typeof loaded.cloudaicompanionProject === "string" ? loaded.cloudaicompanionProject : loaded.cloudaicompanionProject?.id;
      if (project) return project;
      throw projectError(loaded, "the account is onboarded but Code Assist names no project for it");
    }
    const validation = validationError(loaded);
    if (validation) throw validation;

    const tier = loaded.allowedTiers?.find((candidate) => candidate.isDefault)?.id ?? "legacy-tier";
    // The free tier must be onboarded without a project (the server answers 412 otherwise).
    const onboardBody = { tierId: tier, metadata: CLIENT_METADATA };
    let operation = await this.transport.json<Operation>(`${this.base}:onboardUser`, this.init(call, onboardBody), "Code Assist onboardUser");
    const pollMs = this.options.onboardPollMs ?? 5000;
    const maxPolls = this.options.onboardMaxPolls ?? 60;
    for (let poll = 0; !operation.done && operation.name; poll++) {
      if (poll >= maxPolls) {
        throw new GatewayError({ status: 504, code: "timeout", message: "Code Assist onboarding did not finish in time" });
      }
      await Bun.sleep(pollMs);
      if (signal?.aborted) throw signal.reason;
      const getInit = this.init(call, undefined);
      operation = await this.transport.json<Operation>(`${this.base}/${operation.name}`, { ...getInit, method: "GET" }, "Code Assist onboarding poll");
    }
    const project = operation.response?.cloudaicompanionProject?.id;
    if (project) return project;
    throw projectError(loaded, "onboarding finished without a project");
  }

  private init(call: Pick<UpstreamCall, "model" | "auth" | "signal">, body: unknown, accept = "application/json"): RequestInit {
    return {
      method: "POST",
      headers: {
        authorization: `Bearer ${call.auth.accessToken}`,
        "content-type": "application/json",
        accept,
        // Never raw client text in a header: the model name is reduced to what Gemini names contain.
        "user-agent": `GeminiCLI/${CLI_VERSION}/${call.model.replace(/[^A-Za-z0-9._-]/g, "") || "gemini-2.5-pro"} (${process.platform}; ${process.arch}; terminal) google-api-nodejs-client/10.9.0`,
        "x-goog-api-client": `gl-node/${process.versions.node}`,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: call.signal,
    };
  }
}

/** A new account Google wants verified first (loadCodeAssist's ineligibleTiers). */
export function validationError(loaded: LoadCodeAssistResponse): GatewayError | undefined {
  const validation = loaded.currentTier ? undefined : loaded.ineligibleTiers?.find((tier) => tier.reasonCode === "VALIDATION_REQUIRED" && tier.validationUrl);
  if (!validation) return undefined;
  return new GatewayError({
    status: 403, reason: "VALIDATION_REQUIRED", kind: "needs_person", helpUrl: validation.validationUrl,
    message: `Google asks this account to verify itself before use: ${validation.validationUrl}`,
  });
}

function envelopeBody(call: UpstreamCall): Record<string, unknown> {
  return { model: call.model, project: call.auth.projectId, request: call.request };
}

/** Gemini CLI keeps only the inner response and uses traceId as the response id (protocol §4.1). */
function unwrap(envelope: Envelope): GenerateContentResponse {
  const inner = envelope.response ?? { candidates: [] };
  return envelope.traceId && !inner.responseId ? { ...inner, responseId: envelope.traceId } : inner;
}


function projectError(loaded: LoadCodeAssistResponse, what: string): GatewayError {
  const reasons = (loaded.ineligibleTiers ?? []).map((tier) => tier.reasonMessage).filter(Boolean).join("; ");
  return new GatewayError({
    status: 403, reason: "PROJECT_REQUIRED", kind: "needs_person",
    message: `${what}${reasons ? ` (${reasons})` : ""}; set "project_id" in the credential file to a Google Cloud project with Gemini Code Assist enabled`,
  });
}
