/** The fields an ISO 9660 entry makes when asked only for those over differing bytes. */
import { describe, expect, it } from 'vitest';
import { iso9660Format } from '../../src/formats/iso9660/index.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Span } from '../../src/model.js';
import { SAMPLES } from '../helpers/cli.js';

describe('ISO 9660 fieldsTouching', () => {
  for (const name of ['basic-a.iso', 'hybrid-a.iso']) {
    it(`${name}: the same fields, names and values as filtering all of them`, async () => {
      const src = new FileSource(`${SAMPLES}${name}`);
      try {
        const c = await iso9660Format.open(src, { limits: DEFAULT_LIMITS });
        let seed = 1;
        const touchedSet = new Set<number>();
        // 20,000 bytes of the image, chosen pseudo-randomly, "differ"
        for (let i = 0; i < 20000; i++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          touchedSet.add(seed % src.size);
        }
        const touchedSpans = (spans: Span[]): boolean => spans.some((s) => touched(s.offset, s.length));
        const touched = (offset: number, length: number): boolean => {
          for (let o = offset; o < offset + length; o++) if (touchedSet.has(o)) return true;
          return false;
        };
        let some = 0;
        for (const e of c.entries) {
          expect(e.fieldsTouching).toBeDefined();
          const all = e.fields;
          const want = all.filter((f) => touchedSpans(f.spans));
          expect(e.fieldsTouching!(touched)).toEqual(want);
          expect(e.fieldsTouching!(() => true)).toEqual(all);
          expect(e.fieldsTouching!(() => false)).toEqual([]);
          some += want.length;
        }
        expect(some).toBeGreaterThan(0);
      } finally {
        src.close();
      }
    });
  }
});
