/** Flat differing ranges, span runs and the folding of copies of one change. */
import { describe, expect, it } from 'vitest';
import { intersect, normalize, Ranges, subtract, total, type Interval } from '../../src/compare/intervals.js';
import { Folder, MAX_COPIES, sameChangeKey, SpanRuns } from '../../src/compare/fold.js';
import { MAX_LISTED, spanRuns, summarizeDerived, valueRange } from '../../src/compare/summary.js';
import type { CompareResult, RawFinding } from '../../src/compare/types.js';
import { MAX_UNKNOWN_FINDINGS, unknownFindings } from '../../src/compare/unknown.js';
import { Bytes } from '../../src/io/bytes.js';
import { BufferSource } from '../../src/io/source.js';
import { isoFromMs } from '../../src/util/time.js';

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

describe('Ranges', () => {
  it('merges touching pairs and agrees with the Interval[] functions on random lists', () => {
    const r = rng(7);
    for (let round = 0; round < 200; round++) {
      const pairs: number[] = [];
      let at = 0;
      for (let i = 0; i < 30; i++) {
        at += Math.floor(r() * 20);
        const len = Math.floor(r() * 10);
        pairs.push(at, at + len);
        at += len;
      }
      const ivs: Interval[] = [];
      for (let i = 0; i < pairs.length; i += 2) ivs.push([pairs[i]!, pairs[i + 1]!]);
      const diff = normalize(ivs);
      const ranges = new Ranges(pairs);
      expect(ranges.count).toBe(diff.length);
      expect(ranges.total()).toBe(total(diff));
      const other: Interval[] = [];
      for (let i = 0; i < 10; i++) {
        const s = Math.floor(r() * at);
        other.push([s, s + Math.floor(r() * 40)]);
      }
      const o = normalize(other);
      expect(ranges.minus(o)).toEqual(subtract(diff, o));
      const inside = intersect(diff, o);
      // a cover that holds every differing byte in o, then one that misses one of them
      expect(ranges.coveredWithin(o, o)).toBe(inside.length ? true : undefined);
      expect(ranges.coveredWithin(o, normalize(diff))).toBe(inside.length ? true : undefined);
      if (inside.length) {
        const [s, e] = inside[Math.floor(r() * inside.length)]!;
        const b = s + Math.floor(r() * (e - s));
        expect(ranges.coveredWithin(o, subtract(o, [[b, b + 1]]))).toBe(false);
      }
      expect(ranges.totalWithin(o)).toBe(total(intersect(diff, o)));
      for (let i = 0; i < 20; i++) {
        const s = Math.floor(r() * at);
        const e = s + 1 + Math.floor(r() * 5);
        expect(ranges.overlaps(s, e)).toBe(intersect(diff, [[s, e]]).length > 0);
      }
    }
  });

  it('refuses pairs out of order', () => {
    expect(() => new Ranges([10, 20, 5, 8])).toThrow(/order/);
  });
});

describe('SpanRuns', () => {
  it('joins spans across equal bytes but never across a differing byte it was not given', () => {
    const diff = new Ranges([10, 12, 20, 22, 30, 32]);
    const runs = new SpanRuns(diff);
    runs.add([{ side: 'a', offset: 10, length: 2 }]);
    runs.add([{ side: 'a', offset: 20, length: 2 }]); // 12..20 holds no differing byte: joined
    runs.add([{ side: 'a', offset: 40, length: 2 }]); // 30..32 differs and is not this span's: a new run
    runs.add([{ side: 'b', offset: 10, length: 2 }]);
    expect(runs.spans).toEqual([
      { side: 'a', offset: 10, length: 12 },
      { side: 'a', offset: 40, length: 2 },
      { side: 'b', offset: 10, length: 2 },
    ]);
    // the runs claim exactly the differing bytes the spans claimed
    const claimed = normalize(runs.spans.filter((s) => s.side === 'a').map((s) => [s.offset, s.offset + s.length] as Interval));
    expect(diff.totalWithin(claimed)).toBe(4);
  });

  it('keeps interleaved copies (a record and its Joliet twin far away) in a few runs', () => {
    const pairs: number[] = [];
    for (let i = 0; i < 100; i++) pairs.push(1000 + i * 50, 1000 + i * 50 + 7);
    pairs.push(50000, 50001); // another change between the two runs
    for (let i = 0; i < 100; i++) pairs.push(90000 + i * 50, 90000 + i * 50 + 7);
    const runs = new SpanRuns(new Ranges(pairs));
    for (let i = 0; i < 100; i++) {
      runs.add([{ side: 'a', offset: 1000 + i * 50, length: 7 }]);
      runs.add([{ side: 'a', offset: 90000 + i * 50, length: 7 }]);
      runs.add([{ side: 'a', stream: 's', offset: i * 7, length: 7 }]);
    }
    expect(runs.spans).toEqual([
      { side: 'a', offset: 1000, length: 99 * 50 + 7 },
      { side: 'a', offset: 90000, length: 99 * 50 + 7 },
      { side: 'a', stream: 's', offset: 0, length: 700 },
    ]);
  });
});

