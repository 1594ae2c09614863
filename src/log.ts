// A small leveled logger writing one line per event to stderr. Secrets never reach it whole:
// callers pass them through mask().

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
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

// Google access tokens (ya29.…) and refresh tokens (1//…) that slipped into a message or a stack.
const TOKEN_PATTERN = /\b(ya29\.|1\/\/)[\w.\-~+/=]{8,}/g;

export function redact(text: string): string {
  return text.replace(TOKEN_PATTERN, (token) => mask(token));
}

/** First four and last four characters at most; short secrets are hidden entirely. */
export function mask(secret: string | undefined): string {
  if (!secret) return "";
  return secret.length <= 12 ? "…" : `${secret.slice(0, 4)}…${secret.slice(-4)}`;
}
