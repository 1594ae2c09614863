// Credentials added and removed while the gateway runs — by the admin API, by a login, or by
// another instance (shared/runtime-credentials.ts) — in one place: checked with the upstream
// before they are kept, written atomically (sealed with a key), joined to or taken out of their
// pool, and told to the other instances when the change was made here.
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ApiKeyBackend, type Backend } from "./backends.ts";
import { GatewayError } from "./hub.ts";
import { registerSecrets, type Logger } from "./log.ts";
import { addCredentialFile, apiKeyCredentials, moveCredentialAside, parseCredential, readCredentialText, writeFileAtomic, type Credential, type CredentialWatcher } from "./pool/credential.ts";
import type { Pool } from "./pool/pool.ts";
import type { Sealer } from "./sealing.ts";
import type { RuntimeCredentialSync } from "./shared/runtime-credentials.ts";
import { secretFingerprint } from "./store/database.ts";
import { addUpstreamKey, removeUpstreamKey } from "./store/keys.ts";
import type { Database } from "bun:sqlite";

export interface OperationsDeps {
  credentialsDir: string;
  backends: ReadonlyMap<string, Backend>;
  oauthPool: Pool<Credential>;
  watcher: CredentialWatcher;
  db: Database;
  sealer: Sealer;
  /** API keys from the configuration, by pool: those are removed there, not here. */
  configuredKeys: ReadonlyMap<string, readonly string[]>;
  log: Logger;
}

export class CredentialOperations {
  /** Set when Redis is configured: changes made here are told to the other instances. */
  shared: RuntimeCredentialSync | undefined;

  constructor(private readonly deps: OperationsDeps) {}

  /** An OAuth file from the admin API: checked with Google (token and Code Assist), then saved. */
  async addFile(fileName: string, content: unknown) {
    const parsed = parseCredential(fileName, join(this.deps.credentialsDir, fileName), JSON.stringify(content));
    if (typeof parsed === "string") throw GatewayError.invalidRequest(`The credential file is not usable: ${parsed}.`, "credential");
    if (this.deps.oauthPool.all().some((existing) => existing.fingerprint === parsed.fingerprint)) {
      throw new GatewayError({ status: 409, code: "conflict", message: "This account is already in the pool (the same refresh token)." });
    }
    let info;
    try {
      info = await this.deps.backends.get("codeassist")!.probe(parsed);
    } catch (error) {
      throw GatewayError.invalidRequest(`Google refused this credential: ${(error as Error).message}`, "credential");
    }
    if (!(await addCredentialFile(this.deps.credentialsDir, fileName, parsed.raw, this.deps.sealer))) {
      throw new GatewayError({ status: 409, code: "conflict", message: `${fileName} already exists in the credentials folder.` });
    }
    await this.fileWritten(fileName);
    return { id: fileName, ...info };
  }

  /** After a file was written here (an upload, a login): the pool takes it now, the others hear of it. */
  async fileWritten(fileName: string): Promise<void> {
    await this.deps.watcher.poll();
    const content = await readFile(join(this.deps.credentialsDir, fileName), "utf8").catch(() => undefined);
    if (content !== undefined) this.shared?.fileAdded(fileName, content);
  }

  /** An upstream API key: checked with a free model list, then kept in the database and the pool. */
  async addKey(poolName: string, apiKey: string) {
    const backend = this.apiKeyBackend(poolName);
    const [member] = apiKeyCredentials(poolName === "gemini_api" ? "gemini-api" : poolName, [apiKey]);
    if (backend.pool.all().some((existing) => existing.id === member!.id)) throw new GatewayError({ status: 409, code: "conflict", message: `This key is already in the ${poolName} pool.` });
    try {
      await backend.upstream.probe?.({ apiKey });
    } catch (error) {
      throw GatewayError.invalidRequest(`The upstream refused this key: ${(error as Error).message}`, "api_key");
    }
    this.joinKey(backend, apiKey);
    this.shared?.keyAdded(poolName, secretFingerprint(apiKey), this.deps.sealer.seal(apiKey));
    return { id: member!.id, pool: poolName };
  }

