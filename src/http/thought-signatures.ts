// Gemini 3 wants the thought signature of a function call back on the next turn; OpenAI clients
// only send back the tool-call id we issued. This remembers signature by id, bounded (LRU), in
// memory: a lost entry costs nothing worse than the bypass sentinel.

export class ThoughtSignatures {
  private readonly entries = new Map<string, string>();

  constructor(private readonly capacity = 10_000) {}

  remember(toolCallId: string, signature: string): void {
    this.entries.delete(toolCallId);
    this.entries.set(toolCallId, signature);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  recall(toolCallId: string): string | undefined {
    return this.entries.get(toolCallId);
  }

  /** Remembers every signature carried by tool calls in an outgoing chunk or message. */
  rememberFrom(toolCalls: readonly { id: string; extra_content?: { google: { thought_signature: string } } }[] | undefined): void {
    for (const call of toolCalls ?? []) {
      const signature = call.extra_content?.google.thought_signature;
      if (signature) this.remember(call.id, signature);
    }
  }
}

type CallPart = { functionCall?: { id?: string }; thoughtSignature?: string };
type Chunk = { candidates?: { content?: { parts?: CallPart[] } }[] };

/**
 * For clients that only send back a call's id (Anthropic without thinking blocks, Responses
 * without reasoning items): every function call gets its id here (Code Assist often sends none),
 * and its thought signature is remembered under that id.
 */
export function rememberCallSignatures(parts: CallPart[] | undefined, signatures: ThoughtSignatures, makeId: () => string): void {
  for (const part of parts ?? []) {
    if (!part.functionCall) continue;
    part.functionCall.id ||= makeId();
    if (part.thoughtSignature) signatures.remember(part.functionCall.id, part.thoughtSignature);
  }
}

export async function* rememberingCallSignatures<T extends Chunk>(chunks: AsyncIterable<T>, signatures: ThoughtSignatures, makeId: () => string): AsyncGenerator<T> {
  for await (const chunk of chunks) {
    rememberCallSignatures(chunk.candidates?.[0]?.content?.parts, signatures, makeId);
    yield chunk;
  }
}
