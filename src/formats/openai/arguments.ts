// Tool-call `arguments` strings from history → Gemini `args` objects (translation.md §2.5.4).
// Clients replay whatever the model produced, including JSON cut off by a length limit; none of
// it may turn into a 500.

export function parseToolArguments(text: unknown): Record<string, unknown> {
  if (typeof text === "object" && text !== null && !Array.isArray(text)) return text as Record<string, unknown>;
  if (typeof text !== "string" || text.trim() === "") return {};
  const parsed = tryParse(text) ?? tryParse(repairJson(text));
  if (parsed === undefined) return { _raw_arguments: text };
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed };
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Closes what a truncation left open and quotes bareword values (`{"city": 北京}`). */
export function repairJson(text: string): string {
  const quoted = text.replace(/(:\s*)([^\s"'{}[\],\d\-][^,}\]]*?)(\s*)(?=[,}\]]|$)/gu, (match, colon: string, word: string, space: string) =>
    /^(true|false|null)$/.test(word) ? match : `${colon}${JSON.stringify(word.trim())}${space}`);
  const closers: string[] = [];
  let inString = false;
  for (let index = 0; index < quoted.length; index++) {
    const char = quoted[index];
    if (inString) {
      if (char === "\\") index++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{") closers.push("}");
    else if (char === "[") closers.push("]");
    else if (char === "}" || char === "]") closers.pop();
  }
  let repaired = quoted + (inString ? '"' : "");
  repaired = repaired.replace(/[,:]\s*$/, "");
  return repaired + closers.reverse().join("");
}
