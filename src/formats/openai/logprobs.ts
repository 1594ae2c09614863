// Gemini logprobsResult → OpenAI choice.logprobs.
import type { ChatLogprobs } from "./types.ts";

interface LogprobsCandidate {
  token?: string;
  logProbability?: number;
}

interface LogprobsResult {
  chosenCandidates?: LogprobsCandidate[];
  topCandidates?: { candidates?: LogprobsCandidate[] }[];
}

const encoder = new TextEncoder();
const entry = (candidate: LogprobsCandidate) => {
  const token = candidate.token ?? "";
  return { token, logprob: candidate.logProbability ?? 0, bytes: [...encoder.encode(token)] };
};

export function convertGeminiLogprobs(result: unknown): ChatLogprobs | null {
  const chosen = (result as LogprobsResult | undefined)?.chosenCandidates;
  if (!Array.isArray(chosen) || chosen.length === 0) return null;
  const top = (result as LogprobsResult).topCandidates ?? [];
  return {
    content: chosen.map((candidate, position) => ({
      ...entry(candidate),
      top_logprobs: (top[position]?.candidates ?? []).map(entry),
    })),
  };
}
