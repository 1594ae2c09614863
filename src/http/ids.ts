// Ids we hand to clients (tool-call ids, message and response ids): random base62, the alphabet
// OpenAI's and Anthropic's own ids use. Not secrets: 24 characters make collisions moot.
import { randomBytes } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function randomBase62(length: number): string {
  return Array.from(randomBytes(length), (byte) => BASE62[byte % 62]).join("");
}
