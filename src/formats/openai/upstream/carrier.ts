// Reasoning round trip for OpenAI-compatible upstreams behind Gemini clients (translation.md §4.4):
// Gemini CLI drops thought parts from history but echoes a function call's thoughtSignature byte
// for byte, so the reasoning text rides home inside it. Stateless: no server cache needed.

const PREFIX = "gx1:";
const SENTINELS = new Set(["skip_thought_signature_validator", "context_engineering_is_the_way_to_go"]);

export function reasoningToSignature(reasoning: string): string {
  return Buffer.from(PREFIX + reasoning, "utf8").toString("base64url");
}

/** The reasoning a signature carries; "" for sentinels; undefined for signatures that are not ours. */
export function signatureToReasoning(signature: unknown): string | undefined {
  if (typeof signature !== "string" || signature === "") return undefined;
  if (SENTINELS.has(signature)) return "";
  const text = Buffer.from(signature, "base64url").toString("utf8");
  return text.startsWith(PREFIX) ? text.slice(PREFIX.length) : undefined;
}
