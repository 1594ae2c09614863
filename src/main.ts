#!/usr/bin/env bun
// The command line: parse argv, load the config, start the gateway, stop it cleanly on signals.
// The only module that reads process.env / argv or installs signal handlers.
import { checkSafety, ConfigError, describeKeys, loadConfig, splitBindAddress, type Config } from "./config.ts";
import { probeCredential } from "./health-check.ts";
import { createGateway, sealerFor } from "./gateway.ts";
import { publishKeyChange } from "./shared/keys.ts";
import { loginCommand } from "./cli/login.ts";
import { decryptFile, rekey } from "./cli/secrets.ts";
import { generateKey } from "./sealing.ts";
import { createLogger, flushLogs } from "./log.ts";
import { VERSION } from "./version.ts";
import { openDatabase } from "./store/database.ts";
import { BUDGET_PERIODS, createKey, listKeys, revokeKey, type BudgetPeriod } from "./store/keys.ts";
import { localUsage, USAGE_GROUPS, USAGE_METRICS, type UsageGroup } from "./store/usage.ts";
import { SharedBus } from "./shared/bus.ts";
import { SharedUsage } from "./shared/usage.ts";

const USAGE = `jellycli ${VERSION} — OpenAI-, Anthropic- and Gemini-compatible gateway over Google Code Assist accounts,
Gemini API keys and OpenAI-compatible servers

Usage:
  jellycli [serve] [--config FILE] [--<key> VALUE …]   start the gateway (the default)
  jellycli check [--config FILE] [--<key> VALUE …]     probe every credential once and print a table;
                                                      never writes the state file (a running gateway
                                                      owns it); exits 1 when an upstream has no
                                                      working credential
  jellycli login [--no-browser] [--project ID] [--timeout SECONDS]
                                                      add a Google account: sign in in a browser and the
                                                      credential is written to credentials_dir (nothing is
                                                      written if Google refuses the account); --no-browser
                                                      for servers: paste the code Google shows
  jellycli healthcheck                                exit 0 when the gateway on bind_address answers /health
                                                      (the container image's HEALTHCHECK; no curl needed)
  jellycli generate-key                               print a new encryption_key
  jellycli decrypt FILE                               print an encrypted credential file in plaintext
  jellycli rekey [--from OLD] --to NEW                re-encrypt every credential file and stored API key
                                                      (stop the gateway first; safe to run again if cut off)
  jellycli keys create --name N [--models a,b] [--rpm N] [--budget TOKENS --period day|month|total] [--expires 2027-01-01]
                                                      a client API key, printed once
  jellycli keys list | keys revoke ID                 client keys (a running gateway follows within 2 s)
  jellycli usage [--from DAY] [--to DAY] [--by day,key,model,credential]
                                                      usage statistics (written every usage_flush_interval_s)
  jellycli --version                                  print the version
  jellycli --help                                     this text

Options (every command): --config FILE, and every config key below. The same keys are read from
config.toml / config.json in the working directory (or --config FILE), then JELLYCLI_<KEY>
environment variables, then flags. config.example.toml lists them all.

Config keys:
`;

const COMMANDS = ["serve", "check", "keys", "usage", "login", "generate-key", "decrypt", "rekey", "healthcheck"] as const;

interface Arguments {
  command: (typeof COMMANDS)[number] | "version" | "help";
  configPath?: string;
  flags: Record<string, string>;
  /** `keys`: the action and its positional argument (create | list | revoke ID). */
  action?: string[];
  /** `keys create` options: name, models, rpm, expires. */
  options?: Record<string, string>;
}

const COMMAND_OPTIONS: Record<string, Set<string>> = {
  keys: new Set(["name", "models", "rpm", "budget", "period", "expires"]), usage: new Set(["from", "to", "by"]),
  login: new Set(["project", "timeout"]), rekey: new Set(["from", "to"]),
};
/** Options that take no value. */
const SWITCHES: Record<string, Set<string>> = { login: new Set(["no-browser"]) };
/** Commands that take positional arguments (keys revoke ID, decrypt FILE). */
const POSITIONAL = new Set(["keys", "decrypt"]);

