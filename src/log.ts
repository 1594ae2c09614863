// A small leveled logger writing one line per event to stderr, and `redact`, the one function that
// masks secrets in any text that leaves the process (log lines, error messages, records).

import { writeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * stderr, written in batches: every line of one turn of the event loop goes out in one write
 * (under load, one access line per request would otherwise be one write per request). Whatever
 * is pending is written synchronously when the process exits.
 */
export function batchedStderr(): (line: string) => void {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    process.stderr.write(text);
  };
  flushPending = () => {
    if (pending.length > 0) writeSync(2, pending.join(""));
    pending = [];
  };
  process.on("exit", flushPending);
  return (line) => {
    pending.push(line);
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
}

let stderrWriter: ((line: string) => void) | undefined;
let flushPending = () => {};

/** Writes what the batched logger still holds, now (before a last message, so the order holds). */
export function flushLogs(): void {
  flushPending();
}

export function createLogger(level: LogLevel, write: (line: string) => void = (stderrWriter ??= batchedStderr())): Logger {
  const emit = (at: LogLevel) => (message: string, fields?: LogFields) => {
    if (ORDER[at] < ORDER[level]) return;
    const suffix = fields ? Object.entries(fields).filter(([, value]) => value !== undefined).map(([key, value]) => ` ${key}=${format(value)}`).join("") : "";
    write(redact(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${message}${suffix}\n`));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function format(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.stack ?? value.message);
  if (typeof value === "string") return /^[\w.\-/:@…]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

// Secrets that slipped into a message, a stack or an upstream's error text: Google access tokens
// (ya29.…), refresh tokens (1//…), API keys (AIza…), OpenAI-style keys (sk-…), OAuth client
// secrets (GOCSPX-…), and every secret the configuration names (registerSecrets).
const KEY_SHAPES = /(?:\bya29\.|\b1\/\/|\bAIza|\bsk-|\bGOCSPX-)[\w.\-~+/=]{8,}/g;
const configured = new Set<string>();

/** Secrets from the configuration (passwords, API keys, client secrets): masked wherever text leaves the process. */
export function registerSecrets(secrets: Iterable<string | undefined>): void {
  for (const secret of secrets) if (secret && secret.length >= 6) configured.add(secret);
}

export function redact(text: string): string {
  let out = text.replace(KEY_SHAPES, (token) => mask(token));
  for (const secret of configured) if (out.includes(secret)) out = out.replaceAll(secret, mask(secret));
  return out;
}

/** First four and last four characters at most; short secrets are hidden entirely. */
export function mask(secret: string | undefined): string {
  if (!secret) return "";
  return secret.length <= 12 ? "…" : `${secret.slice(0, 4)}…${secret.slice(-4)}`;
}
