/** Reading CSV in tests with a real CSV parser (strict: every row as wide as the header). */
import { parse } from "csv-parse/sync";

/** Parses CSV text into rows of cells. */
export function parseCsv(text: string): string[][] {
  return parse(text, { relax_column_count: false });
}

/** CSV text as objects keyed by the header row; a row of another width throws. */
export function csvObjects(text: string): Record<string, string>[] {
  return parse(text, { columns: true, relax_column_count: false });
}
