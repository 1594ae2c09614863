// Credential files: jellycli's own format and Gemini CLI's oauth_creds.json, read from
// credentials_dir and written back (after a refresh) atomically, in the format they came in.
import { mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PLAINTEXT, SealError, type Sealer } from "../sealing.ts";

/** Gemini CLI's installed-app OAuth client; public by design (docs/codeassist-protocol.md §10.1). */
export const GEMINI_CLI_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";
export const GEMINI_CLI_CLIENT_SECRET = "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";

export type CredentialFormat = "jellycli" | "gemini-cli";

/** An API key (Gemini API or an OpenAI-compatible server) as a pool member. */
export interface ApiKeyCredential {
  /** `<pool>:<first 8 hex of SHA-256>`: stable across restarts, and not the key. */
  readonly id: string;
  readonly apiKey: string;
  readonly projectId?: undefined;
}

function fingerprintOf(secret: string): string {
  return new Bun.CryptoHasher("sha256").update(secret).digest("hex").slice(0, 12);
}

export function apiKeyCredentials(pool: string, keys: readonly string[]): ApiKeyCredential[] {
  const unique = [...new Set(keys.map((key) => key.trim()).filter(Boolean))];
  return unique.map((apiKey) => ({ id: `${pool}:${fingerprintOf(apiKey).slice(0, 8)}`, apiKey }));
}

export interface Credential {
  /** The file name, e.g. "alice.json": the key in creds_state.toml. */
  readonly id: string;
  readonly path: string;
  readonly format: CredentialFormat;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  readonly projectId?: string;
  /** First 12 hex of the refresh token's SHA-256: tells a new login in the same file apart. */
  readonly fingerprint: string;
  accessToken?: string;
  /** Epoch ms; undefined means unknown (refresh before use). */
  expiresAt?: number;
  /** The file's JSON as read, so fields we do not know survive a write-back. */
  raw: Record<string, unknown>;
}

export interface LoadResult {
  credentials: Credential[];
  problems: { file: string; problem: string }[];
  /** Encrypted files no key given opens: the gateway refuses to start rather than lose them. */
  locked: { file: string; problem: string }[];
  /** Usable files read in plaintext (encrypted in place when a key is set). */
  plaintext: string[];
}

/** A credential file's JSON text, opened when sealed; `sealed` tells which it was. Throws SealError. */
export async function readCredentialText(path: string, sealer: Sealer): Promise<{ text: string; sealed: boolean }> {
  const stored = await readFile(path, "utf8");
  const text = sealer.open(stored);
  return { text, sealed: text !== stored };
}

export async function loadCredentials(dir: string, sealer: Sealer = PLAINTEXT): Promise<LoadResult> {
  const result: LoadResult = { credentials: [], problems: [], locked: [], plaintext: [] };
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith(".json")).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return result;
    throw error;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const { text, sealed } = await readCredentialText(path, sealer);
      const parsed = parseCredential(name, path, text);
      if (typeof parsed === "string") result.problems.push({ file: name, problem: parsed });
      else result.credentials.push(parsed);
      if (!sealed && typeof parsed !== "string") result.plaintext.push(name);
    } catch (error) {
      if (error instanceof SealError) result.locked.push({ file: name, problem: error.message });
      else result.problems.push({ file: name, problem: `cannot read: ${(error as Error).message}` });
    }
  }
  return result;
}

