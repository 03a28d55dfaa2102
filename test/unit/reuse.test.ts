/** Reads into reused buffers, and the ISO 9660 record table: structures that replace one object per record. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../src/io/file.js';
import { BufferSource } from '../../src/io/source.js';
import { ReusedReads } from '../../src/io/reuse.js';
import { RecordTable } from '../../src/formats/iso9660/records.js';
import { Ranges } from '../../src/compare/intervals.js';
import { isReprodiffError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'reprodiff-reuse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 1 MiB where every 4-byte word holds its own offset: any misplaced read shows */
function wordFile(): { path: string; data: Uint8Array } {
  const data = new Uint8Array(1 << 20);
  const dv = new DataView(data.buffer);
  for (let i = 0; i < data.length; i += 4) dv.setUint32(i, i, true);
  const path = join(dir, 'words.bin');
  writeFileSync(path, data);
  return { path, data };
}

describe('ReusedReads', () => {
  const { path, data } = wordFile();

  it('windows return the bytes at the offsets asked for, in any order, including across window ends', () => {
    const src = new FileSource(path);
    const r = new ReusedReads(src);
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    for (let i = 0; i < 5000; i++) {
      // mostly near a few cursors (two interleaved trees), sometimes anywhere
      const at = i % 7 === 0 ? rnd(data.length - 300) : ((i % 2) * 500_000 + i * 37) % (data.length - 300);
      const len = 1 + rnd(255);
      expect(r.window(at, len)).toEqual(data.subarray(at, at + len));
    }
    src.close();
  });

  it('a window is overwritten by later reads; a slot only by reads into the same slot', () => {
    const src = new FileSource(path);
    const r = new ReusedReads(src);
    const first = r.window(0, 4);
    for (let i = 1; i <= 8; i++) r.window(i * 100_000, 4);
    expect(first).not.toEqual(data.subarray(0, 4));
    const outer = r.slot(0, 4096, 8192);
    const inner = r.slot(1, 500_000, 10_000);
    r.slot(1, 700_000, 5_000);
    expect(outer).toEqual(data.subarray(4096, 4096 + 8192));
    expect(inner).not.toEqual(data.subarray(500_000, 510_000));
    src.close();
  });

  it('reads past the end fail as truncated, naming the structure; in-memory sources hand out their own views', () => {
    const src = new FileSource(path);
    const r = new ReusedReads(src);
    let err: unknown;
    try {
      r.window(data.length - 2, 4, 'directory record');
    } catch (e) {
      err = e;
    }
    expect(isReprodiffError(err) && err.code).toBe('E_TRUNCATED');
    expect(String((err as Error).message) + JSON.stringify(err)).toContain('directory record');
    expect(() => r.slot(0, data.length, 1)).toThrow();
    src.close();
    const mem = new BufferSource('m', data);
    const m = new ReusedReads(mem);
    expect(m.window(8, 4).buffer).toBe(data.buffer);
  });
});

describe('RecordTable', () => {
  it('keeps rows and chains them across chunk boundaries, each chain in the order rows were added', () => {
    const t = new RecordTable<string>();
    const chains = [0, 1, 2].map(() => ({ first: -1, last: -1 }));
    const want: number[][] = [[], [], []];
    for (let i = 0; i < 40_000; i++) {
      const row = t.add(i % 2 ? 'joliet' : 'primary', i * 3_000_000_000, i % 256, i % 2 ? 'joliet' : 'dirent', 'rr', i === 33_333 ? [{ offset: 5, length: 6 }] : []);
      expect(row).toBe(i);
      t.append(chains[i % 3]!, { first: row, last: row });
      want[i % 3]!.push(row);
    }
    for (let c = 0; c < 3; c++) {
      const got: number[] = [];
      for (let r = chains[c]!.first; r >= 0; r = t.next(r)) got.push(r);
      expect(got).toEqual(want[c]);
    }
    expect(t.offset(39_999)).toBe(39_999 * 3_000_000_000);
    expect(t.length(300)).toBe(300 % 256);
    expect(t.kind(20_001)).toEqual({ volume: 'joliet', tag: 'joliet', rr: 'rr' });
    expect(t.kind(20_000)).toEqual({ volume: 'primary', tag: 'dirent', rr: 'rr' });
    expect(t.kind(20_000)).toBe(t.kind(2)); // one kind object per combination
    expect(t.continuations(33_333)).toEqual([{ offset: 5, length: 6 }]);
    expect(t.continuations(33_334)).toEqual([]);
  });

  it('appending chains joins them; an empty tail changes nothing', () => {
    const t = new RecordTable<number>();
    const a = { first: -1, last: -1 };
    t.append(a, { first: -1, last: -1 });
    expect(a).toEqual({ first: -1, last: -1 });
    const r0 = t.add(0, 0, 34, 'dirent', 'rr', []);
    const r1 = t.add(0, 34, 34, 'dirent.self', 'rr.self', []);
    const r2 = t.add(0, 68, 34, 'dirent.parent', 'rr.parent', []);
    const tail = { first: r1, last: r1 };
    t.append(tail, { first: r2, last: r2 });
    t.append(a, { first: r0, last: r0 });
    t.append(a, tail);
    const got: number[] = [];
    for (let r = a.first; r >= 0; r = t.next(r)) got.push(r);
    expect(got).toEqual([r0, r1, r2]);
    expect(a.last).toBe(r2);
  });
});

describe('Ranges from the lockstep pass', () => {
  it.each([['Float64Array', Float64Array], ['Uint32Array', Uint32Array]] as const)('merges a %s in place and keeps it', (_name, Kind) => {
    const pairs = Kind.from([0, 4, 4, 9, 20, 30, 25, 31, 40, 40, 50, 60, 0xfffffff0, 0xffffffff]);
    const r = new Ranges(pairs);
    // merged where it lies: the first numbers of the array are the merged ranges
    expect([...pairs.subarray(0, 4)]).toEqual([0, 9, 20, 31]);
    expect(r.overlaps(0xfffffff5, 0xfffffff6)).toBe(true);
    expect(r.count).toBe(4);
    expect([0, 1, 2, 3].map((i) => [r.start(i), r.end(i)])).toEqual([
      [0, 9],
      [20, 31],
      [50, 60],
      [0xfffffff0, 0xffffffff],
    ]);
    expect(r.total()).toBe(9 + 11 + 10 + 15);
  });
});
