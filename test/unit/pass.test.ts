/** The lockstep pass in the worker pool: segments taken in turn by the threads, joined in order. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diffFiles, PassControl, WorkerPool } from '../../src/compare/pool.js';
import { scratch } from '../helpers/tools.js';

const MiB = 1024 * 1024;
const SEGMENT = 32 * MiB;

describe('diffFiles', () => {
  const s = scratch('reprodiff-pass-');
  afterAll(s.cleanup);

  // 70 MiB: three segments, the last one short; runs of differing bytes inside segments, across both
  // segment boundaries and at the very end
  const size = 70 * MiB;
  const a = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) a[i] = (i / 4096) & 0xff;
  const b = a.slice();
  const runs: [number, number][] = [
    [5, 6],
    [1000, 1100],
    [2000, 2001],
    [3000, 3001],
    [4000, 4001],
    [SEGMENT - 10, SEGMENT + 10],
    [40 * MiB, 40 * MiB + 3],
    [2 * SEGMENT - 1, 2 * SEGMENT + 1],
    [size - 7, size],
  ];
  for (const [x, y] of runs) for (let i = x; i < y; i++) b[i] = a[i]! ^ 0x5a;
  const pa = join(s.dir, 'a.bin');
  const pb = join(s.dir, 'b.bin');
  writeFileSync(pa, a);
  writeFileSync(pb, b);
  const total = runs.reduce((n, [x, y]) => n + y - x, 0);

  it('finds every differing run exactly, joined across segment ends, with one thread or several', async () => {
    for (const jobs of [1, 2, 3]) {
      const pool = new WorkerPool(jobs);
      try {
        const r = await diffFiles(pool, pa, pb, size);
        const got: [number, number][] = [];
        for (let i = 0; i < r.ranges.length; i += 2) got.push([r.ranges[i]!, r.ranges[i + 1]!]);
        expect(got, `jobs ${jobs}`).toEqual(runs);
        expect(r.differing).toBe(total);
        expect(r.capped).toBe(false);
      } finally {
        await pool.close();
      }
    }
  });

  it('keeps every range of a segment of moved data (a range every few hundred bytes, in many chunks)', async () => {
    // 40 MiB: every 300th byte of the first 36 MiB differs (about 110,000 ranges in the first segment alone)
    const n = 40 * MiB;
    const x = new Uint8Array(n);
    const y = new Uint8Array(n);
    const want: number[] = [];
    // 31: SEGMENT - 1 is one of them
    for (let i = 31; i < 36 * MiB; i += 300) {
      y[i] = 1;
      if (i === SEGMENT - 1) y[i + 1] = 1; // the one at the segment's end runs on into the next
      want.push(i, i === SEGMENT - 1 ? i + 2 : i + 1);
    }
    const px = join(s.dir, 'x.bin');
    const py = join(s.dir, 'y.bin');
    writeFileSync(px, x);
    writeFileSync(py, y);
    for (const jobs of [1, 2]) {
      const pool = new WorkerPool(jobs);
      try {
        const r = await diffFiles(pool, px, py, n);
        // files under 4 GiB: 32 bits a number
        expect(r.ranges).toBeInstanceOf(Uint32Array);
        expect(r.ranges.length, `jobs ${jobs}`).toBe(want.length);
        expect(Array.from(r.ranges).every((v, i) => v === want[i]), `jobs ${jobs}`).toBe(true);
        expect(r.differing).toBe(want.length / 2 + 1);
      } finally {
        await pool.close();
      }
    }
  });

  it('signals the first difference, and finishes while all but the lead thread are held back', async () => {
    const pool = new WorkerPool(2);
    const found = new SharedArrayBuffer(4);
    const control = new PassControl();
    control.holdBack();
    try {
      const r = await diffFiles(pool, pa, pb, size, { found, control });
      expect(new Int32Array(found)[0]).toBe(1);
      expect(r.differing).toBe(total);
    } finally {
      control.release();
      await pool.close();
    }
  });

  it('maxRanges bounds the ranges of all segments together, not of each one', async () => {
    const pool = new WorkerPool(2);
    try {
      // the two runs across segment ends are listed once per segment: 11 ranges, 6 of them in the first segment;
      // a bound of 11 shared out per segment (4 each) would cap the first one
      const r = await diffFiles(pool, pa, pb, size, { maxRanges: runs.length + 2 });
      expect(r.capped).toBe(false);
      expect(r.ranges.length).toBe(2 * runs.length);
    } finally {
      await pool.close();
    }
  });

  it('past maxRanges, a segment merges new ranges into its last one and says the list is capped', async () => {
    const pool = new WorkerPool(2);
    try {
      const r = await diffFiles(pool, pa, pb, size, { maxRanges: 3 });
      expect(r.capped).toBe(true);
      expect(r.differing).toBe(total);
      // capped ranges over-cover: every differing run still lies inside one
      for (const [x, y] of runs) {
        let inside = false;
        for (let i = 0; i < r.ranges.length; i += 2) if (r.ranges[i]! <= x && y <= r.ranges[i + 1]!) inside = true;
        expect(inside, `${x}-${y}`).toBe(true);
      }
    } finally {
      await pool.close();
    }
  });
});

describe('diffFiles on moved data', () => {
  const s = scratch('reprodiff-pass-moved-');
  afterAll(s.cleanup);

  it('lists the exact runs between the bytes that happen to be equal, as a byte-by-byte scan does', async () => {
    // 3 MiB and 3 bytes of pseudo-random data; the second file holds it one byte later from 1 MiB + 1 on
    // (everything after a grown file moved), with a stretch of equal bytes and a few equal words inside the
    // moved part, and an odd length so that the last word is partial
    const size = 3 * MiB + 3;
    const a = new Uint8Array(size);
    let x = 12345;
    for (let i = 0; i < size; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      a[i] = x >>> 24;
    }
    const b = a.slice();
    for (let i = MiB + 1; i < size; i++) b[i] = a[i - 1]!;
    for (let i = 2 * MiB; i < 2 * MiB + 5000; i++) b[i] = a[i]!;
    for (const at of [2 * MiB + 9000, 2 * MiB + 9001, 2 * MiB + 12_000]) for (let i = at * 4; i < at * 4 + 4 && i < size; i++) b[i] = a[i]!;
    const expected: number[] = [];
    let open = -1;
    let total = 0;
    for (let i = 0; i < size; i++) {
      if (a[i] !== b[i] && open < 0) open = i;
      else if (a[i] === b[i] && open >= 0) {
        expected.push(open, i);
        total += i - open;
        open = -1;
      }
    }
    if (open >= 0) {
      expected.push(open, size);
      total += size - open;
    }
    // thousands of runs: about one byte in 256 of the moved data is equal by chance
    expect(expected.length / 2).toBeGreaterThan(5000);
    const pa = join(s.dir, 'a.bin');
    const pb = join(s.dir, 'b.bin');
    writeFileSync(pa, a);
    writeFileSync(pb, b);
    const pool = new WorkerPool(2);
    try {
      const r = await diffFiles(pool, pa, pb, size);
      expect(r.differing).toBe(total);
      expect([...r.ranges]).toEqual(expected);
    } finally {
      await pool.close();
    }
  });
});
