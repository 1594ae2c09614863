// A conversation on its way to Gemini, whatever client format it came in: user turns, model turns
// with their function calls, and tool results. pairAndMerge gives every call its result right
// after it (Gemini pairs them positionally), turns orphans into text, merges adjacent turns of
// one role and never lets the history start with the model (translation.md §2.3).
import type { Content, Part } from "../hub.ts";
import type { ToolNames } from "./openai/tool-names.ts";

/** Gemini's documented bypass for a function call whose real signature is unknown. */
export const SIGNATURE_SENTINEL = "skip_thought_signature_validator";
const CONTINUATION_SENTINEL = "[Continuing from previous turn]";
const MISSING_RESULT = "Tool result missing (not executed or truncated by client).";

export type Entry =
  | { kind: "user"; parts: Part[] }
  | { kind: "model"; parts: Part[]; calls: { id: string; name: string }[] }
  /** `error`: the tool reported a failure (Anthropic's is_error); Gemini gets it as `error`. */
  | { kind: "tool"; id?: string; name?: string; output: string; media: Part[]; error?: boolean };

/** Every call gets its responses right after it, in call order; orphans become plain text. */
export function pairAndMerge(entries: Entry[], names: ToolNames): Content[] {
  // Results indexed by id, and (for results without one) by name, each in message order: pairing
  // stays linear however many calls a history holds.
  type Queue = { items: Extract<Entry, { kind: "tool" }>[]; head: number };
  const byId = new Map<string, Queue>();
  const byName = new Map<string, Queue>();
  for (const entry of entries) {
    if (entry.kind !== "tool") continue;
    const index = entry.id !== undefined ? byId : byName;
    const key = entry.id ?? entry.name;
    if (key === undefined) continue;
    const queue = index.get(key);
    if (queue) queue.items.push(entry);
    else index.set(key, { items: [entry], head: 0 });
  }
  const used = new Set<Entry>();
  const take = (queue: Queue | undefined) => {
    if (!queue) return undefined;
    while (queue.head < queue.items.length && used.has(queue.items[queue.head]!)) queue.head++;
    return queue.items[queue.head++];
  };
  const contents: Content[] = [];
  for (const entry of entries) {
    if (entry.kind === "user") append(contents, "user", entry.parts);
    else if (entry.kind === "model") {
      append(contents, "model", entry.parts);
      if (entry.calls.length === 0) continue;
      const responses: Part[] = [];
      const media: Part[] = [];
      for (const call of entry.calls) {
        const answer = take(byId.get(call.id)) ?? take(byName.get(call.name));
        if (answer) used.add(answer);
        responses.push({
          functionResponse: {
            name: names.toGemini(call.name),
            id: call.id,
            response: answer ? (answer.error ? { error: answer.output } : { output: answer.output }) : { error: MISSING_RESULT },
          },
        });
        if (answer) media.push(...answer.media);
      }
      append(contents, "user", [...responses, ...media]);
    } else if (!used.has(entry)) {
      used.add(entry);
      const label = entry.id ?? entry.name;
      append(contents, "user", [{ text: `[tool result${label ? ` ${label}` : ""}] ${entry.output}` }, ...entry.media]);
    }
  }
  if (contents[0]?.role === "model") contents.unshift({ role: "user", parts: [{ text: CONTINUATION_SENTINEL }] });
  return contents;
}

/** Adjacent turns with one role become one content: Gemini expects turns to alternate. */
function append(contents: Content[], role: "user" | "model", parts: Part[]): void {
  if (parts.length === 0) return;
  const last = contents[contents.length - 1];
  if (last?.role !== role) {
    contents.push({ role, parts: [...parts] });
    return;
  }
  // Function responses go before anything else in their user turn (Gemini pairs them positionally).
  const responses = parts.filter((part) => part.functionResponse);
  if (responses.length > 0 && role === "user") {
    const firstOther = last.parts.findIndex((part) => !part.functionResponse);
    if (firstOther >= 0) {
      last.parts.splice(firstOther, 0, ...responses);
      last.parts.push(...parts.filter((part) => !part.functionResponse));
      return;
    }
  }
  last.parts.push(...parts);
}
