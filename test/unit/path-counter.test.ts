import { describe, expect, it } from 'vitest';
import { PathCounter } from '../../src/util/path-counter.js';

describe('PathCounter', () => {
  it('counts each path as a Map would, through growth and colliding slots', () => {
    const c = new PathCounter();
    const m = new Map<string, number>();
    // 50,000 paths, each met one to three times, in an order that interleaves the repeats
    const paths: string[] = [];
    for (let i = 0; i < 50_000; i++) paths.push(`/d${i % 97}/f${i}`);
    const met = [...paths, ...paths.filter((_, i) => i % 3 === 0), ...paths.filter((_, i) => i % 7 === 0), '', '', 'é/名'];
    for (const p of met) {
      const want = m.get(p) ?? 0;
      m.set(p, want + 1);
      expect(c.count(p)).toBe(want);
    }
  });

  it('keeps keys instead of strings where it is given them, and counts the same through growth', () => {
    // the owner's rows: a key is a row, its path read back from there
    const rows: string[] = [];
    let readBack = 0;
    const c = new PathCounter((k) => {
      readBack++;
      return rows[k]!;
    }, 100);
    const m = new Map<string, number>();
    const met: string[] = [];
    for (let i = 0; i < 30_000; i++) met.push(`/d${i % 89}/f${i % 20_000}`);
    met.push('', '/x', '/x');
    for (const [i, p] of met.entries()) {
      const want = m.get(p) ?? 0;
      m.set(p, want + 1);
      // every third path without a key (a member that is not a row), the others keyed by their row
      const keyed = i % 3 !== 0;
      if (keyed) rows.push(p);
      expect(c.count(p, keyed ? rows.length - 1 : undefined)).toBe(want);
    }
    // a path is read back only when a probe meets its hash: the repeats, not every path
    expect(readBack).toBeLessThan(met.length);
  });
});