describe('Folder', () => {
  const scope = { path: '/' };
  const time = (entry: string, a: string, b: string, offset: number) => ({
    root: true,
    field: 'rr.tf.modify',
    kind: 'timestamp' as const,
    a,
    b,
    format: 'iso9660',
    path: entry,
    entry,
    scope,
    spans: [{ side: 'a' as const, offset, length: 7 }],
  });

  it("groups entries' times of one container whatever their values, and a container's own times by value", () => {
    expect(sameChangeKey(time('/x', '2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z', 0))).toBe(sameChangeKey(time('/y', '2020-02-02T00:00:00Z', '2022-01-01T00:00:00Z', 0)));
    const vol = (a: string) => ({ ...time('/', a, '2021-01-01T00:00:00Z', 0), entry: undefined, field: 'pvd.creation_date' });
    expect(sameChangeKey(vol('2020-01-01T00:00:00Z'))).not.toBe(sameChangeKey(vol('2020-01-02T00:00:00Z')));
    expect(sameChangeKey({ ...time('/x', 'a', 'b', 0), root: false })).toBeUndefined();
    expect(sameChangeKey({ ...time('/x', 'a', 'b', 0), kind: 'content' })).toBeUndefined();
  });

  it('keeps the first MAX_COPIES + 1 of a group and folds the rest into runs with the value range', () => {
    const folder = new Folder(new Ranges([]));
    let kept = 0;
    for (let i = 0; i < MAX_COPIES + 51; i++) {
      if (folder.offer(time(`/f${i}`, isoFromMs(i * 1000)!, isoFromMs(1e9 + i * 1000)!, i * 100))) kept++;
    }
    expect(kept).toBe(MAX_COPIES + 1);
    const [g] = [...folder.folded.values()];
    expect(g!.count).toBe(50);
    expect(g!.entries).toBe(50);
    expect(g!.min[0]).toBe(isoFromMs((MAX_COPIES + 1) * 1000));
    expect(g!.max[0]).toBe(isoFromMs((MAX_COPIES + 50) * 1000));
    expect(g!.runs.spans).toEqual([{ side: 'a', offset: (MAX_COPIES + 1) * 100, length: 49 * 100 + 7 }]);
  });
});

describe('integer readers', () => {
  it('read the same values as a DataView, at every alignment', () => {
    const r = rng(3);
    const data = Uint8Array.from({ length: 64 }, () => Math.floor(r() * 256));
    const b = new Bytes(data, new BufferSource('x', data), 0, 'test');
    const dv = new DataView(data.buffer);
    for (let off = 0; off + 4 <= data.length; off++) {
      expect(b.u8(off)).toBe(dv.getUint8(off));
      expect(b.u16le(off)).toBe(dv.getUint16(off, true));
      expect(b.u16be(off)).toBe(dv.getUint16(off, false));
      expect(b.u32le(off)).toBe(dv.getUint32(off, true));
      expect(b.u32be(off)).toBe(dv.getUint32(off, false));
      expect(b.i32le(off)).toBe(dv.getInt32(off, true));
    }
    expect(() => b.u32le(61)).toThrow(/outside/);
  });

  it('time strings are the same from the cache and without it', () => {
    for (const ms of [0, 1, 999, 1_700_000_000_123, -1, -62167219200000, 253402300799999, 253402300800000, -62167219200001]) {
      for (const digits of [0, 2, 3]) {
        const once = isoFromMs(ms, digits);
        expect(isoFromMs(ms, digits)).toBe(once);
        expect(once).toMatch(digits ? new RegExp(`\\.\\d{${digits}}Z$`) : /:\d\dZ$/);
      }
    }
    expect(isoFromMs(1_700_000_000_123, 2)).toBe('2023-11-14T22:13:20.12Z');
    expect(isoFromMs(-1, 3)).toBe('1969-12-31T23:59:59.999Z');
  });
});

