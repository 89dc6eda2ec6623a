/**
 * Fixed-width text tables for human output. Column widths are declared up front rather than measured, so
 * a table can be printed one row at a time while a long run is still going.
 */

export interface Column {
  header: string;
  width: number;
  align?: 'left' | 'right';
}

export function formatRow(columns: readonly Column[], cells: readonly string[]): string {
  return columns
    .map((column, i) => {
      const cell = cells[i] ?? '';
      const width = Math.max(column.width, column.header.length);
      return column.align === 'left' ? cell.padEnd(width) : cell.padStart(width);
    })
    .join('  ')
    .trimEnd();
}

export function formatHeader(columns: readonly Column[]): string {
  return formatRow(
    columns,
    columns.map((column) => column.header),
  );
}

/** Four decimals: enough to see a change in the third, which is where these metrics move. */
export function fixed(value: number, digits = 4): string {
  return Number.isFinite(value) ? value.toFixed(digits) : String(value);
}