export function parseArguments(argv: string[]): Arguments {
  const result: Arguments = { command: "serve", flags: {} };
  let sawCommand = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    if (argument === "--version" || argument === "-v" || argument === "version") return { ...result, command: "version" };
    if (argument === "--help" || argument === "-h" || argument === "help") return { ...result, command: "help" };
    // The subcommand may stand anywhere: `jellycli --config f.toml check` works like `jellycli check --config f.toml`.
    if ((COMMANDS as readonly string[]).includes(argument) && !sawCommand) {
      result.command = argument as Arguments["command"];
      sawCommand = true;
      continue;
    }
    if (POSITIONAL.has(result.command) && !argument.startsWith("--")) {
      (result.action ??= []).push(argument);
      continue;
    }
    if (!argument.startsWith("--")) throw new ConfigError(`unexpected argument "${argument}" (see --help)`);
    const [name, inline] = argument.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (SWITCHES[result.command]?.has(name)) {
      (result.options ??= {})[name] = inline ?? "true";
      continue;
    }
    const value = inline ?? argv[++index];
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    if (name === "config") result.configPath = value;
    else if (COMMAND_OPTIONS[result.command]?.has(name)) (result.options ??= {})[name] = value;
    else result.flags[name.replaceAll("-", "_")] = value;
  }
  return result;
}

async function main(): Promise<number> {
  const args = parseArguments(process.argv.slice(2));
  if (args.command === "version") {
    console.log(`jellycli ${VERSION}`);
    return 0;
  }
  if (args.command === "help") {
    console.log(USAGE + describeKeys());
    return 0;
  }
  if (args.command === "generate-key") {
    console.log(generateKey());
    return 0;
  }
  const { config, origin, warnings } = await loadConfig({ configPath: args.configPath, env: process.env, flags: args.flags });
  const log = createLogger(config.log_level);
  for (const warning of warnings) log.warn(warning);
  if (args.command === "check") return check(config);
  if (args.command === "keys") return keysCommand(config, args.action ?? [], args.options ?? {});
  if (args.command === "usage") return usageCommand(config, args.options ?? {});
  if (args.command === "decrypt") {
    if (args.action?.length !== 1) throw new ConfigError("decrypt needs one FILE (an encrypted credential file)");
    process.stdout.write(await decryptFile(args.action[0]!, sealerFor(config)));
    return 0;
  }
  if (args.command === "rekey") return rekeyCommand(config, args.options ?? {});
  if (args.command === "healthcheck") {
    const { hostname, port } = splitBindAddress(config.bind_address);
    // A gateway bound to every address answers on loopback too.
    const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname.includes(":") ? `[${hostname}]` : hostname;
    const ok = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(4_000) }).then((response) => response.ok, () => false);
    if (!ok) console.error(`jellycli: no healthy gateway at ${host}:${port}`);
    return ok ? 0 : 1;
  }
  if (args.command === "login") {
    const timeoutS = Number(args.options?.timeout ?? 300);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new ConfigError("--timeout must be a number of seconds");
    const lines = console[Symbol.asyncIterator]();
    return loginCommand(config, {
      noBrowser: args.options?.["no-browser"] === "true", project: args.options?.project, timeoutMs: timeoutS * 1000, sealer: sealerFor(config),
      openBrowser, readLine: async () => (await lines.next()).value as string | undefined,
      print: (text) => console.log(text), printError: (text) => console.error(text),
    });
  }
  checkSafety(config);
  const gateway = await createGateway(config, { log });
  const url = gateway.listen();
  // Always printed, whatever log_level says: people (and scripts) wait for this line.
  flushLogs();
  process.stderr.write(`jellycli ${VERSION} listening on ${url} (config: ${origin})\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: writing state and stopping`);
    await gateway.stop().catch((error: Error) => log.error("shutdown failed", { error: error.message }));
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  return -1; // keep running
}

/**
 * `jellycli check`: the first thing to run after dropping credential files in. It probes every
 * credential once and prints what it found, but never writes the state file: a running gateway
 * owns it. Exits 1 when some upstream has no credential that passed (refused, unreachable).
 */
