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

/**
 * Closes what a truncation left open and quotes bareword values (`{"city": 北京}`). One pass over
 * the text, string-aware, no backtracking: its cost is linear in the input, whatever the input.
 */
export function repairJson(text: string): string {
  const out: string[] = [];
  const closers: string[] = [];
  let inString = false;
  let afterColon = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (inString) {
      out.push(char);
      if (char === "\\" && index + 1 < text.length) out.push(text[++index]!);
      else if (char === '"') inString = false;
      continue;
    }
    if (afterColon && !/\s/.test(char) && !BAREWORD_STOP.has(char) && !/[\d-]/.test(char)) {
      let end = index;
      while (end < text.length && !VALUE_END.has(text[end]!)) end++;
      const word = text.slice(index, end);
      const trimmed = word.trimEnd();
      out.push(/^(true|false|null)$/.test(trimmed) ? word : `${JSON.stringify(trimmed)}${word.slice(trimmed.length)}`);
      index = end - 1;
      afterColon = false;
      continue;
    }
    if (!/\s/.test(char)) afterColon = char === ":";
    if (char === '"') inString = true;
    else if (char === "{") closers.push("}");
    else if (char === "[") closers.push("]");
    else if (char === "}" || char === "]") closers.pop();
    out.push(char);
  }
  let repaired = out.join("") + (inString ? '"' : "");
  const trimmed = repaired.trimEnd();
  if (trimmed.endsWith(",") || trimmed.endsWith(":")) repaired = trimmed.slice(0, -1);
  return repaired + closers.reverse().join("");
}

/** A bareword cannot start with these; it ends at the first of VALUE_END. */
const BAREWORD_STOP = new Set(['"', "'", "{", "}", "[", "]", ","]);
const VALUE_END = new Set([",", "}", "]"]);
