import { InvalidParameterError } from "./errors.ts";

/** Java properties text (`key=value` or `key: value` lines, # and ! comments), as broker files and GET/UPDATE_BROKER_CONFIG carry it. */
export function parseProperties(text: string, source = "properties"): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#") || t.startsWith("!")) return;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(t);
    if (!m) throw new InvalidParameterError(`${source}:${i + 1}: expected key=value, got "${t.slice(0, 60)}"`);
    out[m[1]] = m[2];
  });
  return out;
}

/** The key a properties line sets, or undefined for a comment, a blank or a malformed line. */
export function propertyKey(line: string): string | undefined {
  const t = line.trim();
  if (t.startsWith("#") || t.startsWith("!")) return undefined;
  return /^([^=:\s]+)\s*[=:]/.exec(t)?.[1];
}
