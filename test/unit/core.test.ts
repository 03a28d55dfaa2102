/** Byte sources, date decoders and interval arithmetic. */
import { describe, expect, it } from 'vitest';
import { BufferSource, DecodedSource, ExtentSource, SliceSource } from '../../src/io/source.js';
import { Bytes, guidToString } from '../../src/io/bytes.js';
import { isReprodiffError } from '../../src/errors.js';
import { dosDateTime, isoDate17, isoDate7 } from '../../src/util/time.js';
import { intersect, normalize, subtract, total } from '../../src/compare/intervals.js';
import { longestIncreasing } from '../../src/compare/compare.js';

const data = Uint8Array.from({ length: 100 }, (_, i) => i);

describe('byte sources', () => {
  const root = new BufferSource('root.img', data);

  it('a slice maps reads and spans to its parent', () => {
    const s = new SliceSource('s', root, 10, 20);
    expect([...s.read(0, 3)]).toEqual([10, 11, 12]);
    expect(s.spans(5, 4)).toEqual([{ offset: 15, length: 4 }]);
  });

  it('an extent source reads across extents and splits spans per extent', () => {
    const e = new ExtentSource('e', root, [
      { offset: 90, length: 5 },
      { offset: 10, length: 5 },
    ]);
    expect(e.size).toBe(10);
    expect([...e.read(3, 4)]).toEqual([93, 94, 10, 11]);
    expect(e.spans(3, 4)).toEqual([
      { offset: 93, length: 2 },
      { offset: 10, length: 2 },
    ]);
  });

  it('an extent source fills a buffer across extents as its reads give them, and checks the range', () => {
    const e = new ExtentSource('e', root, [
      { offset: 90, length: 5 },
      { offset: 10, length: 5 },
      { offset: 40, length: 7 },
    ]);
    for (const [at, n] of [[0, 17], [3, 4], [4, 9], [12, 5], [16, 1]] as const) {
      const into = new Uint8Array(n);
      e.readInto(at, into);
      expect([...into], `${at}+${n}`).toEqual([...e.read(at, n)]);
    }
    expect(() => e.readInto(10, new Uint8Array(8), 'content')).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }));
  });

  it('a decoded stream names itself in its spans', () => {
    const d = new DecodedSource('d', data, 'root.img#gzip', [{ offset: 0, length: 10 }]);
    expect(d.spans(4, 2)).toEqual([{ stream: 'root.img#gzip', offset: 4, length: 2 }]);
  });

  it('reads past the end fail with E_TRUNCATED naming the source, the structure and the offset', () => {
    const s = new SliceSource('inner.img', root, 50, 50);
    try {
      s.read(40, 20, 'boot sector');
      expect.unreachable();
    } catch (e) {
      expect(isReprodiffError(e) && e.code).toBe('E_TRUNCATED');
      if (isReprodiffError(e)) expect(e.describe()).toBe('inner.img: boot sector at offset 40 (0x28): needs 20 bytes but the source holds 50 bytes');
    }
    expect(() => new SliceSource('bad', root, 90, 20)).toThrow(/holds 100 bytes/);
  });

  it('Bytes readers are bounds-checked and decode GUIDs in mixed-endian order', () => {
    const b = Bytes.at(root, 0, 16, 'header');
    expect(b.u32le(0)).toBe(0x03020100);
    expect(b.u32be(0)).toBe(0x00010203);
    expect(() => b.u32le(14)).toThrow(/outside the 16-byte structure/);
    expect(guidToString(b.bytes(0, 16))).toBe('03020100-0504-0706-0809-0a0b0c0d0e0f');
  });
});

describe('date decoders', () => {
  it('ISO 9660 17-byte dates with their GMT offset', () => {
    const d = new Uint8Array(17);
    d.set(new TextEncoder().encode('2026112206451725'));
    d[16] = 4; // +01:00 in 15-minute units
    expect(isoDate17(d)).toBe('2026-11-22T05:45:17.25Z');
    expect(isoDate17(new TextEncoder().encode('0000000000000000\0'))).toBeNull();
  });
  it('ISO 9660 7-byte recording dates', () => {
    expect(isoDate7(Uint8Array.from([126, 11, 22, 6, 45, 17, 0]))).toBe('2026-11-22T06:45:17Z');
    expect(isoDate7(Uint8Array.from([126, 11, 22, 6, 45, 17, 0xfc]))).toBe('2026-11-22T07:45:17Z'); // -01:00
  });
  it('DOS date and time', () => {
    const date = ((2026 - 1980) << 9) | (11 << 5) | 22;
    const time = (6 << 11) | (45 << 5) | (16 >> 1);
    expect(dosDateTime(date, time)).toBe('2026-11-22T06:45:16');
    expect(dosDateTime(date, time, 150)).toBe('2026-11-22T06:45:17.50');
  });
});

describe('intervals and order', () => {
  it('normalize, subtract, intersect', () => {
    const a = normalize([
      [10, 20],
      [15, 30],
      [40, 50],
    ]);
    expect(a).toEqual([
      [10, 30],
      [40, 50],
    ]);
    const b = normalize([
      [12, 14],
      [25, 45],
    ]);
    expect(subtract(a, b)).toEqual([
      [10, 12],
      [14, 25],
      [45, 50],
    ]);
    expect(intersect(a, b)).toEqual([
      [12, 14],
      [25, 30],
      [40, 45],
    ]);
    expect(total(a)).toBe(30);
  });
  it('the longest increasing run names what moved', () => {
    // part6 moved to the front: the other five keep their relative order
    const keep = longestIncreasing([1, 2, 3, 4, 5, 0]);
    expect([...keep].sort()).toEqual([0, 1, 2, 3, 4]);
  });
  it('longestIncreasing: equal values break a strict run, not a non-strict one', () => {
    expect(longestIncreasing([1, 2, 2, 2, 3]).size).toBe(3);
    expect(longestIncreasing([1, 2, 2, 2, 3], false).size).toBe(5);
    expect([...longestIncreasing([5, 5, 1, 5], false)].sort()).toEqual([0, 1, 3]);
  });
});
