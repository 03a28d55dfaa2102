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
});