  /** No traffic from now on: a runtime key leaves pool and database; a file is moved aside. */
  async remove(id: string): Promise<void> {
    for (const backend of this.deps.backends.values()) {
      if (!(backend instanceof ApiKeyBackend)) continue;
      const member = backend.pool.all().find((candidate) => candidate.id === id);
      if (!member) continue;
      if ((this.deps.configuredKeys.get(backend.name) ?? []).some((key) => key.trim() === member.apiKey)) throw GatewayError.invalidRequest(`${id} is an API key from the configuration; remove it there.`);
      this.leaveKey(backend, member.apiKey);
      this.shared?.keyRemoved(backend.name, secretFingerprint(member.apiKey));
      return;
    }
    await moveCredentialAside(this.deps.credentialsDir, id);
    await this.deps.watcher.poll();
    this.shared?.fileRemoved(id);
  }

  // What another instance did, applied here without being told again.

  async applyFile(name: string, content: string): Promise<void> {
    if (!/^[\w.@+-]{1,100}\.json$/.test(name)) return;
    const path = join(this.deps.credentialsDir, name);
    const incoming = this.refreshTokenOf(content);
    if (incoming === undefined) return void this.deps.log.warn("a credential file from another instance cannot be read here (another encryption_key?)", { file: name });
    const here = await readCredentialText(path, this.deps.sealer).then(({ text }) => JSON.parse(text).refresh_token as string, () => undefined);
    if (here === incoming) return;
    await mkdir(this.deps.credentialsDir, { recursive: true });
    await writeFileAtomic(path, content, 0o600);
    await this.deps.watcher.poll();
  }

  async applyFileRemoval(name: string): Promise<void> {
    if (!/^[\w.@+-]{1,100}\.json$/.test(name)) return;
    if (!(await stat(join(this.deps.credentialsDir, name)).then(() => true, () => false))) return;
    await moveCredentialAside(this.deps.credentialsDir, name).catch(() => {});
    await this.deps.watcher.poll();
  }

  async applyKey(poolName: string, sealed: string): Promise<void> {
    const backend = this.deps.backends.get(poolName);
    if (!(backend instanceof ApiKeyBackend)) return;
    let apiKey: string;
    try {
      apiKey = this.deps.sealer.open(sealed);
    } catch {
      return void this.deps.log.warn("an API key from another instance cannot be read here (another encryption_key?)", { pool: poolName });
    }
    if (!backend.pool.all().some((member) => member.apiKey === apiKey)) this.joinKey(backend, apiKey);
  }

  async applyKeyRemoval(poolName: string, fingerprint: string): Promise<void> {
    const backend = this.deps.backends.get(poolName);
    if (!(backend instanceof ApiKeyBackend)) return;
    const member = backend.pool.all().find((candidate) => candidate.apiKey !== "" && secretFingerprint(candidate.apiKey) === fingerprint);
    if (member) this.leaveKey(backend, member.apiKey);
  }

  private apiKeyBackend(poolName: string): ApiKeyBackend {
    const backend = this.deps.backends.get(poolName);
    if (backend instanceof ApiKeyBackend) return backend;
    throw GatewayError.invalidRequest(poolName === "gemini_api"
      ? "This gateway has no gemini_api pool yet: set gemini_api_keys (one is enough) and restart, then add more here."
      : `No API-key pool named ${poolName}; the pools are ${[...this.deps.backends.keys()].filter((name) => name !== "codeassist").join(", ") || "none"}.`, "pool");
  }

  private joinKey(backend: ApiKeyBackend, apiKey: string): void {
    const [member] = apiKeyCredentials(backend.name === "gemini_api" ? "gemini-api" : backend.name, [apiKey]);
    registerSecrets([apiKey]);
    addUpstreamKey(this.deps.db, backend.name, apiKey, this.deps.sealer);
    backend.pool.replaceCredentials([...backend.pool.all().filter((existing) => existing.apiKey !== ""), member!]);
  }

  private leaveKey(backend: ApiKeyBackend, apiKey: string): void {
    removeUpstreamKey(this.deps.db, backend.name, apiKey);
    backend.pool.replaceCredentials(backend.pool.all().filter((candidate) => candidate.apiKey !== apiKey));
  }

  private refreshTokenOf(content: string): string | undefined {
    try {
      return JSON.parse(this.deps.sealer.open(content)).refresh_token;
    } catch {
      return undefined;
    }
  }
}