async function check(config: Config): Promise<number> {
  const gateway = await createGateway(config, { log: createLogger("warn"), readOnlyState: true });
  const members = gateway.backends.flatMap((backend) => backend.pool.all().map((member) => ({ backend, member })));
  if (members.length === 0) {
    console.log(`No credentials: no files in ${config.credentials_dir}, no gemini_api_keys, no openai_upstreams.`);
    return 1;
  }
  const outcomes = await Promise.all(members.map(async ({ backend, member }) => ({ backend, ok: (await probeCredential(backend, member, Date.now)).kind === "probe_ok" })));
  const now = Date.now();
  const rows = gateway.backends.flatMap((backend) => backend.pool.reports(now).map((report) => [
    report.file, report.email ?? "", report.project ?? "", report.tier ?? "",
    report.status + (report.next_reset ? " (cooling)" : ""),
    [report.reason ?? (report.status === "suspected" ? report.last_error : ""), report.url].filter(Boolean).join(" "),
    report.next_reset ?? "",
  ]));
  console.log(formatTable(["FILE", "EMAIL", "PROJECT", "TIER", "STATE", "REASON", "NEXT RESET"], rows));
  const passed = outcomes.filter((outcome) => outcome.ok).length;
  const dead = gateway.backends.filter((backend) => backend.pool.all().length > 0 && !outcomes.some((outcome) => outcome.backend === backend && outcome.ok));
  console.log(`\n${passed} of ${outcomes.length} credentials passed.${dead.length > 0 ? ` No credential works for: ${dead.map((backend) => backend.name).join(", ")}.` : ""}`);
  return dead.length === 0 ? 0 : 1;
}

/** `jellycli keys create|list|revoke`: works beside a running gateway, which picks changes up within 2 s. */
async function keysCommand(config: Config, action: string[], options: Record<string, string>): Promise<number> {
  const db = openDatabase(config.database);
  // With Redis, every instance hears of the change (not only the one that shares this database).
  const share = async (id: string) => {
    if (config.redis_url) await publishKeyChange(config.redis_url, db, id).catch((error: Error) => console.error(`jellycli: the key changed here, but Redis could not be told (${error.message}); instances will see it when they resynchronise`));
  };
  try {
    switch (action[0]) {
      case "create": {
        if (!options.name) throw new ConfigError("keys create needs --name NAME");
        const rpm = options.rpm === undefined ? undefined : Number(options.rpm);
        if (rpm !== undefined && (!Number.isInteger(rpm) || rpm < 1)) throw new ConfigError("--rpm must be a whole number of requests per minute");
        const expiresAt = options.expires === undefined ? undefined : Date.parse(options.expires);
        if (expiresAt !== undefined && Number.isNaN(expiresAt)) throw new ConfigError("--expires must be a date, e.g. 2027-01-01");
        const models = options.models?.split(",").map((model) => model.trim()).filter(Boolean);
        const tokenBudget = options.budget === undefined ? undefined : Number(options.budget);
        if (tokenBudget !== undefined && (!Number.isInteger(tokenBudget) || tokenBudget < 1)) throw new ConfigError("--budget must be a whole number of tokens");
        const budgetPeriod = (options.period ?? "month") as BudgetPeriod;
        if (!BUDGET_PERIODS.includes(budgetPeriod)) throw new ConfigError(`--period must be one of: ${BUDGET_PERIODS.join(", ")}`);
        const { key, record } = createKey(db, { name: options.name, models, rpm, tokenBudget, budgetPeriod, expiresAt });
        await share(record.id);
        console.log(`Created ${record.id} (${record.name}). The key, shown only this once:\n\n  ${key}\n`);
        return 0;
      }
      case "list": {
        const rows = listKeys(db).map((record) => [
          record.id, record.name, `${record.prefix}…${record.last4}`, record.models?.join(",") ?? "all", record.rpm ? String(record.rpm) : "-",
          record.expires_at ? new Date(record.expires_at).toISOString().slice(0, 10) : "-",
          record.revoked_at ? "revoked" : record.disabled ? "disabled" : "active",
        ]);
        console.log(formatTable(["ID", "NAME", "KEY", "MODELS", "RPM", "EXPIRES", "STATE"], rows));
        return 0;
      }
      case "revoke": {
        if (!action[1]) throw new ConfigError("keys revoke needs the key's ID (see jellycli keys list)");
        if (!revokeKey(db, action[1])) {
          console.error(`jellycli: no active key ${action[1]}`);
          return 1;
        }
        await share(action[1]);
        console.log(`Revoked ${action[1]}; a running gateway refuses it within 2 s.`);
        return 0;
      }
      default:
        throw new ConfigError("keys needs an action: create --name NAME [--models a,b] [--rpm N] [--budget N --period day|month|total] [--expires DATE] | list | revoke ID");
    }
  } finally {
    db.close();
  }
}