describe('summaries of derived findings', () => {
  const scope = { path: '/', format: 'squashfs', findings: [], moved: new Set<string>() };
  const root: RawFinding = { path: '/f0', format: 'squashfs', field: null, kind: 'content', root: true, causes: [], a: null, b: null, spans: [], scope };
  const moved = (i: number, offset: number): RawFinding => ({
    path: `/f${String(i).padStart(4, '0')}`,
    format: 'squashfs',
    field: 'squashfs.inode.blocks_start',
    kind: 'layout',
    root: false,
    causes: [root],
    a: 1000 + i,
    b: 900 + i * 10,
    spans: [{ side: 'a', offset, length: 4 }, { side: 'b', offset, length: 4 }],
    scope,
    entry: `/f${i}`,
  });

  it('lists the first MAX_LISTED of a group, folds the rest into runs, and points their dependants at the summary', () => {
    // every field differs; between two fields lie equal bytes, except once, where another change lies
    const pairs: number[] = [];
    for (let i = 0; i < 100; i++) {
      pairs.push(i * 16, i * 16 + 4);
      if (i === 70) pairs.push(i * 16 + 8, i * 16 + 9);
    }
    const diff = new Ranges(pairs);
    const list = [...Array(100).keys()].map((i) => moved(i, i * 16));
    const follower: RawFinding = { ...moved(0, 5000), field: 'squashfs.super.bytes_used', causes: [list[99]!] };
    const all = [root, ...list.slice().reverse(), follower];
    summarizeDerived(all, diff);
    expect(all.filter((f) => f.field === 'squashfs.inode.blocks_start').map((f) => f.path).sort()).toEqual(list.slice(0, MAX_LISTED).map((f) => f.path));
    const summary = all.find((f) => f.folded)!;
    expect(summary.folded).toEqual({ findings: 100 - MAX_LISTED, entries: 100 - MAX_LISTED, bytes: (100 - MAX_LISTED) * 4 });
    expect(summary.field).toBe(`squashfs.inode.blocks_start (and ${100 - MAX_LISTED - 1} more)`);
    expect(summary.causes).toEqual([root]);
    expect(summary.a).toEqual({ type: 'range', lo: String(1000 + MAX_LISTED), hi: '1099' });
    // two runs per side: the differing byte at 70 * 16 + 8 is nobody's here, so no run takes it in
    const start = MAX_LISTED * 16;
    expect(summary.spans.filter((s) => s.side === 'a')).toEqual([
      { side: 'a', offset: start, length: 70 * 16 + 4 - start },
      { side: 'a', offset: 71 * 16, length: 28 * 16 + 4 },
    ]);
    expect(follower.causes).toEqual([summary]);
    // a group of MAX_LISTED + 1 is listed whole: a summary stands for two or more
    const few = [root, ...[...Array(MAX_LISTED + 1).keys()].map((i) => moved(i, i * 16))];
    summarizeDerived(few, diff);
    expect(few.some((f) => f.folded)).toBe(false);
  });

  it('merges spans of one decoded stream whatever lies between, and never spans of another side or stream', () => {
    const diff = new Ranges([0, 1]);
    const runs = spanRuns(
      [
        { side: 'b', offset: 0, length: 1 },
        { side: 'a', stream: 's', offset: 100, length: 2 },
        { side: 'a', stream: 's', offset: 0, length: 2 },
        { side: 'a', stream: 't', offset: 50, length: 2 },
        { side: 'a', offset: 0, length: 1 },
      ],
      diff,
    );
    expect(runs).toEqual([
      { side: 'a', offset: 0, length: 1 },
      { side: 'a', stream: 's', offset: 0, length: 102 },
      { side: 'a', stream: 't', offset: 50, length: 2 },
      { side: 'b', offset: 0, length: 1 },
    ]);
    expect(valueRange([9, 10, null, 100])).toEqual({ type: 'range', lo: '9', hi: '100' });
    expect(valueRange([null, null])).toBeNull();
  });
});

describe('unknown findings', () => {
  it('lists the first MAX_UNKNOWN_FINDINGS groups, and one more stands for the rest in a bounded number of spans', () => {
    // 300 unexplained runs of 3 bytes, 100 bytes apart; between two of them an explained differing byte
    const runs: Interval[] = [];
    const pairs: number[] = [];
    for (let i = 0; i < 300; i++) {
      runs.push([i * 100, i * 100 + 3]);
      pairs.push(i * 100, i * 100 + 3, i * 100 + 50, i * 100 + 51);
    }
    const data = new Uint8Array(30_000);
    const res = { sizeA: data.length, sizeB: data.length, diff: new Ranges(pairs), sourceA: new BufferSource('a', data), sourceB: new BufferSource('b', data), viewsA: [], viewsB: [] };
    const out = unknownFindings(res as unknown as CompareResult, runs);
    expect(out.length).toBe(MAX_UNKNOWN_FINDINGS + 1);
    expect(out[0]!.spans).toEqual([{ side: 'a', offset: 0, length: 3 }, { side: 'b', offset: 0, length: 3 }]);
    const rest = out[MAX_UNKNOWN_FINDINGS]!;
    expect(rest.folded).toEqual({ findings: 300 - MAX_UNKNOWN_FINDINGS, bytes: (300 - MAX_UNKNOWN_FINDINGS) * 3 });
    expect(rest.spans.filter((s) => s.side === 'a').length).toBeLessThanOrEqual(64);
    // its spans take in the explained bytes between the runs; what it claims are the runs themselves
    expect(rest.claims).toEqual(runs.slice(MAX_UNKNOWN_FINDINGS));
    const first = rest.spans.find((s) => s.side === 'a')!;
    expect(first.offset).toBe(MAX_UNKNOWN_FINDINGS * 100);
  });
});
