/** Test helper: the evidence and unexplained ranges of an explanation account for every differing byte. */
import { expect } from 'vitest';
import type { ContentExplanation, ContentRange } from '../../src/classify/content.js';

function equalBytes(a: Uint8Array, as: number, b: Uint8Array, bs: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[as + i] !== b[bs + i]) return false;
  return true;
}

/**
 * Removing every evidence range and every unexplained range from both sides must leave the same bytes in the
 * same order: then nothing that differs was dropped. Also checks that each unexplained range has its
 * `content` evidence.
 */
export function expectCovers(a: Uint8Array, b: Uint8Array, e: ContentExplanation): void {
  const ranges: ContentRange[] = [...e.evidence.flatMap((ev) => ev.ranges), ...e.unexplained];
  ranges.sort((x, y) => x.aOffset - y.aOffset || x.bOffset - y.bOffset);
  let pa = 0, pb = 0;
  for (const r of ranges) {
    const ga = Math.max(0, r.aOffset - pa), gb = Math.max(0, r.bOffset - pb);
    expect(ga, `uncovered gap before A+${r.aOffset} / B+${r.bOffset}`).toBe(gb);
    expect(equalBytes(a, pa, b, pb, ga), `bytes between ranges differ before A+${r.aOffset}`).toBe(true);
    pa = Math.max(pa, r.aOffset + r.aLength);
    pb = Math.max(pb, r.bOffset + r.bLength);
  }
  expect(a.length - pa, 'uncovered tail').toBe(b.length - pb);
  expect(equalBytes(a, pa, b, pb, a.length - pa), 'tails differ').toBe(true);
  for (const u of e.unexplained) {
    expect(e.evidence.some((ev) => ev.kind === 'content' && ev.ranges.some((r) => r.aOffset === u.aOffset && r.bOffset === u.bOffset))).toBe(true);
  }
}
