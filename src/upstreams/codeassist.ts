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
  name?: string;
  isDefault?: boolean;
}

export interface LoadCodeAssistResponse {
  currentTier?: Tier | null;
  paidTier?: Tier | null;
  allowedTiers?: Tier[] | null;
  ineligibleTiers?: { reasonCode?: string; reasonMessage?: string; validationUrl?: string; validationLearnMoreUrl?: string }[] | null;
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
  async loadCodeAssist(accessToken: string, signal?: AbortSignal, project?: string): Promise<LoadCodeAssistResponse> {
    const call = { model: "", auth: { accessToken }, signal };
    const body = project ? { cloudaicompanionProject: project, metadata: { ...CLIENT_METADATA, duetProject: project } } : { metadata: CLIENT_METADATA };
    return this.transport.json<LoadCodeAssistResponse>(`${this.base}:loadCodeAssist`, this.init(call, body), "Code Assist loadCodeAssist");
  }

  /** The Code Assist project of the account behind `accessToken`, onboarding it when new. */
  async discoverProject(accessToken: string, signal?: AbortSignal): Promise<string> {
    return (await this.setUpAccount(accessToken, { signal })).project;
  }

  /**
   * Gemini CLI's setupUser (protocol §6.3): the account's project and tier, onboarding it when new.
   * `project` pins a Google Cloud project (`jellycli login --project`). Throws a needs_person
   * GatewayError when Google refuses the account (validation, ineligible tier, no project).
   */
  async setUpAccount(accessToken: string, options: { project?: string; signal?: AbortSignal } = {}): Promise<{ project: string; tier: string }> {
    const { project: pinned, signal } = options;
    const call = { model: "", auth: { accessToken }, signal };
    const loaded = await this.loadCodeAssist(accessToken, signal, pinned);

    if (loaded.currentTier) {
      const project = (typeof loaded.cloudaicompanionProject === "string" ? loaded.cloudaicompanionProject : loaded.cloudaicompanionProject?.id) ?? pinned;
      if (project) return { project, tier: loaded.paidTier?.id ?? loaded.currentTier.id ?? "standard-tier" };
      throw projectError(loaded, "the account is onboarded but Code Assist names no project for it");
    }
    const refusal = eligibilityError(loaded);
    if (refusal) throw refusal;

    const tier = loaded.allowedTiers?.find((candidate) => candidate.isDefault)?.id ?? "legacy-tier";
    // The free tier must be onboarded without a project (the server answers 412 otherwise).
    const onboardBody = tier === "free-tier" || !pinned
      ? { tierId: tier, metadata: CLIENT_METADATA }
      : { tierId: tier, cloudaicompanionProject: pinned, metadata: { ...CLIENT_METADATA, duetProject: pinned } };
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
    const project = operation.response?.cloudaicompanionProject?.id ?? pinned;
    if (project) return { project, tier };
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

/**
 * Why Google will not serve a new account (loadCodeAssist's ineligibleTiers), or undefined: it
 * wants the account verified first (with a link), or no tier is open to it — Code Assist now serves
 * licensed (Standard / Enterprise) accounts only and names the others ineligible.
 */
export function eligibilityError(loaded: LoadCodeAssistResponse): GatewayError | undefined {
  if (loaded.currentTier) return undefined;
  const validation = loaded.ineligibleTiers?.find((tier) => tier.reasonCode === "VALIDATION_REQUIRED" && tier.validationUrl);
  if (validation) {
    return new GatewayError({
      status: 403, reason: "VALIDATION_REQUIRED", kind: "needs_person", helpUrl: validation.validationUrl,
      message: `Google asks this account to verify itself before use: ${validation.validationUrl}`,
    });
  }
  const ineligible = loaded.ineligibleTiers ?? [];
  if (ineligible.length === 0 || loaded.allowedTiers?.some((tier) => tier.isDefault)) return undefined;
  const reasons = [...new Set(ineligible.map((tier) => tier.reasonMessage ?? tier.reasonCode).filter(Boolean))].join("; ");
  const help = ineligible.find((tier) => tier.validationLearnMoreUrl)?.validationLearnMoreUrl ?? INELIGIBLE_HELP_URL;
  return new GatewayError({
    status: 403, reason: "INELIGIBLE_TIER", kind: "needs_person", helpUrl: help,
    message: `Google does not serve Gemini Code Assist to this account${reasons ? ` (${reasons})` : ""}: it needs a Standard or Enterprise licence; use a Gemini API key instead`,
  });
}

/** Where Google explains who may use Code Assist (its Standard and Enterprise editions). */
const INELIGIBLE_HELP_URL = "https://developers.google.com/gemini-code-assist/docs/overview";

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
