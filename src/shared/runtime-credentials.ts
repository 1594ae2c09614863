// Credentials added or removed at run time, across instances: an OAuth file added through one
// instance's admin API or login appears in every instance's credentials folder (each hot-reloads
// it); an upstream API key added through one joins every instance's pool and database. Redis keeps
// them (hashes jellycli:credential_files, jellycli:upstream_keys) for instances that start later
// or were away. Contents travel as stored: sealed when encryption_key is set.
import { PREFIX, type SharedBus } from "./bus.ts";

const FILES = `${PREFIX}credential_files`;
const KEYS = `${PREFIX}upstream_keys`;

export interface RuntimeCredentialHandlers {
  /** A file another instance added: write it here unless it is already here. */
  writeFile(name: string, content: string): Promise<void>;
  /** A file another instance took out of service: set it aside here too. */
  removeFile(name: string): Promise<void>;
  /** An upstream key another instance added (sealed as stored). */
  addKey(pool: string, sealed: string): Promise<void>;
  removeKey(pool: string, fingerprint: string): Promise<void>;
}

export class RuntimeCredentialSync {
  constructor(private readonly bus: SharedBus, private readonly handlers: RuntimeCredentialHandlers) {
    bus.on("credential-file", (event) => void handlers.writeFile(String(event.name), String(event.content)));
    bus.on("credential-file-removed", (event) => void handlers.removeFile(String(event.name)));
    bus.on("upstream-key", (event) => void handlers.addKey(String(event.pool), String(event.sealed)));
    bus.on("upstream-key-removed", (event) => void handlers.removeKey(String(event.pool), String(event.fingerprint)));
    bus.onUp(() => this.resync());
  }

  fileAdded(name: string, content: string): void {
    void this.bus.run((redis) => redis.hset(FILES, name, content));
    this.bus.publish({ type: "credential-file", name, content });
  }

  fileRemoved(name: string): void {
    void this.bus.run((redis) => redis.hdel(FILES, name));
    this.bus.publish({ type: "credential-file-removed", name });
  }

  keyAdded(pool: string, fingerprint: string, sealed: string): void {
    void this.bus.run((redis) => redis.hset(KEYS, `${pool}\t${fingerprint}`, sealed));
    this.bus.publish({ type: "upstream-key", pool, sealed });
  }

  keyRemoved(pool: string, fingerprint: string): void {
    void this.bus.run((redis) => redis.hdel(KEYS, `${pool}\t${fingerprint}`));
    this.bus.publish({ type: "upstream-key-removed", pool, fingerprint });
  }

  /** What others added while this instance was away (or before it started). */
  private async resync(): Promise<void> {
    for (const [name, content] of Object.entries((await this.bus.run((redis) => redis.hgetall(FILES))) ?? {})) await this.handlers.writeFile(name, content);
    for (const [field, sealed] of Object.entries((await this.bus.run((redis) => redis.hgetall(KEYS))) ?? {})) await this.handlers.addKey(field.split("\t")[0]!, sealed);
  }
}
