/** The JSON report: stable key order and two-space indentation, so the same inputs give the same bytes. */
import type { Report } from './types.js';

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
