/**
 * The GitHub Actions job summary ($GITHUB_STEP_SUMMARY): the Markdown report with a larger budget. GitHub
 * drops a step's whole summary above 1 MiB, so it is kept under 1,000,000 UTF-8 bytes.
 */
import type { Report } from './types.js';
import { renderMarkdown } from './markdown.js';

export const GITHUB_SUMMARY_LIMIT_BYTES = 1_000_000;

export function renderGithubSummary(report: Report): string {
  return renderMarkdown(report, {
    maxLength: GITHUB_SUMMARY_LIMIT_BYTES,
    unit: 'utf8',
    title: 'reprodiff: reproducibility check',
    maxDetailChars: 4_000,
  });
}
