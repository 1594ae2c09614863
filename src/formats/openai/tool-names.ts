// OpenAI tool names → names Gemini accepts (translation.md §2.5.1), and back. Gemini wants a
// leading letter or underscore and [a-zA-Z0-9_.:-]; we also cap at 64 like OpenAI. Collisions get
// _2, _3 … so two client tools never merge into one Gemini declaration.

const MAX_NAME_LENGTH = 64;

export class ToolNames {
  private readonly toGeminiNames = new Map<string, string>();
  private readonly toOpenAINames = new Map<string, string>();
  /** The next suffix to try per sanitised name, so 8,000 colliding names cost 8,000 steps, not 32 million. */
  private readonly nextSuffix = new Map<string, number>();

  /** `sanitize` makes a name the far side accepts; Gemini's rules by default. */
  constructor(private readonly sanitize: (name: string) => string = sanitizeToolName) {}

  /** The Gemini name for `original`, allocating one on first sight. */
  toGemini(original: string): string {
    const known = this.toGeminiNames.get(original);
    if (known !== undefined) return known;
    const base = this.sanitize(original);
    let candidate = base;
    let suffix = this.nextSuffix.get(base) ?? 2;
    while (this.toOpenAINames.has(candidate)) {
      const tail = `_${suffix++}`;
      candidate = base.slice(0, MAX_NAME_LENGTH - tail.length) + tail;
    }
    this.nextSuffix.set(base, suffix);
    this.toGeminiNames.set(original, candidate);
    this.toOpenAINames.set(candidate, original);
    return candidate;
  }

  /** The client's name for a name Gemini answered with; unknown names pass through. */
  toOpenAI(geminiName: string): string {
    const direct = this.toOpenAINames.get(geminiName);
    if (direct !== undefined) return direct;
    // Gemini's own error texts say `default_api:<name>`; undo that prefix if it ever leaks.
    const unprefixed = geminiName.replace(/^default_api[:.]/, "");
    return this.toOpenAINames.get(unprefixed) ?? geminiName;
  }

  /** Direction-neutral spellings for the reverse path (Gemini names out to an OpenAI server). */
  encode(original: string): string {
    return this.toGemini(original);
  }

  decode(farName: string): string {
    return this.toOpenAI(farName);
  }

  get size(): number {
    return this.toOpenAINames.size;
  }
}

/** OpenAI-compatible servers accept ^[a-zA-Z0-9_-]{1,64}$ (no "." or ":", which Gemini allows). */
export function sanitizeOpenAIToolName(name: string): string {
  return (name.replace(/[^a-zA-Z0-9_-]/g, "_") || "_").slice(0, MAX_NAME_LENGTH);
}

export function sanitizeToolName(name: string): string {
  let cleaned = name.replace(/[^a-zA-Z0-9_.:-]/g, "_");
  if (!/^[a-zA-Z_]/.test(cleaned)) cleaned = `_${cleaned}`;
  return cleaned.slice(0, MAX_NAME_LENGTH);
}
