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
