import { printLine } from "../platform/runtime.ts";

/**
 * Prints rows as a table with a header, columns padded to their widest cell (numbers to the
 * right), or as JSON with `--json` for scripts.
 */
export function printTable(rows: Record<string, string | number | boolean>[], json: boolean): void {
  if (json) {
    printLine(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number | boolean) => String(v);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: (string | number | boolean)[]) =>
    vals.map((v, i) => (typeof v === "number" ? cell(v).padStart(width[i]) : cell(v).padEnd(width[i]))).join("  ").trimEnd();
  printLine(line(cols));
  for (const r of rows) printLine(line(cols.map((c) => r[c])));
}
