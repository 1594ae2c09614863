import type { UsageMetadata } from "../../hub.ts";
import type { Usage } from "./types.ts";

/** Gemini usageMetadata → OpenAI usage (translation.md §3.4): thinking counts as completion. */
export function convertGeminiUsageToOpenAI(metadata: UsageMetadata | undefined): Usage {
  const prompt = (metadata?.promptTokenCount ?? 0) + (metadata?.toolUsePromptTokenCount ?? 0);
  const thoughts = metadata?.thoughtsTokenCount ?? 0;
  const completion = (metadata?.candidatesTokenCount ?? 0) + thoughts;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: metadata?.totalTokenCount ?? prompt + completion,
  };
  if (metadata?.cachedContentTokenCount !== undefined) usage.prompt_tokens_details = { cached_tokens: metadata.cachedContentTokenCount };
  if (metadata?.thoughtsTokenCount !== undefined) usage.completion_tokens_details = { reasoning_tokens: thoughts };
  return usage;
}
