/**
 * CSV cells and lines (RFC 4180, `\n`-terminated). Written here rather than with an npm CSV
 * stringifier: the FOCUS export escapes what a request's four or five lines share once and joins
 * pre-escaped cells, which a record-at-a-time stringifier cannot do; the quoting rules
 * themselves are these few lines.
 */

/** A cell: text, a number, or empty. */
export type Cell = string | number | null;

const FORMULA = /^[=+\-@\t\r]/;
const NEEDS_CARE = /^[=+\-@\t\r]|[",\r\n]/;

/**
 * One cell as CSV text. Text starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`, so a
 * client-chosen value (an end user, a request id) cannot run as a spreadsheet formula; text
 * holding a comma, quote or line break is quoted.
 */
export function csvCell(cell: Cell): string {
  if (cell === null) return "";
  if (typeof cell === "number" || !NEEDS_CARE.test(cell)) return String(cell);
  const text = FORMULA.test(cell) ? `'${cell}` : cell;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV line of cells. */
export function csvLine(cells: readonly Cell[]): string {
  let line = "";
  for (let i = 0; i < cells.length; i++) line += (i > 0 ? "," : "") + csvCell(cells[i]);
  return line + "\n";
}
