// A local token estimate for upstreams that cannot count (OpenAI-compatible servers), with Gemini
// CLI's own heuristic (translation.md §5.5): ASCII ¼ token a character, other characters 1.5,
// an image 3000, a PDF 25800, anything else a quarter of its JSON length.
import type { GenerateContentRequest, Part } from "../hub.ts";

export function estimateTokens(request: Pick<GenerateContentRequest, "contents" | "systemInstruction" | "tools">): number {
  let total = 0;
  const parts: Part[] = [...(request.systemInstruction?.parts ?? []), ...(request.contents ?? []).flatMap((content) => content.parts ?? [])];
  for (const part of parts) {
    if (typeof part.text === "string") total += textTokens(part.text);
    else if (part.inlineData || part.fileData) {
      const mime = part.inlineData?.mimeType ?? part.fileData?.mimeType ?? "";
      total += mime.startsWith("image/") ? 3000 : mime === "application/pdf" ? 25800 : JSON.stringify(part).length / 4;
    } else total += JSON.stringify(part).length / 4;
  }
  if (request.tools) total += JSON.stringify(request.tools).length / 4;
  return Math.ceil(total);
}

function textTokens(text: string): number {
  let tokens = 0;
  for (const char of text) tokens += char.charCodeAt(0) < 128 ? 0.25 : 1.5;
  return tokens;
}