/** Returns the credential, or a sentence saying what is wrong with the file (never its secrets). */
export function parseCredential(id: string, path: string, text: string): Credential | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return "not valid JSON";
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "not a JSON object";
  const file = raw as Record<string, unknown>;
  const refreshToken = file.refresh_token;
  if (typeof refreshToken !== "string" || refreshToken === "") return 'missing "refresh_token"';
  const accessToken = typeof file.access_token === "string" && file.access_token !== "" ? file.access_token : undefined;

  const isGeminiCli = "expiry_date" in file || (!("client_id" in file) && !("expiry" in file));
  if (isGeminiCli) {
    const expiry = file.expiry_date;
    if (expiry !== undefined && (typeof expiry !== "number" || !Number.isFinite(expiry))) {
      return '"expiry_date" must be a number (epoch milliseconds)';
    }
    return {
      id, path, raw: file, format: "gemini-cli", fingerprint: fingerprintOf(refreshToken),
      clientId: GEMINI_CLI_CLIENT_ID, clientSecret: GEMINI_CLI_CLIENT_SECRET,
      refreshToken, accessToken, expiresAt: expiry as number | undefined,
    };
  }

  for (const field of ["client_id", "client_secret"] as const) {
    if (typeof file[field] !== "string" || file[field] === "") return `missing "${field}"`;
  }
  let expiresAt: number | undefined;
  if (file.expiry !== undefined && file.expiry !== null) {
    expiresAt = typeof file.expiry === "string" ? Date.parse(file.expiry) : Number.NaN;
    if (Number.isNaN(expiresAt)) return '"expiry" must be an RFC 3339 date-time';
  }
  const projectId = typeof file.project_id === "string" && file.project_id !== "" ? file.project_id : undefined;
  return {
    id, path, raw: file, format: "jellycli", fingerprint: fingerprintOf(refreshToken),
    clientId: file.client_id as string, clientSecret: file.client_secret as string,
    refreshToken, accessToken, expiresAt, projectId,
  };
}

/** The account's email: written by `jellycli login`, else from the OAuth id_token (no network needed). */
export function emailOf(credential: Credential): string | undefined {
  if (typeof credential.raw.email === "string" && credential.raw.email !== "") return credential.raw.email;
  const token = credential.raw.id_token;
  if (typeof token !== "string") return undefined;
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
    return typeof payload.email === "string" ? payload.email : undefined;
  } catch {
    return undefined;
  }
}

export interface FreshToken {
  accessToken: string;
  expiresAt: number;
  /** Other token-response fields a Gemini CLI file keeps (scope, token_type, id_token). */
  extra: Record<string, unknown>;
}

/** The file's JSON after a refresh, in the file's own format, refresh_token kept. */
export function renderRefreshed(credential: Credential, token: FreshToken): Record<string, unknown> {
  if (credential.format === "gemini-cli") {
    return {
      ...credential.raw, ...token.extra,
      access_token: token.accessToken, refresh_token: credential.refreshToken, expiry_date: token.expiresAt,
    };
  }
  return {
    ...credential.raw,
    access_token: token.accessToken, refresh_token: credential.refreshToken,
    expiry: new Date(token.expiresAt).toISOString(),
  };
}

/**
 * Writes a refreshed token back, unless the file now holds another account (replaced while the
 * refresh was in flight): a person's new file always wins over our old token.
 */
export async function saveCredentialFile(credential: Credential, content: Record<string, unknown>, sealer: Sealer = PLAINTEXT): Promise<boolean> {
  const onDisk = await readCredentialText(credential.path, sealer).then(({ text }) => JSON.parse(text) as Record<string, unknown>, () => undefined);
  if (onDisk?.refresh_token !== credential.refreshToken) return false;
  await writeFileAtomic(credential.path, sealer.seal(`${JSON.stringify(content, null, 2)}\n`), 0o600);
  return true;
}

/** The JSON files of `dir`'s removed/ folder (credentials taken out of service), as paths relative to `dir`. */
export async function removedFiles(dir: string): Promise<string[]> {
  const names = await readdir(join(dir, "removed")).catch(() => [] as string[]);
  return names.filter((name) => name.endsWith(".json")).sort().map((name) => join("removed", name));
}

/** Plaintext files (relative to `dir`) sealed where they lie (atomically), once a key is set. */
export async function sealInPlace(dir: string, names: readonly string[], sealer: Sealer): Promise<void> {
  if (!sealer.enabled) return;
  for (const name of names) {
    const path = join(dir, name);
    const stored = await readFile(path, "utf8");
    if (!sealer.isSealed(stored)) await writeFileAtomic(path, sealer.seal(stored), 0o600);
  }
}

