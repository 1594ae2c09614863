// PURE: a model variant (-search, -nothinking, -maxthinking) applied to a hub request, after
// whichever surface translated it — so every surface gets the same behaviour from one place.
import type { GenerateContentRequest } from "../hub.ts";
import { thinkingConfigFor } from "./openai/thinking.ts";

export interface VariantOptions {
  search: boolean;
  thinking?: "none" | "max";
}

/** `model` is the upstream model: thinking budgets and levels depend on it. */
export function applyVariant(request: GenerateContentRequest, variant: VariantOptions, model: string): GenerateContentRequest {
  if (!variant.search && !variant.thinking) return request;
  const next: GenerateContentRequest = { ...request };
  if (variant.search && !(request.tools ?? []).some((tool) => "googleSearch" in tool)) next.tools = [...(request.tools ?? []), { googleSearch: {} }];
  if (variant.thinking) {
    // The variant wins over the client's own thinking settings; whether thoughts are shown stays the client's choice.
    const { thinkingConfig: _replaced, ...generationConfig } = request.generationConfig ?? {};
    const thinkingConfig = thinkingConfigFor(model, variant.thinking, request.generationConfig?.thinkingConfig?.includeThoughts === true);
    // A model with no thinking table (an OpenAI-compatible upstream's) keeps what the client sent.
    if (thinkingConfig) next.generationConfig = { ...generationConfig, thinkingConfig };
  }
  return next;
}
