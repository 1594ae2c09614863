// Secrets at rest: credential files and the database's stored upstream keys are sealed with
// AES-256-GCM when an encryption_key is set. The envelope is versioned and names the key it was
// made with (a key id derived from the key, never the key), so a wrong key is told apart from a
// damaged file, and `jellycli rekey` can tell which files are already done.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const VERSION = 1;
const ALGORITHM = "A256GCM";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What a sealed secret looks like on disk (a credential file's whole content, or a database value). */
export interface SealedEnvelope {
  jellycli_sealed: typeof VERSION;
  alg: typeof ALGORITHM;
  /** Which key sealed it: the first 16 hex of SHA-256 over a label and the key. */
  kid: string;
  iv: string;
  /** Ciphertext followed by the 16-byte GCM tag, base64url. */
  data: string;
}

export class SealError extends Error {
  override name = "SealError";
}

/** A new random key, as `jellycli generate-key` prints it: 32 bytes, base64url. */
export function generateKey(): string {
  return randomBytes(32).toString("base64url");
}

/** 32 bytes from base64 or base64url text; anything else is refused with what is expected. */
export function parseKey(text: string): Buffer {
  const trimmed = text.trim();
  const bytes = /^[A-Za-z0-9_-]{43}={0,1}$/.test(trimmed) ? Buffer.from(trimmed, "base64url")
    : /^[A-Za-z0-9+/]{43}={0,1}$/.test(trimmed) ? Buffer.from(trimmed, "base64") : undefined;
  if (!bytes || bytes.length !== 32) throw new SealError("encryption_key must be 32 bytes in base64 (run `jellycli generate-key` for one)");
  return bytes;
}

export function keyIdOf(key: Buffer): string {
  return createHash("sha256").update("jellycli key id\0").update(key).digest("hex").slice(0, 16);
}

/** The envelope in `text`, if `text` is one (a plaintext credential file or key is not). */
export function envelopeOf(text: string): SealedEnvelope | undefined {
  if (!text.includes('"jellycli_sealed"')) return undefined;
  try {
    const value = JSON.parse(text) as Partial<SealedEnvelope>;
    const ok = typeof value === "object" && value !== null && value.jellycli_sealed !== undefined
      && typeof value.kid === "string" && typeof value.iv === "string" && typeof value.data === "string";
    return ok ? value as SealedEnvelope : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Seals with one key and opens with any it knows (rekey knows two). Without a key, text passes
 * through unchanged and a sealed envelope cannot be opened.
 */
export class Sealer {
  private readonly keys = new Map<string, Buffer>();
  /** The key new secrets are sealed with; undefined: stored in plaintext. */
  readonly keyId: string | undefined;

  constructor(current?: string, ...others: string[]) {
    for (const text of [current, ...others]) {
      if (text === undefined) continue;
      const key = parseKey(text);
      this.keys.set(keyIdOf(key), key);
    }
    this.keyId = current === undefined ? undefined : keyIdOf(parseKey(current));
  }

  get enabled(): boolean {
    return this.keyId !== undefined;
  }

  isSealed(text: string): boolean {
    return envelopeOf(text) !== undefined;
  }

  /** Sealed with the current key (kept as it is without one). */
  seal(plaintext: string): string {
    if (this.keyId === undefined) return plaintext;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys.get(this.keyId)!, iv);
    cipher.setAAD(aadOf(this.keyId));
    const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    const envelope: SealedEnvelope = { jellycli_sealed: VERSION, alg: ALGORITHM, kid: this.keyId, iv: iv.toString("base64url"), data: data.toString("base64url") };
    return `${JSON.stringify(envelope, null, 2)}\n`;
  }

  /** The plaintext: `text` itself when it is not sealed; throws SealError when no known key opens it. */
  open(text: string): string {
    const envelope = envelopeOf(text);
    if (!envelope) return text;
    if (envelope.jellycli_sealed !== VERSION || envelope.alg !== ALGORITHM) {
      throw new SealError(`sealed in a format this version does not know (version ${String(envelope.jellycli_sealed)}, ${String(envelope.alg)})`);
    }
    const key = this.keys.get(envelope.kid);
    if (!key) {
      throw new SealError(this.keys.size === 0
        ? `encrypted (key id ${envelope.kid}) and no encryption_key is set`
        : `encrypted with another key (key id ${envelope.kid}; the encryption_key given has id ${[...this.keys.keys()].join(" / ")})`);
    }
    const data = Buffer.from(envelope.data, "base64url");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(envelope.iv, "base64url"));
      decipher.setAAD(aadOf(envelope.kid));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new SealError(`encrypted with key id ${envelope.kid} but does not decrypt: the file was altered or damaged`);
    }
  }

  /** Whether `text` is already sealed with the current key (rekey skips those). */
  isCurrent(text: string): boolean {
    const envelope = envelopeOf(text);
    return this.keyId === undefined ? envelope === undefined : envelope?.kid === this.keyId;
  }
}

/** The version and key id are authenticated too: an envelope cannot be relabelled. */
function aadOf(keyId: string): Buffer {
  return Buffer.from(`jellycli_sealed:${VERSION}:${ALGORITHM}:${keyId}`);
}

/** No key: what every caller uses when the configuration sets none. */
export const PLAINTEXT = new Sealer();