/**
 * Hot reload by polling: a file added, removed or replaced in the credentials directory is
 * noticed within one interval. Unchanged files keep their Credential objects (and tokens).
 */
export class CredentialWatcher {
  private seen = new Map<string, string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling = false;

  constructor(
    private readonly dir: string,
    private readonly onChange: (result: LoadResult) => void,
    private readonly sealer: Sealer = PLAINTEXT,
  ) {}

  /** Remembers what is on disk now, so only later changes count. */
  async prime(credentials: readonly Credential[]): Promise<void> {
    this.seen = await this.signatures();
    this.current = new Map(credentials.map((credential) => [credential.id, credential]));
  }

  private current = new Map<string, Credential>();

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const now = await this.signatures();
      const changed = [...now].filter(([name, signature]) => this.seen.get(name) !== signature).map(([name]) => name);
      const removed = [...this.seen.keys()].filter((name) => !now.has(name));
      if (changed.length === 0 && removed.length === 0) return;
      this.seen = now;
      const result: LoadResult = { credentials: [], problems: [], locked: [], plaintext: [] };
      for (const name of [...now.keys()].sort()) {
        const kept = this.current.get(name);
        if (kept && !changed.includes(name)) {
          result.credentials.push(kept);
          continue;
        }
        const path = join(this.dir, name);
        let text = "";
        try {
          const read = await readCredentialText(path, this.sealer);
          text = read.text;
          if (!read.sealed && this.sealer.enabled && typeof parseCredential(name, path, text) !== "string") {
            // Dropped in by hand: sealed now, and that rewrite is not a change to pick up again.
            await sealInPlace(this.dir, [name], this.sealer).catch(() => {});
            const info = await stat(path).catch(() => undefined);
            if (info) this.seen.set(name, `${info.mtimeMs}:${info.size}`);
          }
        } catch (error) {
          if (error instanceof SealError) {
            result.problems.push({ file: name, problem: error.message });
            continue;
          }
        }
        const parsed = parseCredential(name, path, text);
        if (typeof parsed === "string") result.problems.push({ file: name, problem: parsed });
        else result.credentials.push(parsed);
      }
      this.current = new Map(result.credentials.map((credential) => [credential.id, credential]));
      this.onChange(result);
    } finally {
      this.polling = false;
    }
  }

  private async signatures(): Promise<Map<string, string>> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const signatures = new Map<string, string>();
    for (const name of names.filter((entry) => entry.endsWith(".json"))) {
      const info = await stat(join(this.dir, name)).catch(() => undefined);
      if (info?.isFile()) signatures.set(name, `${info.mtimeMs}:${info.size}`);
    }
    return signatures;
  }
}

/** Temp file in the same directory, fsync, rename: a crash leaves the old file or the new one. */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await open(temporary, "w", mode);
  try {
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    // A full disk (or anything else) leaves neither a half-written file nor a stray temp file.
    await unlink(temporary).catch(() => {});
    throw error;
  }
}

/** A credential file added at run time (the admin API): written atomically, 0600; false if the name is taken. */
export async function addCredentialFile(dir: string, fileName: string, raw: Record<string, unknown>, sealer: Sealer = PLAINTEXT, replace = false): Promise<boolean> {
  const path = join(dir, fileName);
  if (!replace && await stat(path).then(() => true, () => false)) return false;
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path, sealer.seal(`${JSON.stringify(raw, null, 2)}\n`), 0o600);
  return true;
}

/** A credential taken out of service: moved to `removed/` (0700), never destroyed. */
export async function moveCredentialAside(dir: string, fileName: string, now = Date.now()): Promise<void> {
  const removed = join(dir, "removed");
  await mkdir(removed, { recursive: true, mode: 0o700 });
  await rename(join(dir, fileName), join(removed, `${now}-${fileName}`));
}

