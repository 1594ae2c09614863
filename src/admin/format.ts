// Numbers and times for people: 1.2k, 3.4M, "in 3 min", "2 h ago". Pure, so bun test covers it.

export function compact(value: number): string {
  const sign = value < 0 ? "-" : "";
  const size = Math.abs(value);
  if (size < 1000) return `${sign}${Math.round(size * 100) / 100}`;
  for (const [limit, suffix] of [[1e6, "k"], [1e9, "M"], [1e12, "G"]] as const) {
    if (size < limit) {
      const scaled = size / (limit / 1000);
      return `${sign}${scaled < 10 ? scaled.toFixed(1).replace(/\.0$/, "") : Math.round(scaled)}${suffix}`;
    }
  }
  return `${sign}${(size / 1e12).toFixed(1)}T`;
}

export function percent(ratio: number): string {
  if (ratio === 0) return "0%";
  return ratio < 0.001 ? "<0.1%" : `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`;
}

/** "3 min", "2 h 5 min", "4 d 3 h": the two largest units. */
export function span(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const units: [number, string][] = [[86_400, "d"], [3_600, "h"], [60, "min"]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [size, name] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    } else if (parts.length > 0) break;
  }
  return parts.join(" ");
}

/** Relative to `now`: "in 3 min", "2 h ago", "just now"; "never" for nothing. */
export function relative(at: string | number | null | undefined, now: number): string {
  if (at === null || at === undefined) return "never";
  const time = typeof at === "number" ? at : Date.parse(at);
  if (Number.isNaN(time)) return "—";
  const delta = time - now;
  if (Math.abs(delta) < 5_000) return "just now";
  return delta > 0 ? `in ${span(delta)}` : `${span(-delta)} ago`;
}

/** A CSV cell: quoted when it holds a comma, quote or line break. */
export function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  return [columns.join(","), ...rows.map((row) => columns.map((column) => csvCell(row[column])).join(","))].join("\r\n") + "\r\n";
}
