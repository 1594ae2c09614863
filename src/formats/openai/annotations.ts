// Gemini grounding metadata (Google Search) → OpenAI url_citation annotations. Gemini counts
// segment offsets in UTF-8 bytes; OpenAI clients slice the content string, so we convert.
import type { UrlCitation } from "./types.ts";

interface GroundingMetadata {
  groundingChunks?: { web?: { uri?: string; title?: string } }[];
  groundingSupports?: { segment?: { startIndex?: number; endIndex?: number }; groundingChunkIndices?: number[] }[];
}

export function groundingToAnnotations(metadata: unknown, text: string): UrlCitation[] {
  if (typeof metadata !== "object" || metadata === null) return [];
  const { groundingChunks = [], groundingSupports = [] } = metadata as GroundingMetadata;
  const annotations: UrlCitation[] = [];
  const seen = new Set<string>();
  const add = (chunkIndex: number, start: number, end: number) => {
    const web = groundingChunks[chunkIndex]?.web;
    if (!web?.uri) return;
    const key = `${web.uri}|${start}|${end}`;
    if (seen.has(key)) return;
    seen.add(key);
    annotations.push({ type: "url_citation", url_citation: { url: web.uri, title: web.title ?? web.uri, start_index: start, end_index: end } });
  };
  const bytes = new TextEncoder().encode(text);
  for (const support of groundingSupports) {
    const start = charIndex(bytes, support.segment?.startIndex ?? 0);
    const end = charIndex(bytes, support.segment?.endIndex ?? 0);
    for (const chunkIndex of support.groundingChunkIndices ?? []) add(chunkIndex, start, end);
  }
  // Sources with no supported segment are still sources.
  groundingChunks.forEach((_, chunkIndex) => {
    if (!annotations.some((annotation) => annotation.url_citation.url === groundingChunks[chunkIndex]?.web?.uri)) add(chunkIndex, 0, 0);
  });
  return annotations;
}

function charIndex(bytes: Uint8Array, byteOffset: number): number {
  return new TextDecoder().decode(bytes.subarray(0, Math.max(0, Math.min(byteOffset, bytes.length)))).length;
}