/** `jellycli usage [--from DAY] [--to DAY] [--by day,key,model,credential]`: what was written so far (flushed every few seconds); every instance's with Redis. */
async function usageCommand(config: Config, options: Record<string, string>): Promise<number> {
  const today = new Date().toISOString().slice(0, 10);
  const from = options.from ?? `${today.slice(0, 8)}01`;
  const to = options.to ?? today;
  for (const [name, day] of [["from", from], ["to", to]] as const) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new ConfigError(`--${name} must be a day, e.g. ${today}`);
  }
  const groups = (options.by ?? "day").split(",").map((group) => group.trim()).filter(Boolean);
  const unknown = groups.filter((group) => !(USAGE_GROUPS as readonly string[]).includes(group));
  if (unknown.length > 0) throw new ConfigError(`--by takes ${USAGE_GROUPS.join(", ")} (not ${unknown.join(", ")})`);
  const db = openDatabase(config.database);
  const bus = config.redis_url ? new SharedBus(config.redis_url, createLogger("warn")) : undefined;
  try {
    await bus?.start();
    const source = bus ? new SharedUsage(bus, localUsage(db)) : localUsage(db);
    const rows = await source.report(from, to, groups as UsageGroup[]);
    const columns = [...groups, ...USAGE_METRICS];
    console.log(`Usage from ${from} to ${to} (UTC days):\n`);
    console.log(formatTable(columns.map((column) => column.toUpperCase()), rows.map((row) => columns.map((column) => String(row[column] ?? 0)))));
    return 0;
  } finally {
    bus?.stop();
    db.close();
  }
}

/** `jellycli rekey [--from OLD] --to NEW`; the keys may also come as JELLYCLI_REKEY_FROM / _TO (not in ps output). */
async function rekeyCommand(config: Config, options: Record<string, string>): Promise<number> {
  const to = options.to ?? process.env.JELLYCLI_REKEY_TO;
  const from = options.from ?? process.env.JELLYCLI_REKEY_FROM ?? config.encryption_key;
  if (!to) throw new ConfigError("rekey needs --to NEW_KEY (from jellycli generate-key); --from OLD_KEY opens what is encrypted now");
  const result = await rekey(config, from, to);
  console.log(`Re-encrypted ${result.files} credential file(s) and ${result.storedKeys} stored API key(s); ${result.current} file(s) already used the new key.`);
  console.log("Start jellycli with the new key now (encryption_key, JELLYCLI_ENCRYPTION_KEY or --encryption-key).");
  return 0;
}

/** Where a desktop is there to show it: xdg-open, open, start. False when none could be started. */
function openBrowser(url: string): boolean {
  const command = process.platform === "darwin" ? ["open", url]
    : process.platform === "win32" ? ["cmd", "/c", "start", "", url]
      : process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? ["xdg-open", url] : undefined;
  if (!command) return false;
  try {
    Bun.spawn(command, { stdout: "ignore", stderr: "ignore", stdin: "ignore" }).unref();
    return true;
  } catch {
    return false;
  }
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * Bun runs at most 256 fetches at once unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when the process
 * starts (setting it later has no effect), and every open stream holds one upstream fetch. So the
 * gateway replaces itself, once, with the same program and arguments and that variable set
 * (execve: same process id, no parent left behind, signals and exit codes untouched).
 */
const FETCH_CAPACITY = "65535";

function ensureFetchCapacity(): void {
  if (process.env.BUN_CONFIG_MAX_HTTP_REQUESTS || process.platform === "win32") return; // no execve on Windows
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string | undefined>) => never }).execve;
  if (!execve) return;
  // A compiled binary's argv[1] is its virtual path and its Bun flags are built in; run from source,
  // Bun's own flags (execArgv: --smol, --cpu-prof …) come along.
  const compiled = process.argv[1]?.startsWith("/$bunfs/") === true;
  const args = compiled ? process.argv.slice(2) : [...process.execArgv, ...process.argv.slice(1)];
  try {
    execve(process.execPath, [process.execPath, ...args], { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: FETCH_CAPACITY });
  } catch {
    // Not possible here: carry on with Bun's default of 256 concurrent upstream requests.
  }
}

if (import.meta.main) {
  ensureFetchCapacity();
  main().then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (error: Error) => {
      flushLogs();
      console.error(error instanceof ConfigError ? `jellycli: ${error.message}` : error);
      process.exit(error instanceof ConfigError ? 2 : 1);
    },
  );
}
