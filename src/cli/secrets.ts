// `jellycli generate-key`, `jellycli decrypt FILE` and `jellycli rekey --from OLD --to NEW`: the
// person's side of encryption at rest (src/sealing.ts). Rekey checks everything before it changes
// anything, and replaces each file atomically, so an interrupted run leaves every file readable
// with one of the two keys and running it again finishes the job.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, type Config } from "../config.ts";
import { parseCredential, removedFiles, writeFileAtomic } from "../pool/credential.ts";
import { SealError, Sealer } from "../sealing.ts";
import { openDatabase } from "../store/database.ts";
import { lockedUpstreamKeys, resealUpstreamKeys } from "../store/keys.ts";

/** One credential, opened: what `jellycli decrypt FILE` prints. */
export async function decryptFile(path: string, sealer: Sealer): Promise<string> {
  try {
    return sealer.open(await readFile(path, "utf8"));
  } catch (error) {
    if (error instanceof SealError) throw new ConfigError(`${path}: ${error.message}`);
    throw new ConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

export interface RekeyResult {
  /** Files re-encrypted (or encrypted for the first time) now. */
  files: number;
  /** Files already under the new key (a second run after an interruption). */
  current: number;
  storedKeys: number;
}

export interface RekeyOptions {
  /** Called after each file is replaced; tests stand in a crash here. */
  afterFile?: (path: string) => void;
}

/**
 * Every credential file (credentials_dir and its removed/ folder) and every stored upstream key
 * sealed with `toKey`. `fromKey` opens what was sealed before; plaintext credentials are sealed
 * too. Nothing is written unless everything opens with one of the two keys.
 */
export async function rekey(config: Pick<Config, "credentials_dir" | "database">, fromKey: string | undefined, toKey: string, options: RekeyOptions = {}): Promise<RekeyResult> {
  let sealer: Sealer;
  try {
    sealer = new Sealer(toKey, ...(fromKey === undefined ? [] : [fromKey]));
  } catch (error) {
    throw new ConfigError(`--to / --from: ${(error as Error).message}`);
  }
  const names = [
    ...(await readdir(config.credentials_dir).catch(() => [] as string[])).filter((name) => name.endsWith(".json")).sort(),
    ...await removedFiles(config.credentials_dir),
  ];
  const pending: { path: string; plaintext: string }[] = [];
  const unreadable: string[] = [];
  let current = 0;
  for (const name of names) {
    const path = join(config.credentials_dir, name);
    const stored = await readFile(path, "utf8");
    if (sealer.isCurrent(stored)) {
      current++;
      continue;
    }
    try {
      const plaintext = sealer.open(stored);
      // A plaintext file that is no credential is not ours to touch.
      if (plaintext === stored && typeof parseCredential(name, path, plaintext) === "string") continue;
      pending.push({ path, plaintext });
    } catch (error) {
      unreadable.push(`  ${path}: ${(error as Error).message}`);
    }
  }
  const db = openDatabase(config.database);
  try {
    unreadable.push(...lockedUpstreamKeys(db, sealer).map((id) => `  ${config.database}: stored API key ${id}`));
    if (unreadable.length > 0) {
      throw new ConfigError(["nothing was changed: these secrets open with neither key:", ...unreadable].join("\n"));
    }
    for (const { path, plaintext } of pending) {
      await writeFileAtomic(path, sealer.seal(plaintext), 0o600);
      options.afterFile?.(path);
    }
    return { files: pending.length, current, storedKeys: resealUpstreamKeys(db, sealer) };
  } finally {
    db.close();
  }
}
